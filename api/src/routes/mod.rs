//! Every endpoint, in one screen. Handlers are small functions grouped by resource; each
//! carries its OpenAPI description, and registering it here also puts it in openapi.yaml.

pub mod ops;

use utoipa_actix_web::service_config::ServiceConfig;

/// Routes served on the main address.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::openapi_yaml);
    // `/metrics` is added by startup: on the main address, or on GONGYOU_METRICS_ADDR.
}
