//! A lean HTTP client for the one provider request sent per message (ADR 022): WeChat's
//! `message/subscribe/send`, a campaign's hundreds of thousands of POSTs to one URL.
//!
//! It is hyper's pooled client (`hyper-util`) with rustls, as reqwest is inside, without
//! reqwest's layers around each request: reqwest parses the URL again for every response
//! (its redirect layer's final URI), boxes the request through a tower stack and builds a
//! header map per request, which was a tenth of a sending worker's CPU. The URI is parsed
//! once per sender here. Timeouts and the answer-size cap are the same as reqwest's path
//! (`PROVIDER_TIMEOUT` to connect and per request, `MAX_ANSWER_BYTES`).
//!
//! It honours no proxy settings: when `HTTPS_PROXY`, `HTTP_PROXY` or `ALL_PROXY` is set (any
//! case), [`LeanHttp::from_env`] gives None and the callers use reqwest, which does.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{MAX_ANSWER_BYTES, PROVIDER_TIMEOUT};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The proxy variables reqwest reads; when one is set, the lean client stands aside.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// See the module documentation. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct LeanHttp {
    client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for LeanHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeanHttp").finish_non_exhaustive()
    }
}

impl LeanHttp {
    /// The client, unless a proxy is configured in the environment (see the module docs)
    /// or TLS cannot be set up (then reqwest's path is used too, with a warning).
    pub fn from_env() -> Option<Self> {
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if proxied {
            return None;
        }
        Self::new()
            .map_err(|e| tracing::warn!(error = %e, "lean provider client unavailable"))
            .ok()
    }

    /// The client: HTTPS with the web PKI roots (as reqwest's `rustls-tls`), or plain HTTP
    /// (local fakes); HTTP/1.1; `TCP_NODELAY`; connections kept alive and reused.
    pub fn new() -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(PROVIDER_TIMEOUT));
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client })
    }

    /// POSTs `body` as JSON to `uri`; the answer's status and body (at most
    /// `MAX_ANSWER_BYTES`), within `PROVIDER_TIMEOUT`. The error is a message without the
    /// URI (it may carry a token), fit for the provider's "unavailable" error.
    pub async fn post_json(
        &self,
        uri: &hyper::http::Uri,
        body: Bytes,
    ) -> Result<(u16, Bytes), String> {
        let request = hyper::http::Request::post(uri.clone())
            .header(hyper::http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| super::error_chain(&e))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        format!("answer larger than {MAX_ANSWER_BYTES} bytes")
                    } else {
                        e.to_string()
                    }
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(PROVIDER_TIMEOUT, exchange)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn uri(base: &str, token: &str) -> hyper::http::Uri {
        format!("{base}/cgi-bin/message/subscribe/send?access_token={token}")
            .parse()
            .unwrap()
    }

    #[tokio::test]
    async fn posts_json_and_returns_the_status_and_answer() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/cgi-bin/message/subscribe/send"))
            .and(query_param("access_token", "tok-1"))
            .and(header("content-type", "application/json"))
            .and(body_json(serde_json::json!({"touser": "o-1"})))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"errcode":0}"#))
            .expect(2)
            .mount(&server)
            .await;
        let client = LeanHttp::new().unwrap();
        // Twice: the second on the pooled connection.
        for _ in 0..2 {
            let (status, body) = client
                .post_json(
                    &uri(&server.uri(), "tok-1"),
                    Bytes::from(r#"{"touser":"o-1"}"#),
                )
                .await
                .unwrap();
            assert_eq!((status, body.as_ref()), (200, br#"{"errcode":0}"#.as_ref()));
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200).set_body_bytes(vec![b'x'; MAX_ANSWER_BYTES + 1]),
            )
            .mount(&server)
            .await;
        let e = LeanHttp::new()
            .unwrap()
            .post_json(&uri(&server.uri(), "tok-1"), Bytes::from_static(b"{}"))
            .await
            .unwrap_err();
        assert_eq!(e, format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_without_the_token() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let e = LeanHttp::new()
            .unwrap()
            .post_json(&uri(&base, "tok-secret"), Bytes::from_static(b"{}"))
            .await
            .unwrap_err();
        assert!(!e.is_empty());
        assert!(!e.contains("tok-secret"), "{e}");
    }

    #[test]
    fn a_proxy_in_the_environment_leaves_it_to_reqwest() {
        // Read, not set: the test process shares its environment with the others.
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        assert_eq!(LeanHttp::from_env().is_none(), proxied);
    }
}
