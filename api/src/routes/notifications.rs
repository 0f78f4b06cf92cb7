//! The worker's notifications: the in-app inbox, devices for app push, preferences.

use actix_web::{get, post, put, web, HttpResponse};
use gongyou_services::notifications::inbox::{
    self as notifications, Credits, Device, MarkedRead, NotificationView, Preferences,
    SubscriptionResults, UnreadCount,
};
use gongyou_services::page::Page;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::paging::PageQuery;
use crate::state::AppState;

/// The inbox, newest first.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<NotificationView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notifications")]
pub async fn inbox(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<NotificationView>>> {
    let page = page.into_inner().request()?;
    Ok(web::Json(
        notifications::inbox(&state, &caller, page).await?,
    ))
}

/// How many inbox notifications are unread (for the badge).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UnreadCount),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notifications/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<UnreadCount>> {
    Ok(web::Json(
        notifications::unread_count(&state, &caller).await?,
    ))
}

/// Marks one notification read.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = NotificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`notification.not_found` (also: not yours)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/notifications/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<NotificationView>> {
    Ok(web::Json(
        notifications::read(&state, &caller, id.into_inner()).await?,
    ))
}

/// Marks every notification read.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MarkedRead),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/notifications/read-all")]
pub async fn read_all(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MarkedRead>> {
    Ok(web::Json(notifications::read_all(&state, &caller).await?))
}

/// Registers this app install for push (a registration id belongs to its latest user).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = Device,
    responses(
        (status = 204, description = "Registered"),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`: staff have no devices, preferences or subscriptions", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/devices")]
pub async fn put_device(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Device>,
) -> ApiResult<HttpResponse> {
    notifications::put_device(&state, &caller, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Which categories reach which channels (everything is on until switched off).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Preferences),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`: staff have no devices, preferences or subscriptions", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notification-preferences")]
pub async fn get_preferences(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Preferences>> {
    Ok(web::Json(
        notifications::preferences(&state, &caller).await?,
    ))
}

/// Changes preferences (those listed; others stay).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = Preferences,
    responses(
        (status = 200, body = Preferences),
        (status = 400, description = "`request.invalid_body`: unknown category or channel", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`: staff have no devices, preferences or subscriptions", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`notification.critical`: a critical category cannot be switched off", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/notification-preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Preferences>,
) -> ApiResult<web::Json<Preferences>> {
    Ok(web::Json(
        notifications::put_preferences(&state, &caller, body.into_inner()).await?,
    ))
}

/// Records the user's answers to a subscribe-message prompt: each `accept` allows one
/// WeChat message of that template.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = SubscriptionResults,
    responses(
        (status = 200, body = Credits),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`: staff have no devices, preferences or subscriptions", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/wechat-subscriptions")]
pub async fn wechat_subscriptions(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SubscriptionResults>,
) -> ApiResult<web::Json<Credits>> {
    Ok(web::Json(
        notifications::wechat_subscriptions(&state, &caller, body.into_inner()).await?,
    ))
}
