//! `Request` (depth limit, root, trigger node, reused outputs, asking again)
//! and `Queue` (held back by the concurrency cap once, before any node ran).

use std::collections::BTreeMap;

use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionId, ExecutionStatus,
    ParentExecution, Trigger, TriggerKind, MAX_SUB_WORKFLOW_DEPTH,
};
use flowforge_domain::{decode_event, encode_event, Aggregate};
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    all_done, cancel, complete, execution_succeeded, id, input, request, requested, start, started,
    t, with, ExecutionTester,
};

// Request

#[test]
fn request_records_the_pinned_definition_trigger_and_input() {
    ExecutionTester::given_no_previous_events()
        .when(request())
        .then_expect_events(vec![requested()]);
}

#[test]
fn request_of_a_sub_workflow_with_reused_outputs_records_both() {
    let parent = ParentExecution {
        execution_id: ExecutionId::from_uuid(Uuid::from_u128(1)),
        node: "Call".into(),
        depth: 1,
        root: Some(ExecutionId::from_uuid(Uuid::from_u128(1))),
    };
    let reuse = BTreeMap::from([("Start".to_owned(), vec![input()])]);
    let ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        ..
    } = request()
    else {
        unreachable!("request() builds a Request")
    };
    ExecutionTester::given_no_previous_events()
        .when(ExecutionCommand::Request {
            execution_id,
            workflow_id,
            definition_version,
            definition: definition.clone(),
            trigger: Trigger::new(TriggerKind::SubWorkflow),
            input: vec![],
            parent: Some(parent.clone()),
            reuse: reuse.clone(),
            at: t(0),
        })
        .then_expect_events(vec![ExecutionEvent::Requested {
            execution_id,
            workflow_id,
            definition_version,
            definition,
            trigger: Trigger::new(TriggerKind::SubWorkflow),
            input: vec![],
            parent: Some(parent),
            reuse,
            requested_at: t(0),
        }]);
}

/// A request at `depth` sub-workflow calls.
fn request_at_depth(depth: u32) -> ExecutionCommand {
    let mut command = request();
    if let ExecutionCommand::Request {
        trigger, parent, ..
    } = &mut command
    {
        *trigger = Trigger::new(TriggerKind::SubWorkflow);
        *parent = Some(ParentExecution {
            execution_id: ExecutionId::from_uuid(Uuid::from_u128(1)),
            node: "Call".into(),
            depth,
            root: Some(ExecutionId::from_uuid(Uuid::from_u128(7))),
        });
    }
    command
}

#[test]
fn a_sub_workflow_at_the_depth_limit_runs() {
    let events = Execution::from_events(Vec::new())
        .handle(request_at_depth(MAX_SUB_WORKFLOW_DEPTH))
        .expect("accepted");
    assert_eq!(events.len(), 1);
    let execution = Execution::from_events(events);
    assert_eq!(execution.depth(), MAX_SUB_WORKFLOW_DEPTH);
}

#[test]
fn an_execution_nothing_called_is_its_own_root() {
    let execution = Execution::from_events(vec![requested()]);
    assert_eq!(execution.root_id(), Some(id()));
    assert_eq!(Execution::default().root_id(), None);
}

#[test]
fn a_sub_workflow_belongs_to_its_caller_s_root() {
    let events = Execution::from_events(Vec::new())
        .handle(request_at_depth(3))
        .expect("accepted");
    let execution = Execution::from_events(events);
    assert_eq!(
        execution.root_id(),
        Some(ExecutionId::from_uuid(Uuid::from_u128(7)))
    );
}

#[test]
fn a_sub_workflow_recorded_before_roots_were_kept_takes_its_caller_as_root() {
    let (event_type, _, mut payload) = encode_event(&requested()).expect("encodes");
    payload["parent"] =
        json!({"execution_id": ExecutionId::from_uuid(Uuid::from_u128(1)), "node": "Call"});
    let legacy: ExecutionEvent = decode_event(event_type, &payload).expect("an old event decodes");
    let execution = Execution::from_events(vec![legacy]);
    assert_eq!(execution.depth(), 1);
    assert_eq!(
        execution.root_id(),
        Some(ExecutionId::from_uuid(Uuid::from_u128(1)))
    );
}

