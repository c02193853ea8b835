//! `Succeed`, `Fail` and `Cancel`: how a run ends, that repeating the ending
//! is a no-op, and that nothing else is accepted afterwards.

use flowforge_domain::execution::{
    ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionStatus, NodeError,
};

use crate::support::{
    all_done, boom, cancel, cancelled, complete, execution_failed, execution_succeeded, fail,
    fail_execution, failed, fetch_running, id, is_finished_as, requested, resume, schedule_retry,
    started, t, wait, with, ExecutionTester,
};

// Succeed

#[test]
fn succeed_records_the_last_node_and_its_outputs() {
    ExecutionTester::given(all_done())
        .when(ExecutionCommand::Succeed { at: t(8) })
        .then_expect_events(vec![execution_succeeded()]);
}

#[test]
fn succeed_again_records_nothing() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(ExecutionCommand::Succeed { at: t(20) })
        .then_expect_no_events();
}

#[test]
fn succeed_while_nodes_are_open_is_refused_and_names_them() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Succeed { at: t(8) })
        .then_expect_error(|error| {
            *error
                == ExecutionError::NotComplete {
                    nodes: vec!["Fetch".into(), "Pause".into(), "Done".into()],
                }
        });
}

#[test]
fn succeed_after_a_node_failed_for_good_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        failed("Start", 1, 1),
    ])
    .when(ExecutionCommand::Succeed { at: t(8) })
    .then_expect_error_message("nodes still open: Start");
}

#[test]
fn succeed_after_another_ending_is_refused() {
    ExecutionTester::given(with(all_done(), vec![cancelled()]))
        .when(ExecutionCommand::Succeed { at: t(10) })
        .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
    ExecutionTester::given(with(all_done(), vec![execution_failed()]))
        .when(ExecutionCommand::Succeed { at: t(10) })
        .then_expect_error(is_finished_as(ExecutionStatus::Failed));
}

// Fail

#[test]
fn fail_records_the_error_and_the_failed_node() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(fail_execution())
        .then_expect_events(vec![execution_failed()]);
}

#[test]
fn fail_while_nodes_run_is_accepted() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Fail {
            error: NodeError::new("execution timed out").with_code("timeout"),
            failed_node: None,
            at: t(9),
        })
        .then_expect_events(vec![ExecutionEvent::Failed {
            execution_id: id(),
            failed_node: None,
            error: NodeError::new("execution timed out").with_code("timeout"),
            finished_at: t(9),
        }]);
}

#[test]
fn fail_again_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![execution_failed()]))
        .when(fail_execution())
        .then_expect_no_events();
}

#[test]
fn fail_naming_an_unknown_node_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Fail {
            error: boom(),
            failed_node: Some("Ghost".into()),
            at: t(9),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Ghost".into(),
                }
        });
}

#[test]
fn fail_after_another_ending_is_refused() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(fail_execution())
        .then_expect_error(is_finished_as(ExecutionStatus::Succeeded));
}

// Cancel

#[test]
fn cancel_records_the_reason_and_actor() {
    ExecutionTester::given(fetch_running())
        .when(cancel())
        .then_expect_events(vec![cancelled()]);
}

#[test]
fn cancel_again_records_nothing() {
    ExecutionTester::given(vec![requested(), cancelled()])
        .when(cancel())
        .then_expect_no_events();
}

#[test]
fn cancel_after_the_execution_ended_is_refused() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(cancel())
        .then_expect_error(is_finished_as(ExecutionStatus::Succeeded));
    ExecutionTester::given(with(fetch_running(), vec![execution_failed()]))
        .when(cancel())
        .then_expect_error_message("has already finished (failed)");
}

// Node commands after the end

#[test]
fn node_commands_after_the_end_are_refused() {
    for command in [
        complete("Fetch", 1),
        fail("Fetch", 1),
        schedule_retry("Fetch", 2),
        wait("Fetch"),
        resume("Fetch"),
    ] {
        ExecutionTester::given(with(fetch_running(), vec![cancelled()]))
            .when(command)
            .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
    }
}
