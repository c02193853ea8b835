//! `Wait`, `Resume` and `ResumeWithToken`: a running node waits for a time or
//! a call, the first resume wins, a token resumes its node once and is never
//! shown.

use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionError, ExecutionEvent, ResumeSecret,
};
use flowforge_domain::{decode_event, Aggregate};
use serde_json::json;

use crate::support::{
    fetch_running, id, input, pause_running, requested, resume, resumed, succeeded, t, wait,
    waiting, with, ExecutionTester,
};

// Wait

#[test]
fn wait_records_the_deadline_and_resume_token() {
    ExecutionTester::given(pause_running())
        .when(wait("Pause"))
        .then_expect_events(vec![waiting("Pause", 3)]);
}

#[test]
fn wait_again_with_the_same_deadline_records_nothing() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(wait("Pause"))
        .then_expect_no_events();
}

#[test]
fn wait_again_with_another_deadline_is_refused() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(ExecutionCommand::Wait {
            node: "Pause".into(),
            until: Some(t(60)),
            resume_token_sha256: Some("tok".into()),
            at: t(4),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeWaiting {
                    node: "Pause".into(),
                }
        });
}

#[test]
fn wait_of_a_node_that_is_not_running_is_refused() {
    ExecutionTester::given(vec![requested()])
        .when(wait("Pause"))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotRunning {
                    node: "Pause".into(),
                }
        });
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(wait("Fetch"))
        .then_expect_error_message("node \"Fetch\" is not running");
}

// Resume

#[test]
fn resume_records_the_outputs_of_the_waiting_attempt() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(resume("Pause"))
        .then_expect_events(vec![resumed("Pause", 6)]);
}

#[test]
fn resume_again_records_nothing() {
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ))
    .when(resume("Pause"))
    .then_expect_no_events();
}

fn resume_with_token(node: &str) -> ExecutionCommand {
    ExecutionCommand::ResumeWithToken {
        node: node.into(),
        outputs: vec![input()],
        actor: "approver".into(),
        at: t(6),
    }
}

fn resumed_by_token(node: &str) -> ExecutionEvent {
    ExecutionEvent::NodeResumed {
        execution_id: id(),
        node: node.into(),
        attempt: 1,
        outputs: vec![input()],
        resumed_by: Some("approver".into()),
        resumed_at: t(6),
    }
}

#[test]
fn a_resume_token_resumes_its_waiting_node_and_records_who() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(resume_with_token("Pause"))
        .then_expect_events(vec![resumed_by_token("Pause")]);
}

#[test]
fn a_resume_token_works_once() {
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed_by_token("Pause")],
    ))
    .when(resume_with_token("Pause"))
    .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ))
    .when(resume_with_token("Pause"))
    .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn a_node_waiting_without_a_token_is_not_resumed_by_one() {
    let timed = ExecutionEvent::NodeWaiting {
        execution_id: id(),
        node: "Pause".into(),
        attempt: 1,
        until: Some(t(6)),
        resume_token: None,
        resume_token_sha256: None,
        waiting_since: t(3),
    };
    ExecutionTester::given(with(pause_running(), vec![timed]))
        .when(resume_with_token("Pause"))
        .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn the_resume_secret_is_never_serialised() {
    let execution = Execution::from_events(with(pause_running(), vec![waiting("Pause", 3)]));
    let shown = serde_json::to_string(&execution).expect("serialises");
    assert!(!shown.contains("tok"), "{shown}");
    assert!(shown.contains("\"awaits_resume\":true"), "{shown}");
}

#[test]
fn a_token_recorded_in_clear_before_digests_is_still_the_secret() {
    let legacy: ExecutionEvent = decode_event(
        "NodeWaiting",
        &json!({"execution_id": id(), "node": "Pause", "attempt": 1,
                "resume_token": "old", "waiting_since": t(3)}),
    )
    .expect("an old NodeWaiting decodes");
    let execution = Execution::from_events(with(pause_running(), vec![legacy]));
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.resume_token(), Some(&ResumeSecret::Clear("old".into())));
}

#[test]
fn resume_of_a_node_that_is_not_waiting_is_refused() {
    ExecutionTester::given(pause_running())
        .when(resume("Pause"))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotWaiting {
                    node: "Pause".into(),
                }
        });
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(resume("Fetch"))
        .then_expect_error_message("node \"Fetch\" is not waiting");
    ExecutionTester::given(vec![requested()])
        .when(resume("Pause"))
        .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn resume_with_more_output_lists_than_outputs_is_refused() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(ExecutionCommand::Resume {
            node: "Pause".into(),
            outputs: vec![vec![], vec![]],
            at: t(6),
        })
        .then_expect_error(|error| matches!(error, ExecutionError::TooManyOutputs { .. }));
}
