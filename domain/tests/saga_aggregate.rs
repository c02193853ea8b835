//! Given/when/then tests of the Saga aggregate: recording steps, compensating
//! them newest first, retries, parking, the operator's resume and skip, and
//! closing when the execution succeeds.

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::{
    execution::{ExecutionId, Item, NodeError},
    saga::{CompensationReason, Saga, SagaCommand, SagaError, SagaEvent, SagaStatus, StepStatus},
    workflow::{Node, WorkflowId},
    Aggregate, AggregateTester,
};
use serde_json::json;
use uuid::Uuid;

fn at(second: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(second)
}

fn id() -> ExecutionId {
    ExecutionId::from_uuid(Uuid::from_u128(1))
}

fn undo() -> Node {
    serde_json::from_value(json!({"type": "http_request", "parameters": {"method": "DELETE"}}))
        .expect("a node")
}

fn item(key: &str) -> Item {
    Item::from_iter([(key.to_owned(), json!(1))])
}

fn completed(step: &str, second: i64) -> SagaEvent {
    SagaEvent::StepCompleted {
        execution_id: id(),
        workflow_id: WorkflowId::from_uuid(Uuid::from_u128(2)),
        step: step.to_owned(),
        compensation: undo(),
        input: vec![item("in")],
        output: vec![item("out")],
        completed_at: at(second),
    }
}

fn started() -> SagaEvent {
    SagaEvent::CompensationStarted {
        execution_id: id(),
        reason: CompensationReason::Failure,
        detail: "Car failed".to_owned(),
        started_at: at(10),
    }
}

fn compensated(step: &str, attempt: u32, second: i64) -> SagaEvent {
    SagaEvent::StepCompensated {
        execution_id: id(),
        step: step.to_owned(),
        attempt,
        output: vec![],
        compensated_at: at(second),
    }
}

fn failed(step: &str, attempt: u32, retry: Option<i64>) -> SagaEvent {
    SagaEvent::StepCompensationFailed {
        execution_id: id(),
        step: step.to_owned(),
        attempt,
        error: NodeError::new("503"),
        retry_at: retry.map(at),
        failed_at: at(11),
    }
}

fn record_compensated(step: &str, attempt: u32) -> SagaCommand {
    SagaCommand::RecordCompensated {
        step: step.to_owned(),
        attempt,
        output: vec![],
        at: at(12),
    }
}

#[test]
fn the_first_completed_step_opens_the_saga() {
    AggregateTester::<Saga>::given_no_previous_events()
        .when(SagaCommand::RecordStep {
            execution_id: id(),
            workflow_id: WorkflowId::from_uuid(Uuid::from_u128(2)),
            step: "Flight".to_owned(),
            compensation: undo(),
            input: vec![item("in")],
            output: vec![item("out")],
            at: at(1),
        })
        .then_expect_events(vec![completed("Flight", 1)]);
}

#[test]
fn a_step_is_recorded_once() {
    AggregateTester::<Saga>::given(vec![completed("Flight", 1)])
        .when(SagaCommand::RecordStep {
            execution_id: id(),
            workflow_id: WorkflowId::from_uuid(Uuid::from_u128(2)),
            step: "Flight".to_owned(),
            compensation: undo(),
            input: vec![],
            output: vec![],
            at: at(2),
        })
        .then_expect_error(|e| matches!(e, SagaError::StepAlreadyRecorded { .. }));
}

#[test]
fn compensation_starts_once_and_only_on_a_saga_with_steps() {
    let start = || SagaCommand::StartCompensation {
        reason: CompensationReason::Failure,
        detail: "Car failed".to_owned(),
        at: at(10),
    };
    AggregateTester::<Saga>::given(vec![completed("Flight", 1)])
        .when(start())
        .then_expect_events(vec![started()]);
    AggregateTester::<Saga>::given(vec![completed("Flight", 1), started()])
        .when(start())
        .then_expect_error(|e| matches!(e, SagaError::WrongStatus { .. }));
    AggregateTester::<Saga>::given_no_previous_events()
        .when(start())
        .then_expect_error(|e| *e == SagaError::NotFound);
}

#[test]
fn steps_are_undone_newest_first() {
    let given = vec![completed("Flight", 1), completed("Hotel", 2), started()];
    AggregateTester::<Saga>::given(given.clone())
        .when(record_compensated("Flight", 1))
        .then_expect_error(|e| {
            *e == SagaError::NotNextStep {
                step: "Flight".into(),
                next: Some("Hotel".into()),
            }
        });
    AggregateTester::<Saga>::given(given)
        .when(record_compensated("Hotel", 1))
        .then_expect_events(vec![compensated("Hotel", 1, 12)]);
}

#[test]
fn undoing_the_last_step_compensates_the_saga() {
    AggregateTester::<Saga>::given(vec![
        completed("Flight", 1),
        completed("Hotel", 2),
        started(),
        compensated("Hotel", 1, 11),
    ])
    .when(record_compensated("Flight", 1))
    .then_expect_events(vec![
        compensated("Flight", 1, 12),
        SagaEvent::Compensated {
            execution_id: id(),
            compensated_at: at(12),
        },
    ]);
}

