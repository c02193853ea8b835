//! Given/when/then tests of the `Workflow` aggregate: one per accepted and per
//! refused command, through the generic `AggregateTester`.

use flowforge_domain::testing::AggregateTester;
use flowforge_domain::workflow::{
    InvalidTagReason, RawNode, RawWorkflowDefinition, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowError, WorkflowEvent, WorkflowId, WorkflowStatus,
};
use flowforge_domain::Aggregate;
use serde_json::json;
use uuid::Uuid;

type WorkflowTester = AggregateTester<Workflow>;

fn id() -> WorkflowId {
    WorkflowId::from_uuid(Uuid::from_u128(0x00f1_0f0e))
}

fn definition(name: &str) -> WorkflowDefinition {
    let raw = RawWorkflowDefinition {
        name: name.to_owned(),
        nodes: vec![
            RawNode::new("Start", "manual_trigger"),
            RawNode::new("Done", "noop"),
        ],
        connections: serde_json::from_value(json!({"Start": {"main": [[{"node": "Done"}]]}}))
            .expect("connections are well-formed"),
        ..RawWorkflowDefinition::default()
    };
    WorkflowDefinition::parse(raw).expect("the test definition is valid")
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|tag| (*tag).to_owned()).collect()
}

fn created() -> WorkflowEvent {
    WorkflowEvent::Created {
        workflow_id: id(),
        name: "orders".into(),
        definition: definition("orders"),
        tags: tags(&["shop"]),
        definition_version: 1,
    }
}

fn updated(name: &str, version: u32) -> WorkflowEvent {
    WorkflowEvent::DefinitionUpdated {
        workflow_id: id(),
        name: name.into(),
        definition: definition(name),
        tags: tags(&["shop"]),
        definition_version: version,
    }
}

fn activated(version: u32) -> WorkflowEvent {
    WorkflowEvent::Activated {
        workflow_id: id(),
        definition_version: version,
    }
}

fn deactivated() -> WorkflowEvent {
    WorkflowEvent::Deactivated { workflow_id: id() }
}

fn archived() -> WorkflowEvent {
    WorkflowEvent::Archived { workflow_id: id() }
}

fn create(tag_list: &[&str]) -> WorkflowCommand {
    WorkflowCommand::Create {
        workflow_id: id(),
        definition: definition("orders"),
        tags: tags(tag_list),
    }
}

fn update(name: &str, tag_list: Option<&[&str]>) -> WorkflowCommand {
    WorkflowCommand::UpdateDefinition {
        definition: definition(name),
        tags: tag_list.map(tags),
    }
}

fn is_archived(error: &WorkflowError) -> bool {
    *error == WorkflowError::Archived { workflow_id: id() }
}

fn is_not_found(error: &WorkflowError) -> bool {
    *error == WorkflowError::NotFound
}

#[test]
fn the_aggregate_type_is_workflow() {
    assert_eq!(Workflow::TYPE, "workflow");
}

// Create

#[test]
fn create_records_the_workflow_at_version_1() {
    WorkflowTester::given_no_previous_events()
        .when(create(&["shop"]))
        .then_expect_events(vec![created()]);
}

#[test]
fn create_trims_tags_and_drops_repeats() {
    WorkflowTester::given_no_previous_events()
        .when(create(&["  shop ", "shop", "eu"]))
        .then_expect_events(vec![WorkflowEvent::Created {
            workflow_id: id(),
            name: "orders".into(),
            definition: definition("orders"),
            tags: tags(&["shop", "eu"]),
            definition_version: 1,
        }]);
}

#[test]
fn create_accepts_twenty_tags_of_thirty_two_characters() {
    let many: Vec<String> = (0..20).map(|i| format!("{i:0>32}")).collect();
    let events = WorkflowTester::given_no_previous_events()
        .when(WorkflowCommand::Create {
            workflow_id: id(),
            definition: definition("orders"),
            tags: many.clone(),
        })
        .inspect_result()
        .expect("the limits themselves are allowed");
    assert!(matches!(&events[..], [WorkflowEvent::Created { tags, .. }] if *tags == many));
}

