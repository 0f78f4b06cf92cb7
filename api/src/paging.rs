//! `?cursor=…&limit=…`, shared by every list endpoint, parsed into the services' page
//! request (`{items, next_cursor}` comes back).

use gongyou_services::page::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiResult;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    #[param(nullable = false)]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The page asked for (400 for a limit outside 1–200).
    pub fn request(self) -> ApiResult<PageRequest> {
        Ok(PageRequest::new(self.cursor, self.limit)?)
    }
}
