//! The execution's identity. Like a workflow id, it is generated at the edge (the
//! API, a trigger, the orchestrator for a sub-workflow) and handed in with
//! `Request`, so deciding stays pure and a retried request reuses the same id.

use super::errors::InvalidExecutionId;

crate::uuid_id!(
    /// Identifies one execution (one run of a workflow); serialises as a bare UUID string.
    ExecutionId,
    InvalidExecutionId
);

#[cfg(test)]
mod tests {
    use uuid::Uuid;

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