#[test]
fn a_sub_workflow_past_the_depth_limit_is_refused() {
    ExecutionTester::given_no_previous_events()
        .when(request_at_depth(MAX_SUB_WORKFLOW_DEPTH + 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooDeep {
                    depth: MAX_SUB_WORKFLOW_DEPTH + 1,
                    limit: MAX_SUB_WORKFLOW_DEPTH,
                }
        });
}

#[test]
fn a_parent_recorded_before_depth_was_kept_reads_as_the_first_level() {
    let parent: ParentExecution = serde_json::from_value(json!({
        "execution_id": Uuid::from_u128(1),
        "node": "Call",
    }))
    .expect("the old shape decodes");
    assert_eq!(parent.depth, 1);
}

#[test]
fn request_again_with_the_same_content_records_nothing() {
    ExecutionTester::given(vec![requested()])
        .when(request())
        .then_expect_no_events();
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(request())
        .then_expect_no_events();
}

#[test]
fn request_again_with_other_content_is_refused() {
    let mut other = request();
    if let ExecutionCommand::Request { input, .. } = &mut other {
        input.clear();
    }
    ExecutionTester::given(vec![requested()])
        .when(other)
        .then_expect_error(|error| *error == ExecutionError::AlreadyExists { execution_id: id() });
}

#[test]
fn request_is_refused_with_an_unknown_trigger_node() {
    let mut command = request();
    if let ExecutionCommand::Request { trigger, .. } = &mut command {
        trigger.node = Some("Nope".into());
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Nope".into(),
                }
        });
}

#[test]
fn request_is_refused_when_the_trigger_node_is_not_a_trigger() {
    let mut command = request();
    if let ExecutionCommand::Request { trigger, .. } = &mut command {
        trigger.node = Some("Fetch".into());
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error_message("node \"Fetch\" is not a trigger node");
}

#[test]
fn request_is_refused_when_reusing_an_unknown_node() {
    let mut command = request();
    if let ExecutionCommand::Request { reuse, .. } = &mut command {
        reuse.insert("Ghost".into(), vec![]);
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Ghost".into(),
                }
        });
}

#[test]
fn request_is_refused_when_reused_outputs_exceed_the_node_outputs() {
    let mut command = request();
    if let ExecutionCommand::Request { reuse, .. } = &mut command {
        reuse.insert("Fetch".into(), vec![vec![], vec![]]);
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooManyOutputs {
                    node: "Fetch".into(),
                    outputs: 1,
                    got: 2,
                }
        });
}

#[test]
fn any_other_command_before_the_request_is_refused() {
    for command in [
        start("Start", 1),
        complete("Start", 1),
        ExecutionCommand::Succeed { at: t(1) },
        cancel(),
    ] {
        ExecutionTester::given_no_previous_events()
            .when(command)
            .then_expect_error(|error| *error == ExecutionError::NotFound);
    }
}

// Queue

fn queued(at: i64) -> ExecutionEvent {
    ExecutionEvent::Queued {
        execution_id: id(),
        queued_at: t(at),
    }
}

#[test]
fn queue_holds_a_requested_execution_back_once() {
    ExecutionTester::given(vec![requested()])
        .when(ExecutionCommand::Queue { at: t(1) })
        .then_expect_events(vec![queued(1)]);
    ExecutionTester::given(vec![requested(), queued(1)])
        .when(ExecutionCommand::Queue { at: t(2) })
        .then_expect_no_events();
    let execution = Execution::from_events(vec![requested(), queued(1)]);
    assert_eq!(execution.status(), ExecutionStatus::Queued);
}

#[test]
fn queue_after_a_node_ran_records_nothing() {
    ExecutionTester::given(vec![requested(), started("Start", 1, 1)])
        .when(ExecutionCommand::Queue { at: t(2) })
        .then_expect_no_events();
}

#[test]
fn the_first_node_start_ends_the_queueing() {
    let execution = Execution::from_events(vec![requested(), queued(1), started("Start", 1, 2)]);
    assert_eq!(execution.status(), ExecutionStatus::Running);
}
