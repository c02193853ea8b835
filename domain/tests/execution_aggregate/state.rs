//! The state the events build: what was requested, the status, every node's
//! attempts, how the run ended, and its serialised form for the API.

use chrono::TimeDelta;
use flowforge_domain::execution::{
    Execution, ExecutionEvent, ExecutionStatus, NodeRunStatus, ResumeSecret, TriggerKind,
};
use flowforge_domain::Aggregate;
use serde_json::json;

use crate::support::{
    all_done, boom, cancelled, definition, execution_failed, execution_succeeded, failed,
    fetch_running, id, input, pause_running, requested, resumed, retry_scheduled, started,
    succeeded, t, waiting, with, workflow_id,
};

#[test]
fn state_before_the_request_is_empty() {
    let execution = Execution::default();
    assert!(!execution.exists());
    assert_eq!(execution.id(), None);
    assert_eq!(execution.definition(), None);
    assert_eq!(execution.start_node(), None);
    assert!(execution.node_runs().is_empty());
}

#[test]
fn state_keeps_the_request() {
    let execution = Execution::from_events(vec![requested()]);
    assert_eq!(execution.id(), Some(id()));
    assert_eq!(execution.workflow_id(), Some(workflow_id()));
    assert_eq!(execution.definition_version(), 3);
    assert_eq!(execution.definition(), Some(&definition()));
    assert_eq!(
        execution.trigger().map(|trigger| trigger.kind),
        Some(TriggerKind::Manual)
    );
    assert_eq!(execution.input(), input().as_slice());
    assert_eq!(execution.start_node(), Some("Start"));
    assert_eq!(execution.requested_at(), Some(t(0)));
    assert_eq!(execution.status(), ExecutionStatus::Running);
    assert!(!execution.is_finished());
}

#[test]
fn start_node_defaults_to_the_first_trigger_in_list_order() {
    let mut event = requested();
    if let ExecutionEvent::Requested { trigger, .. } = &mut event {
        trigger.node = None;
    }
    assert_eq!(
        Execution::from_events(vec![event]).start_node(),
        Some("Start")
    );
}

#[test]
fn status_is_waiting_while_a_node_waits_and_none_runs() {
    let execution = Execution::from_events(with(pause_running(), vec![waiting("Pause", 3)]));
    assert_eq!(execution.status(), ExecutionStatus::Waiting);
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.status(), NodeRunStatus::Waiting);
    assert_eq!(run.waiting_until(), Some(t(6)));
    assert_eq!(
        run.resume_token(),
        Some(&ResumeSecret::Sha256("tok".into()))
    );

    let execution = Execution::from_events(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ));
    assert_eq!(execution.status(), ExecutionStatus::Running);
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.status(), NodeRunStatus::Succeeded);
    assert_eq!(run.waiting_until(), None);
    let attempt = run.latest_attempt().expect("one attempt");
    assert_eq!(attempt.waiting_since(), Some(t(3)));
    assert_eq!(attempt.finished_at(), Some(t(6)));
    assert_eq!(attempt.duration(), Some(TimeDelta::seconds(3)));
}

#[test]
fn node_runs_keep_every_attempt_with_input_outputs_and_error() {
    let execution = Execution::from_events(with(
        fetch_running(),
        vec![
            failed("Fetch", 1, 2),
            retry_scheduled("Fetch", 2, 2),
            started("Fetch", 2, 4),
            succeeded("Fetch", 2, 5),
        ],
    ));
    let names: Vec<&str> = execution.node_runs().iter().map(|run| run.node()).collect();
    assert_eq!(names, ["Start", "Fetch"]);
    let run = execution.node_run("Fetch").expect("Fetch ran");
    assert_eq!(run.status(), NodeRunStatus::Succeeded);
    assert_eq!(run.latest_attempt_number(), 2);
    assert_eq!(run.next_retry_at(), None);
    let [first, second] = run.attempts() else {
        panic!("two attempts, got {:?}", run.attempts())
    };
    assert_eq!(first.attempt(), 1);
    assert_eq!(first.error(), Some(&boom()));
    assert_eq!(first.outputs(), None);
    assert_eq!(second.attempt(), 2);
    assert_eq!(second.input(), [input()].as_slice());
    assert_eq!(second.started_at(), t(4));
    assert_eq!(second.outputs(), Some([input()].as_slice()));
    assert_eq!(second.error(), None);
    assert_eq!(second.duration(), Some(TimeDelta::seconds(1)));

    let scheduled = Execution::from_events(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ));
    let run = scheduled.node_run("Fetch").expect("Fetch ran");
    assert_eq!(run.status(), NodeRunStatus::RetryScheduled);
    assert_eq!(
        run.next_retry_at(),
        Some(t(2) + TimeDelta::milliseconds(500))
    );
}

#[test]
fn ending_events_record_the_outcome_and_timings() {
    let succeeded = Execution::from_events(with(all_done(), vec![execution_succeeded()]));
    assert_eq!(succeeded.status(), ExecutionStatus::Succeeded);
    assert_eq!(succeeded.last_node(), Some("Done"));
    assert_eq!(succeeded.output(), Some([input()].as_slice()));
    assert_eq!(succeeded.finished_at(), Some(t(8)));
    assert_eq!(succeeded.duration(), Some(TimeDelta::seconds(8)));

    let failed = Execution::from_events(with(fetch_running(), vec![execution_failed()]));
    assert_eq!(failed.status(), ExecutionStatus::Failed);
    let failure = failed.failure().expect("a failure");
    assert_eq!(failure.node.as_deref(), Some("Fetch"));
    assert_eq!(failure.error, boom());

    let cancelled = Execution::from_events(vec![requested(), cancelled()]);
    assert_eq!(cancelled.status(), ExecutionStatus::Cancelled);
    assert!(cancelled.is_finished());
    let cancellation = cancelled.cancellation().expect("a cancellation");
    assert_eq!(cancellation.actor, "alice");
}

#[test]
fn state_serialises_for_the_api() {
    let execution = Execution::from_events(with(fetch_running(), vec![failed("Fetch", 1, 2)]));
    let json = serde_json::to_value(&execution).expect("the state serialises");
    assert_eq!(json["status"], json!("running"));
    assert_eq!(json["id"], json!(id()));
    assert_eq!(json["node_runs"][1]["node"], json!("Fetch"));
    assert_eq!(json["node_runs"][1]["status"], json!("failed"));
    assert_eq!(
        json["node_runs"][1]["attempts"][0]["error"],
        json!({"message": "HTTP 503", "code": "http_status"})
    );
}
