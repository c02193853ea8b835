//! The workflow's identity. The domain never makes ids up: the edge (API, import)
//! generates one and hands it in with `Create`, so handling a command stays a pure
//! function and a retried request can reuse the same id.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::InvalidWorkflowId;

/// Identifies one workflow across its whole history; serialises as a bare UUID string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowId(Uuid);

impl WorkflowId {
    /// Wraps a UUID the caller generated.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for WorkflowId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<WorkflowId> for Uuid {
    fn from(id: WorkflowId) -> Self {
        id.0
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for WorkflowId {
    type Err = InvalidWorkflowId;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(input)
            .map(Self)
            .map_err(|source| InvalidWorkflowId {
                input: input.to_owned(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_from_str_round_trip() {
        let id = WorkflowId::from_uuid(Uuid::from_u128(0x1234));
        let parsed: WorkflowId = id.to_string().parse().expect("a displayed id parses");
        assert_eq!(parsed, id);
    }

    #[test]
    fn from_str_rejects_garbage_and_names_it() {
        let error = "not-a-uuid"
            .parse::<WorkflowId>()
            .expect_err("garbage is refused");
        assert!(error.to_string().contains("not-a-uuid"), "{error}");
    }

    #[test]
    fn serialises_as_a_bare_uuid_string() {
        let id = WorkflowId::from_uuid(Uuid::from_u128(7));
        let json = serde_json::to_value(id).expect("serialises");
        assert_eq!(json, serde_json::json!(Uuid::from_u128(7).to_string()));
        let back: WorkflowId = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, id);
    }
}