#[test]
fn create_is_refused_when_the_workflow_exists() {
    WorkflowTester::given(vec![created()])
        .when(create(&[]))
        .then_expect_error(|error| *error == WorkflowError::AlreadyExists { workflow_id: id() });
}

#[test]
fn create_is_refused_when_the_workflow_is_archived() {
    WorkflowTester::given(vec![created(), archived()])
        .when(create(&[]))
        .then_expect_error(is_archived);
}

#[test]
fn create_is_refused_with_a_blank_tag() {
    WorkflowTester::given_no_previous_events()
        .when(create(&["shop", "   "]))
        .then_expect_error(|error| {
            *error
                == WorkflowError::InvalidTag {
                    tag: "   ".into(),
                    reason: InvalidTagReason::Empty,
                }
        });
}

#[test]
fn create_is_refused_with_a_tag_over_thirty_two_characters() {
    let long = "x".repeat(33);
    WorkflowTester::given_no_previous_events()
        .when(create(&[&long]))
        .then_expect_error_message(&format!("invalid tag \"{long}\""));
}

#[test]
fn create_is_refused_with_more_than_twenty_tags() {
    let many: Vec<String> = (0..21).map(|i| format!("tag-{i}")).collect();
    WorkflowTester::given_no_previous_events()
        .when(WorkflowCommand::Create {
            workflow_id: id(),
            definition: definition("orders"),
            tags: many,
        })
        .then_expect_error(|error| *error == WorkflowError::TooManyTags { count: 21 });
}

// UpdateDefinition

#[test]
fn update_records_the_next_definition_version_keeping_tags() {
    WorkflowTester::given(vec![created()])
        .when(update("orders v2", None))
        .then_expect_events(vec![updated("orders v2", 2)]);
}

#[test]
fn update_replaces_tags_when_given() {
    WorkflowTester::given(vec![created()])
        .when(update("orders", Some(&["eu", " retail "])))
        .then_expect_events(vec![WorkflowEvent::DefinitionUpdated {
            workflow_id: id(),
            name: "orders".into(),
            definition: definition("orders"),
            tags: tags(&["eu", "retail"]),
            definition_version: 2,
        }]);
}

#[test]
fn update_counts_versions_from_the_latest_one() {
    WorkflowTester::given(vec![created(), updated("b", 2), updated("c", 3)])
        .when(update("d", None))
        .then_expect_events(vec![updated("d", 4)]);
}

#[test]
fn update_of_an_active_workflow_is_accepted() {
    WorkflowTester::given(vec![created(), activated(1)])
        .when(update("orders v2", None))
        .then_expect_events(vec![updated("orders v2", 2)]);
}

#[test]
fn update_with_the_same_definition_and_tags_records_nothing() {
    WorkflowTester::given(vec![created()])
        .when(update("orders", Some(&[" shop"])))
        .then_expect_no_events();
    WorkflowTester::given(vec![created(), updated("v2", 2)])
        .when(update("v2", None))
        .then_expect_no_events();
}

#[test]
fn update_is_refused_when_the_workflow_does_not_exist() {
    WorkflowTester::given_no_previous_events()
        .when(update("orders", None))
        .then_expect_error(is_not_found);
}

#[test]
fn update_is_refused_when_the_workflow_is_archived() {
    WorkflowTester::given(vec![created(), archived()])
        .when(update("orders v2", None))
        .then_expect_error(is_archived);
}

#[test]
fn update_is_refused_with_an_invalid_tag() {
    WorkflowTester::given(vec![created()])
        .when(update("orders", Some(&[""])))
        .then_expect_error_message("a tag cannot be empty");
}

// Activate

#[test]
fn activate_records_the_current_definition_version() {
    WorkflowTester::given(vec![created(), updated("v2", 2)])
        .when(WorkflowCommand::Activate)
        .then_expect_events(vec![activated(2)]);
}

