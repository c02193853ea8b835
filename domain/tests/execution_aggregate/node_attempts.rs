//! `StartNode`, `CompleteNode`, `FailNode` and `RecordRun`: a node runs once
//! it is ready, only the running attempt ends, a redelivered result is a no-op,
//! and a pure node's run is recorded in one append.

use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionStatus, RunOutcome,
};
use flowforge_domain::testing::AggregateTester;
use serde_json::json;

use crate::support::{
    all_done, boom, cancelled, complete, execution_succeeded, fail, failed, fetch_running, input,
    is_finished_as, one, requested, retry_scheduled, start, started, succeeded, t, waiting, with,
    ExecutionTester,
};

// StartNode

#[test]
fn start_the_trigger_node_records_attempt_1_with_its_input() {
    ExecutionTester::given(vec![requested()])
        .when(ExecutionCommand::StartNode {
            node: "Start".into(),
            attempt: 1,
            input: vec![input()],
            at: t(1),
        })
        .then_expect_events(vec![started("Start", 1, 1)]);
}

#[test]
fn start_a_node_once_its_predecessor_succeeded() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
    ])
    .when(start("Fetch", 1))
    .then_expect_events(vec![started("Fetch", 1, 2)]);
}

#[test]
fn start_is_refused_for_a_node_the_definition_lacks() {
    ExecutionTester::given(vec![requested()])
        .when(start("Nope", 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Nope".into(),
                }
        });
}

#[test]
fn start_is_refused_before_the_predecessors_finished() {
    ExecutionTester::given(vec![requested(), started("Start", 1, 1)])
        .when(start("Fetch", 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotReady {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_is_refused_for_a_trigger_that_did_not_fire() {
    ExecutionTester::given(vec![requested()])
        .when(start("Hook", 1))
        .then_expect_error_message("node \"Hook\" is not ready to run");
}

#[test]
fn start_is_refused_when_the_first_attempt_is_not_1() {
    ExecutionTester::given(vec![requested()])
        .when(start("Start", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Start".into(),
                    expected: 1,
                    got: 2,
                }
        });
}

#[test]
fn start_again_of_the_running_attempt_records_nothing() {
    ExecutionTester::given(fetch_running())
        .when(start("Fetch", 1))
        .then_expect_no_events();
}

#[test]
fn start_of_another_attempt_while_one_runs_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeAlreadyRunning {
                    node: "Fetch".into(),
                    attempt: 1,
                }
        });
}

#[test]
fn start_after_success_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeAlreadySucceeded {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_of_a_node_whose_outputs_are_reused_is_refused() {
    let mut events = vec![requested()];
    if let ExecutionEvent::Requested { reuse, .. } = &mut events[0] {
        reuse.insert("Start".into(), vec![input()]);
    }
    ExecutionTester::given(events)
        .when(start("Start", 1))
        .then_expect_error_message("node \"Start\" has already succeeded");
}

#[test]
fn start_after_a_failure_without_a_scheduled_retry_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::RetryNotScheduled {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_of_the_scheduled_retry_records_the_next_attempt() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(start("Fetch", 2))
    .then_expect_events(vec![started("Fetch", 2, 2)]);
}

#[test]
fn start_of_another_attempt_than_the_scheduled_one_is_refused() {
    for attempt in [1, 3] {
        ExecutionTester::given(with(
            fetch_running(),
            vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
        ))
        .when(start("Fetch", attempt))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Fetch".into(),
                    expected: 2,
                    got: attempt,
                }
        });
    }
}

#[test]
fn start_after_the_execution_ended_is_refused() {
    ExecutionTester::given(vec![requested(), cancelled()])
        .when(start("Start", 1))
        .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
}

// CompleteNode

#[test]
fn complete_records_the_outputs_of_the_running_attempt() {
    ExecutionTester::given(fetch_running())
        .when(complete("Fetch", 1))
        .then_expect_events(vec![succeeded("Fetch", 1, 2)]);
}

#[test]
fn complete_again_of_the_same_attempt_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(ExecutionCommand::CompleteNode {
            node: "Fetch".into(),
            attempt: 1,
            outputs: one(json!({"other": "result"})),
            at: t(5),
        })
        .then_expect_no_events();
}

