//! Which methods each path serves, from the OpenAPI document itself (so it cannot drift from
//! the routes): a request whose path is served but not with its method is answered 405 with
//! `Allow` (HTTP's rule), not 404 (ADR 013).

use actix_web::dev::ResourceDef;

/// Paths and the methods they serve.
pub struct AllowedMethods(Vec<(ResourceDef, Vec<&'static str>)>);

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
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods served at `path` (several patterns may match it), sorted; empty when the
    /// path is not served at all.
    pub fn at(&self, path: &str) -> Vec<&'static str> {
        let mut methods: Vec<&'static str> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_lists_the_methods_of_every_pattern_it_matches() {
        let allowed = AllowedMethods::from_openapi(&crate::openapi::openapi());
        assert_eq!(allowed.at("/api/v1/me"), ["DELETE", "GET"]);
        // `nearby` is also a station id to `GET` and `PATCH /stations/{id}`.
        assert_eq!(allowed.at("/api/v1/stations/nearby"), ["GET", "PATCH"]);
        assert!(allowed.at("/api/v1/nothing").is_empty());
    }
}
