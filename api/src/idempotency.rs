//! The `Idempotency-Key` header of execution starts (webhooks and
//! `POST /api/v1/workflows/{id}/executions`). A key names one start of one
//! workflow: the execution's id is derived from the workflow's id and the key
//! (UUIDv5), so a retry — on any instance, after any restart — names the same
//! execution stream, and the store's expected-version check lets exactly one
//! start record `ExecutionRequested`; every other one finds that execution and
//! answers with it. Nothing is kept beside the event log.

use axum::http::HeaderMap;
use flowforge_domain::{execution::ExecutionId, workflow::WorkflowId};
use uuid::Uuid;

use crate::error::ApiError;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header that marks an answer about an execution an earlier
/// request with the same key started.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// The namespace of derived execution ids (a fixed, random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x3a5e_91c2_77d4_4b8f_a1e6_0c2f_9d84_6b13);

/// A checked `Idempotency-Key`: 1 to [`MAX_KEY_BYTES`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key the request carries, if it carries one.
    ///
    /// # Errors
    /// [`ApiError::InvalidParameter`] for an empty, over-long or non-ASCII key,
    /// or the header given twice.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::InvalidParameter(
                "Idempotency-Key is given more than once".to_owned(),
            ));
        }
        let key = value.to_str().map_err(|_| invalid())?.trim();
        if key.is_empty()
            || key.len() > MAX_KEY_BYTES
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(invalid());
        }
        Ok(Some(Self(key.to_owned())))
    }

    /// The id of the execution this key starts for `workflow_id`.
    pub fn execution_id(&self, workflow_id: WorkflowId) -> ExecutionId {
        let name = format!("{workflow_id}\n{}", self.0);
        ExecutionId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
    }
}

fn invalid() -> ApiError {
    ApiError::InvalidParameter(format!(
        "Idempotency-Key must be 1 to {MAX_KEY_BYTES} visible ASCII characters"
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                IDEMPOTENCY_KEY,
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        headers
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(IdempotencyKey::from_headers(&headers(&[])).ok(), Some(None));
        assert!(IdempotencyKey::from_headers(&headers(&["order-42"])).is_ok_and(|k| k.is_some()));
        assert!(IdempotencyKey::from_headers(&headers(&[&"k".repeat(MAX_KEY_BYTES)])).is_ok());
        for bad in [&"k".repeat(MAX_KEY_BYTES + 1), "  "] {
            assert!(
                IdempotencyKey::from_headers(&headers(&[bad])).is_err(),
                "{bad:?}"
            );
        }
        assert!(IdempotencyKey::from_headers(&headers(&["a", "b"])).is_err());
    }

    #[test]
    fn one_key_names_one_execution_per_workflow() {
        let key = IdempotencyKey("order-42".to_owned());
        let a = WorkflowId::from_uuid(Uuid::from_u128(1));
        let b = WorkflowId::from_uuid(Uuid::from_u128(2));
        assert_eq!(key.execution_id(a), key.execution_id(a));
        assert_ne!(key.execution_id(a), key.execution_id(b));
        assert_ne!(
            key.execution_id(a),
            IdempotencyKey("order-43".to_owned()).execution_id(a)
        );
    }
}
