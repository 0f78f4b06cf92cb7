//! Which methods each path serves, from the OpenAPI document itself (so it cannot drift from
//! the routes): a request whose path is served but not with its method is answered 405 with
//! `Allow` (HTTP's rule), not 404 (ADR 013).

use actix_web::dev::ResourceDef;

/// Path templates, how specific each is (its literal segments), and the methods it serves.
pub struct AllowedMethods(Vec<(ResourceDef, usize, Vec<&'static str>)>);

impl AllowedMethods {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, served)| served.then_some(m))
                .collect();
                let literal = path
                    .split('/')
                    .filter(|segment| !segment.starts_with('{'))
                    .count();
                (ResourceDef::new(path.as_str()), literal, methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods served at `path`, sorted; empty when the path is not served at all. As in
    /// OpenAPI, a concrete path is governed by the most specific template matching it:
    /// `/stations/nearby` by itself, not by `/stations/{id}`.
    pub fn at(&self, path: &str) -> Vec<&'static str> {
        let matching: Vec<_> = self
            .0
            .iter()
            .filter(|(def, ..)| def.is_match(path))
            .collect();
        let Some(best) = matching.iter().map(|(_, literal, _)| *literal).max() else {
            return Vec::new();
        };
        let mut methods: Vec<&'static str> = matching
            .into_iter()
            .filter(|(_, literal, _)| *literal == best)
            .flat_map(|(.., methods)| methods.iter().copied())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// The 405 for `method` at `path`, when the contract serves the path but not the method
    /// (even where the router would hand the request to a broader template).
    pub fn refusal(&self, path: &str, method: &str) -> Option<actix_web::HttpResponse> {
        let methods = self.at(path);
        if methods.is_empty() || methods.contains(&method) {
            return None;
        }
        Some(method_not_allowed(&methods))
    }
}

/// 405 problem+json with `Allow`.
pub fn method_not_allowed(methods: &[&str]) -> actix_web::HttpResponse {
    let mut response = actix_web::ResponseError::error_response(
        &crate::error::ApiError::from_status(actix_web::http::StatusCode::METHOD_NOT_ALLOWED),
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_lists_the_methods_of_every_pattern_it_matches() {
        let allowed = AllowedMethods::from_openapi(&crate::openapi::openapi());
        assert_eq!(allowed.at("/api/v1/me"), ["DELETE", "GET"]);
        // `/stations/nearby` governs itself, though `/stations/{id}` matches it too.
        assert_eq!(allowed.at("/api/v1/stations/nearby"), ["GET"]);
        assert_eq!(allowed.at("/api/v1/stations/some-id"), ["GET", "PATCH"]);
        assert!(allowed.at("/api/v1/nothing").is_empty());
    }
}
