//! What goes into the event store: the aggregate's type, each event's type
//! name and schema, and the payload of the events that pin a run.

use flowforge_domain::execution::{Execution, ExecutionEvent};
use flowforge_domain::{decode_event, encode_event, Aggregate, DomainEvent};
use serde_json::json;

use crate::support::{
    all_done, cancelled, execution_failed, execution_succeeded, failed, requested, retry_scheduled,
    started,
};

#[test]
fn the_aggregate_type_is_execution() {
    assert_eq!(Execution::TYPE, "execution");
}

fn every_variant() -> Vec<ExecutionEvent> {
    let mut events = all_done();
    events.extend([
        failed("Fetch", 1, 2),
        retry_scheduled("Fetch", 2, 2),
        execution_succeeded(),
        execution_failed(),
        cancelled(),
    ]);
    events
}

#[test]
fn every_variant_round_trips_through_the_event_codec() {
    for event in every_variant() {
        let (event_type, schema_version, payload) =
            encode_event(&event).expect("the event encodes");
        assert_eq!(event_type, event.event_type());
        assert_eq!(schema_version, 1);
        assert_eq!(payload["execution_id"], json!(event.execution_id()));
        let decoded: ExecutionEvent =
            decode_event(event_type, &payload).expect("the event decodes");
        assert_eq!(decoded, event, "{event_type}");
    }
}

#[test]
fn stored_event_types_are_past_tense_business_names() {
    let types: Vec<&str> = every_variant()
        .iter()
        .map(DomainEvent::event_type)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionCancelled",
            "ExecutionFailed",
            "ExecutionRequested",
            "ExecutionSucceeded",
            "NodeFailed",
            "NodeResumed",
            "NodeRetryScheduled",
            "NodeStarted",
            "NodeSucceeded",
            "NodeWaiting",
        ]
    );
}

#[test]
fn the_requested_payload_pins_the_definition_and_trigger() {
    let (_, _, payload) = encode_event(&requested()).expect("encodes");
    assert_eq!(payload["definition_version"], json!(3));
    assert_eq!(
        payload["definition"]["nodes"][1]["type"],
        json!("http_request")
    );
    assert_eq!(
        payload["trigger"],
        json!({"kind": "manual", "node": "Start"})
    );
    assert_eq!(payload["input"], json!([{"order": 1}]));
    assert!(payload.get("reuse").is_none(), "empty reuse is left out");
    let (_, _, payload) = encode_event(&started("Fetch", 1, 2)).expect("encodes");
    assert_eq!(payload["input"], json!([[{"order": 1}]]));
}
