//! The execution's identity. Like a workflow id, it is generated at the edge (the
//! API, a trigger, the orchestrator for a sub-workflow) and handed in with
//! `Request`, so deciding stays pure and a retried request reuses the same id.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::InvalidExecutionId;

/// Identifies one execution (one run of a workflow); serialises as a bare UUID string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(Uuid);

impl ExecutionId {
    /// Wraps a UUID the caller generated.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for ExecutionId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<ExecutionId> for Uuid {
    fn from(id: ExecutionId) -> Self {
        id.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ExecutionId {
    type Err = InvalidExecutionId;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(input)
            .map(Self)
            .map_err(|source| InvalidExecutionId {
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
        let id = ExecutionId::from_uuid(Uuid::from_u128(0xe1));
        let parsed: ExecutionId = id.to_string().parse().expect("a displayed id parses");
        assert_eq!(parsed, id);
        assert_eq!(Uuid::from(id), id.as_uuid());
        assert_eq!(ExecutionId::from(id.as_uuid()), id);
    }

    #[test]
    fn from_str_rejects_garbage_and_names_it() {
        let error = "run-1"
            .parse::<ExecutionId>()
            .expect_err("garbage is refused");
        assert!(error.to_string().contains("run-1"), "{error}");
    }

    #[test]
    fn serialises_as_a_bare_uuid_string() {
        let id = ExecutionId::from_uuid(Uuid::from_u128(9));
        let json = serde_json::to_value(id).expect("serialises");
        assert_eq!(json, serde_json::json!(Uuid::from_u128(9).to_string()));
    }
}
