//! Given/when/then tests of the `ExecutionTree` aggregate: the count of
//! executions started under one root, and the bound that stops a workflow
//! starting itself forever.

use flowforge_domain::execution::ExecutionId;
use flowforge_domain::execution_tree::{
    ExecutionTree, ExecutionTreeCommand, ExecutionTreeError, ExecutionTreeEvent,
    DEFAULT_MAX_DESCENDANTS,
};
use flowforge_domain::testing::AggregateTester;
use flowforge_domain::{decode_event, encode_event, Aggregate};
use uuid::Uuid;

type TreeTester = AggregateTester<ExecutionTree>;

fn root() -> ExecutionId {
    ExecutionId::from_uuid(Uuid::from_u128(0x7007))
}

fn child(n: u128) -> ExecutionId {
    ExecutionId::from_uuid(Uuid::from_u128(0xc000 + n))
}

fn admit(n: u128, limit: u32) -> ExecutionTreeCommand {
    ExecutionTreeCommand::AdmitDescendant {
        root: root(),
        execution_id: child(n),
        parent: root(),
        limit,
    }
}

fn admitted(n: u128, descendants: u32) -> ExecutionTreeEvent {
    ExecutionTreeEvent::DescendantAdmitted {
        root: root(),
        execution_id: child(n),
        parent: root(),
        descendants,
    }
}

/// The first `count` children, admitted in order.
fn history(count: u32) -> Vec<ExecutionTreeEvent> {
    (1..=count).map(|n| admitted(u128::from(n), n)).collect()
}

#[test]
fn the_aggregate_type_is_execution_tree() {
    assert_eq!(ExecutionTree::TYPE, "execution_tree");
    assert_eq!(DEFAULT_MAX_DESCENDANTS, 1_000);
}

#[test]
fn the_first_descendant_is_admitted_as_number_one() {
    TreeTester::given_no_previous_events()
        .when(admit(1, 50))
        .then_expect_events(vec![admitted(1, 1)]);
}

#[test]
fn a_descendant_below_the_limit_is_admitted_with_the_new_count() {
    TreeTester::given(history(49))
        .when(admit(50, 50))
        .then_expect_events(vec![admitted(50, 50)]);
}

#[test]
fn a_descendant_past_the_limit_is_refused_naming_the_root_and_limit() {
    TreeTester::given(history(50))
        .when(admit(51, 50))
        .then_expect_error(|error| {
            *error
                == ExecutionTreeError::TooManyDescendants {
                    root: root(),
                    limit: 50,
                }
        });
    TreeTester::given(history(50))
        .when(admit(51, 50))
        .then_expect_error_message(&format!(
            "execution tree under root {} reached 50 descendants",
            root()
        ));
}

#[test]
fn admitting_the_same_execution_again_records_nothing() {
    TreeTester::given(history(3))
        .when(admit(2, 50))
        .then_expect_no_events();
}

#[test]
fn a_retried_admission_at_the_limit_is_still_accepted() {
    // The start that took the last place crashed before starting its child;
    // its retry must not be refused by its own admission.
    TreeTester::given(history(50))
        .when(admit(50, 50))
        .then_expect_no_events();
}

#[test]
fn a_lowered_limit_refuses_further_descendants() {
    TreeTester::given(history(10))
        .when(admit(11, 5))
        .then_expect_error(|error| {
            matches!(
                error,
                ExecutionTreeError::TooManyDescendants { limit: 5, .. }
            )
        });
}

#[test]
fn the_tree_counts_what_it_admitted() {
    let tree = ExecutionTree::from_events(history(7));
    assert_eq!(tree.descendants(), 7);
    assert!(tree.admitted(child(7)));
    assert!(!tree.admitted(child(8)));
}

#[test]
fn the_admission_event_round_trips_through_its_stored_form() {
    let (event_type, version, payload) = encode_event(&admitted(1, 1)).expect("encodes");
    assert_eq!(event_type, "DescendantAdmitted");
    assert_eq!(version, 1);
    assert_eq!(payload["descendants"], 1);
    let decoded: ExecutionTreeEvent = decode_event(event_type, &payload).expect("decodes");
    assert_eq!(decoded, admitted(1, 1));
}
