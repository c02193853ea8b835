//! A position in the event log as a query parameter takes it (`after`,
//! `consistent_with`): 0 up to `i64::MAX`, the largest position a store can
//! hold. A larger number is refused with 400 while the query string is read,
//! so no handler has to remember to check, and the OpenAPI document states
//! the same bounds through [`after_schema`] and [`consistent_with_schema`].

use serde::Deserialize;
use utoipa::openapi::{
    schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type},
    Object,
};

/// A log position from a query string, at most `i64::MAX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "u64")]
pub struct LogPosition(u64);

/// The largest position either store can hold (a signed 64-bit column).
const MAX: u64 = i64::MAX as u64;

impl LogPosition {
    /// The position as the event store counts.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for LogPosition {
    type Error = String;

    fn try_from(position: u64) -> Result<Self, Self::Error> {
        if position <= MAX {
            Ok(Self(position))
        } else {
            Err(format!(
                "position {position} is beyond the largest log position, {MAX}"
            ))
        }
    }
}

/// The schema of an `after` parameter (paging through the log or the audit log).
pub fn after_schema() -> Object {
    schema("Only entries after this log position (default 0: from the start); pass the previous page's `next_after`.")
}

/// The schema of a `consistent_with` parameter (read your own writes).
pub fn consistent_with_schema() -> Object {
    schema(
        "Wait until the read model reflects this log position, as a write returned it: \
         503 `not_caught_up` after the consistency timeout, \
         409 `position_beyond_head` at once for a position beyond the log's head.",
    )
}

/// The bounds every log position parameter shares, with its `description`
/// (a parameter described by its schema has no other description).
fn schema(description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .maximum(Some(i64::MAX))
        .description(Some(description))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_position_a_store_holds_is_accepted_and_one_more_is_not() {
        assert_eq!(LogPosition::try_from(MAX).map(LogPosition::get), Ok(MAX));
        assert!(LogPosition::try_from(MAX + 1).is_err());
    }
}
