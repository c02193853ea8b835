//! Keyset paging, shared by the list endpoints: the page-size check, the
//! check of a `status` filter (and its schema), and the split of the
//! `limit + 1` rows a query fetched into the page and the key the next page
//! starts after.

use utoipa::openapi::{schema::Type, Object, ObjectBuilder};

use crate::error::ApiError;

/// The page size asked for, or `default`; refused unless it is 1 to `max`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidParameter(format!(
            "limit must be between 1 and {max}"
        )))
    }
}

/// Refuses a `status` filter that is not one of `statuses`.
pub fn check_status(status: Option<&str>, statuses: &[&str]) -> Result<(), ApiError> {
    match status.filter(|s| !statuses.contains(s)) {
        Some(status) => Err(ApiError::InvalidParameter(format!(
            "status {status:?} is not one of {}",
            statuses.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The schema of a `status` filter that takes one of `statuses`, so the
/// document lists what [`check_status`] accepts, with its `description`.
pub fn status_schema(statuses: &[&str], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(statuses.iter().copied()))
        .build()
}

/// The first `limit` of `rows` (fetched with `limit + 1`), and the key of the
/// last of them when more rows follow (`None` on the last page).
pub fn split_page<T, K>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<K>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(key) } else { None };
    (rows, next)
}