#[test]
fn activate_after_deactivate_is_accepted() {
    WorkflowTester::given(vec![created(), activated(1), deactivated()])
        .when(WorkflowCommand::Activate)
        .then_expect_events(vec![activated(1)]);
}

#[test]
fn activate_when_already_active_records_nothing() {
    WorkflowTester::given(vec![created(), activated(1)])
        .when(WorkflowCommand::Activate)
        .then_expect_no_events();
}

#[test]
fn activate_is_refused_when_the_workflow_does_not_exist() {
    WorkflowTester::given_no_previous_events()
        .when(WorkflowCommand::Activate)
        .then_expect_error(is_not_found);
}

#[test]
fn activate_is_refused_when_the_workflow_is_archived() {
    WorkflowTester::given(vec![created(), archived()])
        .when(WorkflowCommand::Activate)
        .then_expect_error_message("is archived");
}

// Deactivate

#[test]
fn deactivate_an_active_workflow() {
    WorkflowTester::given(vec![created(), activated(1)])
        .when(WorkflowCommand::Deactivate)
        .then_expect_events(vec![deactivated()]);
}

#[test]
fn deactivate_when_already_inactive_records_nothing() {
    WorkflowTester::given(vec![created()])
        .when(WorkflowCommand::Deactivate)
        .then_expect_no_events();
}

#[test]
fn deactivate_is_refused_when_the_workflow_does_not_exist() {
    WorkflowTester::given_no_previous_events()
        .when(WorkflowCommand::Deactivate)
        .then_expect_error(is_not_found);
}

#[test]
fn deactivate_is_refused_when_the_workflow_is_archived() {
    WorkflowTester::given(vec![created(), activated(1), archived()])
        .when(WorkflowCommand::Deactivate)
        .then_expect_error(is_archived);
}

// Archive

#[test]
fn archive_an_inactive_workflow() {
    WorkflowTester::given(vec![created()])
        .when(WorkflowCommand::Archive)
        .then_expect_events(vec![archived()]);
}

#[test]
fn archive_an_active_workflow_without_a_separate_deactivation() {
    WorkflowTester::given(vec![created(), activated(1)])
        .when(WorkflowCommand::Archive)
        .then_expect_events(vec![archived()]);
}

#[test]
fn archive_is_refused_when_the_workflow_does_not_exist() {
    WorkflowTester::given_no_previous_events()
        .when(WorkflowCommand::Archive)
        .then_expect_error(is_not_found);
}

#[test]
fn archive_is_refused_when_already_archived() {
    WorkflowTester::given(vec![created(), archived()])
        .when(WorkflowCommand::Archive)
        .then_expect_error(is_archived);
}

// State

#[test]
fn state_before_creation_is_empty() {
    let workflow = Workflow::default();
    assert!(!workflow.exists());
    assert_eq!(workflow.id(), None);
    assert_eq!(workflow.definition(), None);
    assert_eq!(workflow.definition_version(), 0);
}

#[test]
fn state_follows_the_history() {
    let workflow = Workflow::from_events(vec![created(), activated(1), updated("v2", 2)]);
    assert_eq!(workflow.id(), Some(id()));
    assert_eq!(workflow.name(), "v2");
    assert_eq!(workflow.tags(), ["shop"]);
    assert_eq!(workflow.definition(), Some(&definition("v2")));
    assert_eq!(workflow.definition_version(), 2);
    assert_eq!(workflow.status(), WorkflowStatus::Active);

    let workflow = Workflow::from_events(vec![created(), activated(1), deactivated()]);
    assert_eq!(workflow.status(), WorkflowStatus::Inactive);

    let workflow = Workflow::from_events(vec![created(), activated(1), archived()]);
    assert_eq!(workflow.status(), WorkflowStatus::Archived);
}

#[test]
fn inspect_result_hands_back_the_decision() {
    let result = WorkflowTester::given(vec![created()])
        .when(WorkflowCommand::Activate)
        .inspect_result();
    assert_eq!(result, Ok(vec![activated(1)]));
}
