//! The workflow's identity. The domain never makes ids up: the edge (API, import)
//! generates one and hands it in with `Create`, so handling a command stays a pure
//! function and a retried request can reuse the same id.

use super::errors::InvalidWorkflowId;

crate::uuid_id!(
    /// Identifies one workflow across its whole history; serialises as a bare UUID string.
    WorkflowId,
    InvalidWorkflowId
);

#[cfg(test)]
mod tests {
    use uuid::Uuid;

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
