//! Cursor pagination shared by every list: a [`PageRequest`] in (the API parses
//! `?cursor=…&limit=…` into one), a [`Page`] out (`{items, next_cursor}`).

use gongyou_domain::status::Status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ServiceError, ServiceResult};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Where a page starts and how long it is (1–200).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: i64,
}

impl PageRequest {
    /// `limit` defaults to 50 and must be 1–200.
    pub fn new(cursor: Option<String>, limit: Option<i64>) -> ServiceResult<Self> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                return Err(ServiceError::invalid(
                    "request.invalid_limit",
                    "limit 须在 1 至 200 之间",
                ))
            }
        };
        Ok(Self { cursor, limit })
    }

    /// Rows to fetch: one more than the page, to know whether there is a next one.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// A list's `status` filter: one of the kind's statuses (400 `request.invalid_query`
/// naming them otherwise).
pub fn status_filter<S: Status>(text: Option<&str>) -> ServiceResult<Option<S>> {
    text.map(|t| {
        S::from_text(t).ok_or_else(|| {
            let names: Vec<&str> = S::all().iter().map(|s| s.text()).collect();
            let (last, rest) = names.split_last().unwrap_or((&"", &[]));
            ServiceError::invalid(
                "request.invalid_query",
                format!("status 须为 {} 或 {last}", rest.join("、")),
            )
        })
    })
    .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// From rows fetched with `limit + 1`: the extra row only says there is more.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Self {
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more { rows.last().map(&key) } else { None };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }

    /// The page with each item turned into something else (fallibly: views may read more).
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded_and_the_extra_row_makes_the_cursor() {
        assert_eq!(PageRequest::new(None, None).map(|p| p.limit).ok(), Some(50));
        assert!(PageRequest::new(None, Some(0)).is_err());
        assert!(PageRequest::new(None, Some(201)).is_err());
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string(), |n| n * 10);
        assert_eq!(page.items, vec![10, 20]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_rows(vec![1, 2], 2, |n| n.to_string(), |n| n);
        assert_eq!(last.next_cursor, None);
    }
}
