//! Reading stored columns back into domain values where the two databases
//! differ: SQLite keeps UUIDs as text, and both keep unsigned counts and
//! positions as signed 64-bit integers.

use uuid::Uuid;

use super::ReadModelError;

/// A UUID stored as text (SQLite), or [`ReadModelError::Corrupt`] naming the column.
pub(super) fn uuid_text(column: &str, text: &str) -> Result<Uuid, ReadModelError> {
    Uuid::parse_str(text).map_err(|e| ReadModelError::Corrupt(format!("{column} {text}: {e}")))
}

/// A count or position stored signed; a negative one (never written) reads as 0.
pub(super) fn unsigned(value: i64) -> u64 {
    value.max(0) as u64
}