#[test]
fn complete_of_another_attempt_than_the_running_one_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(complete("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::AttemptNotRunning {
                    node: "Fetch".into(),
                    attempt: 2,
                }
        });
}

#[test]
fn complete_of_a_node_that_never_started_is_refused() {
    ExecutionTester::given(vec![requested()])
        .when(complete("Fetch", 1))
        .then_expect_error_message("attempt 1 of node \"Fetch\" is not running");
}

#[test]
fn complete_of_a_failed_attempt_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(complete("Fetch", 1))
        .then_expect_error(|error| matches!(error, ExecutionError::AttemptNotRunning { .. }));
}

#[test]
fn complete_of_a_waiting_node_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
        waiting("Pause", 3),
    ])
    .when(complete("Pause", 1))
    .then_expect_error(|error| {
        *error
            == ExecutionError::NodeWaiting {
                node: "Pause".into(),
            }
    });
}

#[test]
fn complete_with_more_output_lists_than_outputs_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::CompleteNode {
            node: "Fetch".into(),
            attempt: 1,
            outputs: vec![input(), input()],
            at: t(2),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooManyOutputs {
                    node: "Fetch".into(),
                    outputs: 1,
                    got: 2,
                }
        });
}

// FailNode

#[test]
fn fail_node_records_the_error_and_the_attempt() {
    ExecutionTester::given(fetch_running())
        .when(fail("Fetch", 1))
        .then_expect_events(vec![failed("Fetch", 1, 2)]);
}

#[test]
fn fail_node_of_a_waiting_node_is_accepted() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
        waiting("Pause", 3),
    ])
    .when(fail("Pause", 1))
    .then_expect_events(vec![failed("Pause", 1, 2)]);
}

#[test]
fn fail_node_again_of_the_same_attempt_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(fail("Fetch", 1))
        .then_expect_no_events();
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(fail("Fetch", 1))
    .then_expect_no_events();
}

#[test]
fn fail_node_of_another_attempt_than_the_running_one_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(fail("Fetch", 3))
        .then_expect_error(|error| {
            *error
                == ExecutionError::AttemptNotRunning {
                    node: "Fetch".into(),
                    attempt: 3,
                }
        });
}

#[test]
fn fail_node_after_success_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(fail("Fetch", 1))
        .then_expect_error(|error| matches!(error, ExecutionError::AttemptNotRunning { .. }));
}

// RecordRun

fn record_run(node: &str, outcome: RunOutcome, started: i64, finished: i64) -> ExecutionCommand {
    ExecutionCommand::RecordRun {
        node: node.into(),
        attempt: 1,
        input: vec![input()],
        outcome,
        started_at: t(started),
        finished_at: t(finished),
    }
}

#[test]
fn a_pure_node_s_run_records_its_start_and_end_in_one_append() {
    AggregateTester::<Execution>::given(vec![requested()])
        .when(record_run(
            "Start",
            RunOutcome::Succeeded(vec![input()]),
            1,
            1,
        ))
        .then_expect_events(vec![started("Start", 1, 1), succeeded("Start", 1, 1)]);
}

#[test]
fn a_pure_node_s_failed_run_records_the_failure() {
    let mut given = all_done();
    given.truncate(8);
    AggregateTester::<Execution>::given(given)
        .when(record_run("Done", RunOutcome::Failed(boom()), 7, 7))
        .then_expect_events(vec![started("Done", 1, 7), failed("Done", 1, 7)]);
}

#[test]
fn the_last_pure_run_also_ends_the_execution() {
    let mut given = all_done();
    given.truncate(8);
    let mut ended = execution_succeeded();
    if let ExecutionEvent::Succeeded { finished_at, .. } = &mut ended {
        *finished_at = t(7);
    }
    AggregateTester::<Execution>::given(given)
        .when(record_run(
            "Done",
            RunOutcome::Succeeded(vec![input()]),
            7,
            7,
        ))
        .then_expect_events(vec![started("Done", 1, 7), succeeded("Done", 1, 7), ended]);
}

#[test]
fn a_run_record_of_a_node_that_is_not_ready_is_refused() {
    AggregateTester::<Execution>::given(vec![requested()])
        .when(record_run(
            "Done",
            RunOutcome::Succeeded(vec![input()]),
            1,
            1,
        ))
        .then_expect_error(|e| matches!(e, ExecutionError::NodeNotReady { .. }));
}