#[test]
fn a_failed_attempt_with_a_retry_keeps_compensating_and_without_one_parks() {
    let given = vec![completed("Flight", 1), started()];
    let fail = |retry: Option<i64>| SagaCommand::RecordCompensationFailed {
        step: "Flight".to_owned(),
        attempt: 1,
        error: NodeError::new("503"),
        retry_at: retry.map(at),
        at: at(11),
    };
    AggregateTester::<Saga>::given(given.clone())
        .when(fail(Some(13)))
        .then_expect_events(vec![failed("Flight", 1, Some(13))]);
    AggregateTester::<Saga>::given(given)
        .when(fail(None))
        .then_expect_events(vec![
            failed("Flight", 1, None),
            SagaEvent::CompensationParked {
                execution_id: id(),
                step: "Flight".to_owned(),
                error: NodeError::new("503"),
                parked_at: at(11),
            },
        ]);
}

#[test]
fn an_outcome_out_of_sequence_is_refused() {
    AggregateTester::<Saga>::given(vec![
        completed("Flight", 1),
        started(),
        failed("Flight", 1, Some(12)),
    ])
    .when(record_compensated("Flight", 1))
    .then_expect_error(|e| matches!(e, SagaError::AttemptOutOfSequence { expected: 2, .. }));
}

fn parked() -> Vec<SagaEvent> {
    vec![
        completed("Flight", 1),
        completed("Hotel", 2),
        started(),
        failed("Hotel", 1, None),
        SagaEvent::CompensationParked {
            execution_id: id(),
            step: "Hotel".to_owned(),
            error: NodeError::new("503"),
            parked_at: at(11),
        },
    ]
}

#[test]
fn an_operator_resumes_a_parked_saga_with_a_fresh_round_of_tries() {
    AggregateTester::<Saga>::given(parked())
        .when(SagaCommand::Resume {
            actor: "ops".to_owned(),
            at: at(20),
        })
        .then_expect_events(vec![SagaEvent::CompensationResumed {
            execution_id: id(),
            actor: "ops".to_owned(),
            resumed_at: at(20),
        }]);
    let mut events = parked();
    events.push(SagaEvent::CompensationResumed {
        execution_id: id(),
        actor: "ops".to_owned(),
        resumed_at: at(20),
    });
    let saga = Saga::from_events(events);
    assert_eq!(saga.status(), SagaStatus::Compensating);
    let hotel = saga.next_step().expect("Hotel is next");
    assert_eq!((hotel.next_attempt(), hotel.tries_this_round), (2, 0));
}

#[test]
fn skipping_the_parked_step_records_the_actor_and_goes_on() {
    AggregateTester::<Saga>::given(parked())
        .when(SagaCommand::SkipStep {
            step: "Hotel".to_owned(),
            actor: "ops".to_owned(),
            reason: "cancelled by phone".to_owned(),
            at: at(20),
        })
        .then_expect_events(vec![
            SagaEvent::StepSkipped {
                execution_id: id(),
                step: "Hotel".to_owned(),
                actor: "ops".to_owned(),
                reason: "cancelled by phone".to_owned(),
                skipped_at: at(20),
            },
            SagaEvent::CompensationResumed {
                execution_id: id(),
                actor: "ops".to_owned(),
                resumed_at: at(20),
            },
        ]);
    AggregateTester::<Saga>::given(vec![completed("Flight", 1), started()])
        .when(SagaCommand::SkipStep {
            step: "Flight".to_owned(),
            actor: "ops".to_owned(),
            reason: "by hand".to_owned(),
            at: at(20),
        })
        .then_expect_error(|e| matches!(e, SagaError::WrongStatus { .. }));
}

#[test]
fn the_state_is_the_fold_of_the_events() {
    let mut events = parked();
    events.push(SagaEvent::StepSkipped {
        execution_id: id(),
        step: "Hotel".to_owned(),
        actor: "ops".to_owned(),
        reason: "by phone".to_owned(),
        skipped_at: at(20),
    });
    events.push(SagaEvent::CompensationResumed {
        execution_id: id(),
        actor: "ops".to_owned(),
        resumed_at: at(20),
    });
    events.push(compensated("Flight", 1, 21));
    events.push(SagaEvent::Compensated {
        execution_id: id(),
        compensated_at: at(21),
    });
    let saga = Saga::from_events(events);
    assert_eq!(saga.status(), SagaStatus::Compensated);
    let statuses: Vec<_> = saga.steps().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [StepStatus::Compensated, StepStatus::Skipped]);
    assert_eq!(
        saga.step("Hotel").and_then(|s| s.skipped_by.as_deref()),
        Some("ops")
    );
    assert_eq!(saga.next_step(), None);
}

#[test]
fn a_saga_closes_when_its_execution_succeeds() {
    AggregateTester::<Saga>::given(vec![completed("Flight", 1)])
        .when(SagaCommand::Close { at: at(5) })
        .then_expect_events(vec![SagaEvent::Closed {
            execution_id: id(),
            closed_at: at(5),
        }]);
    AggregateTester::<Saga>::given(vec![completed("Flight", 1), started()])
        .when(SagaCommand::Close { at: at(5) })
        .then_expect_error(|e| matches!(e, SagaError::WrongStatus { .. }));
}
