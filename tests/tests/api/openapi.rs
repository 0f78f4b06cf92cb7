//! The checked-in contract is what the code generates. Regenerate with `make openapi`.

#[test]
fn openapi_yaml_is_in_sync_with_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let checked_in = std::fs::read_to_string(&path).expect("openapi.yaml at the repository root");
    let generated = gongyou_api::openapi::yaml().unwrap();
    assert!(
        checked_in == generated,
        "openapi.yaml differs from what the code generates: run `make openapi` and commit the result"
    );
}

#[test]
fn every_operation_documents_its_responses_and_tag() {
    let doc = gongyou_api::openapi::openapi();
    let json = serde_json::to_value(&doc).unwrap();
    assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = json["paths"].as_object().unwrap();
    for expected in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            // Generated clients name their methods after these: each must be unique.
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    operation_ids.insert(id.to_owned()),
                    "operationId {id} of {method} {path} is used twice"
                );
            }
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
            assert!(op["operationId"].is_string(), "{method} {path}");
        }
    }
}

/// Every `$ref` points at a schema the document defines (a schema named only by a query
/// parameter is not collected by utoipa on its own: generators then fail on the dangling
/// reference).
#[test]
fn every_reference_resolves() {
    let doc = serde_json::to_value(gongyou_api::openapi::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    fn walk(value: &serde_json::Value, refs: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", serde_json::Value::String(target)) => refs.push(target.clone()),
                        _ => walk(value, refs),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    walk(&doc, &mut refs);
    assert!(refs.len() > 50, "{} references", refs.len());
    let dangling: Vec<&String> = refs
        .iter()
        .filter(|r| {
            r.strip_prefix("#/components/schemas/")
                .is_none_or(|name| !schemas.contains_key(name))
        })
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}
