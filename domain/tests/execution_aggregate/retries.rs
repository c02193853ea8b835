//! `ScheduleRetry`: only after a failure, only the next attempt, within the
//! node's `retry.max_tries`, with a wait that fits a timestamp.

use flowforge_domain::execution::{ExecutionCommand, ExecutionError};

use crate::support::{
    failed, fetch_running, requested, retry_scheduled, schedule_retry, started, t, with,
    ExecutionTester,
};

#[test]
fn schedule_retry_records_the_next_attempt_and_its_due_time() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(schedule_retry("Fetch", 2))
        .then_expect_events(vec![retry_scheduled("Fetch", 2, 2)]);
}

#[test]
fn schedule_retry_again_records_nothing() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(schedule_retry("Fetch", 2))
    .then_expect_no_events();
}

#[test]
fn schedule_retry_without_a_failure_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(schedule_retry("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotFailed {
                    node: "Fetch".into(),
                }
        });
    ExecutionTester::given(vec![requested()])
        .when(schedule_retry("Fetch", 2))
        .then_expect_error_message("node \"Fetch\" has not failed");
}

#[test]
fn schedule_retry_of_another_attempt_than_the_next_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(schedule_retry("Fetch", 3))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Fetch".into(),
                    expected: 2,
                    got: 3,
                }
        });
}

#[test]
fn schedule_retry_beyond_max_tries_is_refused() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![
            failed("Fetch", 1, 2),
            retry_scheduled("Fetch", 2, 2),
            started("Fetch", 2, 3),
            failed("Fetch", 2, 3),
        ],
    ))
    .when(schedule_retry("Fetch", 3))
    .then_expect_error(|error| {
        *error
            == ExecutionError::RetriesExhausted {
                node: "Fetch".into(),
                max_tries: 2,
            }
    });
}

#[test]
fn schedule_retry_of_a_node_without_retry_policy_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        failed("Start", 1, 1),
    ])
    .when(schedule_retry("Start", 2))
    .then_expect_error_message("may be tried at most 1 time(s)");
}

#[test]
fn schedule_retry_with_an_unrepresentable_wait_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(ExecutionCommand::ScheduleRetry {
            node: "Fetch".into(),
            next_attempt: 2,
            wait_ms: u64::MAX,
            at: t(2),
        })
        .then_expect_error(|error| matches!(error, ExecutionError::WaitOutOfRange { .. }));
}
