//! Building the application from a [`Config`]: the services' context (pools, the key/value
//! store, migrations when configured, providers), the station search, the listener (bound
//! first, so tests can ask for port 0), the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpServer};
use anyhow::Context as _;
use gongyou_db::Db;
use gongyou_domain::clock::SharedClock;
use gongyou_services::config::Config;
use gongyou_services::metrics::Metrics;
use gongyou_services::stations::search::{SearchLimiter, StationSearch};
use gongyou_services::{Context, ServiceError};
use utoipa_actix_web::AppExt;

use crate::error::ApiError;
use crate::methods::AllowedMethods;
use crate::openapi::Spec;
use crate::state::AppState;
use crate::{middleware, routes};

/// A built, bound, not yet running application.
pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
    state: AppState,
}

impl Application {
    /// Opens the database (migrating it when configured), connects the store, binds the
    /// listeners and builds the servers.
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let services = Context::open(config, clock).await?;
        let metrics = Arc::new(Metrics::new().context("registering metrics")?);
        let stations = Arc::new(
            StationSearch::load(&services.db, services.now())
                .await
                .context("loading the station index")?,
        );
        stations.spawn_refresher(
            services.db.clone(),
            services.kv.clone(),
            services.clock.clone(),
            services.config.station_refresh,
            services.config.station_resync,
        );
        tracing::info!(stations = stations.len(), "station index loaded");
        let search_limit = Arc::new(SearchLimiter::new(
            services.config.limits.search_rate_per_minute,
            services.clock.clone(),
        ));
        let state = AppState {
            services: services.with_station_search(stations.clone()),
            stations,
            search_limit,
            metrics,
        };
        let spec = Spec {
            yaml: crate::openapi::yaml()?,
        };

        let listener = TcpListener::bind(state.config.http_addr)
            .with_context(|| format!("binding {}", state.config.http_addr))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match state.config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?),
            None => None,
        };
        let metrics_port = match &metrics_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let server = api_server(listener, &state, spec, metrics_listener.is_none())?;
        let metrics_server = metrics_listener
            .map(|l| metrics_server(l, &state))
            .transpose()?;
        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics listener, when `GONGYOU_METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the servers: graceful finishes requests in flight (up to the shutdown timeout).
    pub fn handles(&self) -> Vec<ServerHandle> {
        std::iter::once(self.server.handle())
            .chain(self.metrics_server.iter().map(Server::handle))
            .collect()
    }

    /// Serves until stopped through a handle.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics_server {
            Some(metrics) => {
                let (a, b) = tokio::join!(self.server, metrics);
                a.and(b)
            }
            None => self.server.await,
        }
    }
}

fn api_server(
    listener: TcpListener,
    state: &AppState,
    spec: Spec,
    metrics_here: bool,
) -> anyhow::Result<Server> {
    let data = web::Data::new(state.clone());
    let spec = web::Data::new(spec);
    let allowed = web::Data::new(AllowedMethods::from_openapi(&crate::openapi::openapi()));
    let limit = state.config.body_limit_bytes;
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .app_data(data.clone())
            .app_data(spec.clone())
            .app_data(allowed.clone())
            .configure(|cfg| request_parsing(cfg, limit))
            .wrap(from_fn(middleware::observe))
            // Served files (photos) and every answer: browsers take the declared type.
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((actix_web::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
            )
            .into_utoipa_app()
            .configure(routes::configure)
            .into_app()
            .configure(crate::console::configure);
        let app = if metrics_here {
            app.route("/metrics", web::get().to(routes::ops::metrics))
        } else {
            app
        };
        app.default_service(web::to(unrouted))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(state.config.shutdown_timeout.as_secs());
    if let Some(workers) = state.config.http_workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

fn metrics_server(listener: TcpListener, state: &AppState) -> anyhow::Result<Server> {
    let data = web::Data::new(state.clone());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(routes::ops::metrics))
    })
    .listen(listener)?
    .disable_signals()
    .workers(1)
    .run())
}

/// A standalone worker's `/metrics` (job run and wait histograms of this process, job
/// counts, pool usage), on `GONGYOU_METRICS_ADDR`: its only HTTP route.
pub fn worker_metrics_server(
    listener: TcpListener,
    db: Db,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Server> {
    Ok(HttpServer::new(move || {
        let (db, metrics) = (db.clone(), metrics.clone());
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let (db, metrics) = (db.clone(), metrics.clone());
                async move { routes::ops::exposition(metrics.exposition(&db).await) }
            }),
        )
    })
    .listen(listener)?
    .disable_signals()
    .workers(1)
    .run())
}

/// Body size limits and problem+json for bodies, queries and paths that do not parse.
/// Every app serving API routes registers this (tests building their own app too).
pub fn request_parsing(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::new(body_limit))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error));
}

/// What no route served: 405 with `Allow` when the path is served with other methods, else
/// 404.
async fn unrouted(
    req: HttpRequest,
    allowed: web::Data<AllowedMethods>,
) -> Result<actix_web::HttpResponse, ApiError> {
    match allowed.refusal(req.path(), req.method().as_str()) {
        Some(refused) => Ok(refused),
        None => Err(ApiError::from_status(
            actix_web::http::StatusCode::NOT_FOUND,
        )),
    }
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::from_status(actix_web::http::StatusCode::PAYLOAD_TOO_LARGE)
        }
        JsonPayloadError::ContentType => ApiError::http(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.unsupported_media_type",
            "请求内容须为 JSON（Content-Type: application/json）",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::from(
            ServiceError::invalid("request.invalid_body", "请求内容的字段或类型不正确")
                .with_errors(serde_json::json!({ "body": e.to_string() })),
        ),
        _ => ServiceError::invalid("request.malformed_json", "请求内容不是有效的 JSON").into(),
    };
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::from(
        ServiceError::invalid("request.invalid_query", "查询参数不正确")
            .with_errors(serde_json::json!({ "query": err.to_string() })),
    );
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::from(ServiceError::invalid(
        "request.invalid_path",
        "请求路径参数不正确",
    ));
    actix_web::error::InternalError::from_response(
        err,
        actix_web::ResponseError::error_response(&api),
    )
    .into()
}
