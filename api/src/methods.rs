//! Which methods each path serves, from the OpenAPI document itself (so it cannot drift from
//! the routes): a request whose path is served but not with its method is answered 405 with
//! `Allow` (HTTP's rule), not 404 (ADR 013).
//!
//! Every request is checked, so the check is a comparison of segments, not a regular
//! expression per template: OpenAPI's templates are literal segments and whole-segment
//! `{parameters}` (a parameter matches one non-empty segment, as in actix's router).

/// One segment of a path template.
#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// A path template, how specific it is (its literal segments), and the methods it serves.
#[derive(Debug)]
struct Template {
    segments: Vec<Segment>,
    literal: usize,
    methods: Vec<&'static str>,
}

impl Template {
    /// Whether the path's segments (`parts`) fit: as many, each literal equal (compared
    /// from the end, where templates differ most) and each parameter non-empty.
    fn is_match(&self, parts: &[&str]) -> bool {
        self.segments.len() == parts.len()
            && self
                .segments
                .iter()
                .zip(parts)
                .rev()
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => part == literal,
                    Segment::Parameter => !part.is_empty(),
                })
    }
}

/// Path templates and the methods they serve.
pub struct AllowedMethods(Vec<Template>);

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
                let segments: Vec<Segment> = path
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(segment.to_owned())
                        }
                    })
                    .collect();
                let literal = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                Template {
                    segments,
                    literal,
                    methods,
                }
            })
            .collect();
        Self(routes)
    }

    /// The methods served at `path`, sorted; empty when the path is not served at all. As in
    /// OpenAPI, a concrete path is governed by the most specific template matching it:
    /// `/stations/nearby` by itself, not by `/stations/{id}`.
    pub fn at(&self, path: &str) -> Vec<&'static str> {
        let parts: Vec<&str> = path.split('/').collect();
        let matching: Vec<&Template> = self.0.iter().filter(|t| t.is_match(&parts)).collect();
        let Some(best) = matching.iter().map(|t| t.literal).max() else {
            return Vec::new();
        };
        let mut methods: Vec<&'static str> = matching
            .into_iter()
            .filter(|t| t.literal == best)
            .flat_map(|t| t.methods.iter().copied())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// The 405 for `method` at `path`, when the contract serves the path but not the method
    /// (even where the router would hand the request to a broader template).
    ///
    /// Every request passes here, so the common answer (served, or not served at all) is
    /// found in one pass over the templates without allocating; the method list is built
    /// only for a 405.
    pub fn refusal(&self, path: &str, method: &str) -> Option<actix_web::HttpResponse> {
        const MOST: usize = 16;
        let mut buf = [""; MOST];
        let mut len = 0;
        for part in path.split('/') {
            // No template has this many segments, so none matches.
            *buf.get_mut(len)? = part;
            len += 1;
        }
        let parts = &buf[..len];
        // The most specific matching templates' literal count, and whether one serves `method`.
        let mut best: Option<(usize, bool)> = None;
        for t in self.0.iter().filter(|t| t.is_match(parts)) {
            let serves = t.methods.contains(&method);
            best = match best {
                Some((literal, _)) if literal > t.literal => best,
                Some((literal, served)) if literal == t.literal => {
                    Some((literal, served || serves))
                }
                _ => Some((t.literal, serves)),
            };
        }
        match best {
            None | Some((_, true)) => None,
            Some((_, false)) => Some(method_not_allowed(&self.at(path))),
        }
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
        // Whole segments only: no empty parameter, no extra or missing segment.
        assert!(allowed.at("/api/v1/stations/").is_empty());
        assert!(allowed.at("/api/v1/stations/a/b/c/d").is_empty());
        assert_eq!(
            allowed.at("/api/v1/finance/reconciliations/r1/exceptions.csv"),
            ["GET"]
        );
        assert!(allowed
            .at("/api/v1/finance/reconciliations/r1/exceptions.csvx")
            .is_empty());
        assert_eq!(allowed.at("/healthz"), ["GET"]);
    }

    /// The one-pass check answers as the method list would, for every path the contract
    /// serves (and near misses), with every method; and no template is too long for it.
    #[test]
    fn a_refusal_is_exactly_a_served_path_without_the_method() {
        let doc = crate::openapi::openapi();
        let allowed = AllowedMethods::from_openapi(&doc);
        let mut paths = vec!["/".to_owned(), "/api/v1/nothing".to_owned()];
        for template in doc.paths.paths.keys() {
            assert!(template.split('/').count() <= 16, "{template}");
            let concrete: Vec<&str> = template
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect();
            paths.push(concrete.join("/"));
            paths.push(format!("{}/more", concrete.join("/")));
            paths.push(concrete[..concrete.len() - 1].join("/"));
        }
        paths.push("/a".repeat(40));
        let mut refused = 0;
        for path in &paths {
            for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
                let methods = allowed.at(path);
                let expected = !methods.is_empty() && !methods.contains(&method);
                let got = allowed.refusal(path, method);
                assert_eq!(got.is_some(), expected, "{method} {path}");
                if let Some(response) = got {
                    refused += 1;
                    assert_eq!(
                        response.headers().get("allow").unwrap().to_str().unwrap(),
                        methods.join(", ")
                    );
                }
            }
        }
        assert!(refused > 100, "{refused}");
    }

    /// The segment matcher knows literal segments and whole-segment parameters only: a
    /// template with anything else (`{id}.csv`) would be taken as a literal and lose its 405.
    #[test]
    fn every_template_segment_is_a_literal_or_a_whole_parameter() {
        let doc = crate::openapi::openapi();
        for path in doc.paths.paths.keys() {
            for segment in path.split('/') {
                let whole = segment
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .is_some_and(|name| {
                        !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                let literal = !segment.contains(['{', '}']);
                assert!(whole || literal, "{path}: segment {segment}");
            }
        }
    }
}
