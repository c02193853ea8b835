//! Error responses many operations share, documented once. The extractors in
//! `crate::extract` answer the same way on every route that uses them, and a
//! `consistent_with` query answers the same way on every read model, so each
//! route lists the sets that apply to it (`responses(JsonBodyErrors, ...)`)
//! and its own responses after them, which win where both name a status.

use std::collections::BTreeMap;

use utoipa::{
    openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder},
    IntoResponses,
};

/// An operation that reads a JSON body: what a body it cannot use gets.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            bad_request(),
            error(
                "413",
                "The body is larger than `--max-body-bytes` (code `payload_too_large`; `details.limit_bytes`)",
            ),
            error(
                "415",
                "A body without `Content-Type: application/json` (code `unsupported_media_type`)",
            ),
        ])
    }
}

/// An operation with query or header parameters: what a value it cannot read
/// gets.
pub struct ParameterErrors;

impl IntoResponses for ParameterErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([bad_request()])
    }
}

/// A query that takes `consistent_with`: what a position it cannot wait for gets.
pub struct ConsistencyErrors;

impl IntoResponses for ConsistencyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            bad_request(),
            error(
                "409",
                "`consistent_with` is beyond the event log's head: no write has been given that position (code `position_beyond_head`; `details.position`, `details.head`)",
            ),
            error(
                "503",
                "The read model did not reach `consistent_with` within the consistency timeout (code `not_caught_up`; see Retry-After), or the database is unavailable",
            ),
        ])
    }
}

/// A webhook call, on either of the two routes webhooks answer at.
pub struct WebhookAnswers;

impl IntoResponses for WebhookAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            object("202", "response_mode immediately: started (`execution_id`)"),
            object(
                "200",
                "response_mode last_node / respond_node: the workflow's answer",
            ),
            error("400", "Malformed JSON body, or an invalid Idempotency-Key"),
            error(
                "401",
                "The webhook's authentication check failed (webhook_unauthorized); nothing started",
            ),
            error(
                "404",
                "No active workflow of the workspace has this webhook",
            ),
            error("429", "The workflow's backlog is full; see Retry-After"),
            error("500", "The execution failed"),
            error("503", "The execution backlog is full; see Retry-After"),
            error("504", "The execution did not answer in time"),
        ])
    }
}

/// One 400 for bodies and parameters alike, so two sets on one operation agree.
fn bad_request() -> (String, RefOr<Response>) {
    error(
        "400",
        "Malformed JSON (`malformed_json`), a body of the wrong shape (`invalid_body`), or a parameter or header that cannot be read or is out of range (`invalid_parameter`)",
    )
}

fn object(status: &str, description: &str) -> (String, RefOr<Response>) {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().build()))
                .build(),
        )
        .build();
    (status.to_owned(), RefOr::T(response))
}

fn error(status: &str, description: &str) -> (String, RefOr<Response>) {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    (status.to_owned(), RefOr::T(response))
}
