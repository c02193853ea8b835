//! Given/when/then tests of a workspace's variables: set, changed, removed,
//! names an expression can write, bounded values and count.

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::{
    variable::{VariableCommand, VariableError, VariableEvent, Variables, MAX_VALUE_BYTES},
    Aggregate, AggregateTester,
};

fn at(second: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(second)
}

fn set(name: &str, value: &str) -> VariableCommand {
    VariableCommand::Set {
        name: name.to_owned(),
        value: value.to_owned(),
        at: at(1),
    }
}

fn was_set(name: &str, value: &str) -> VariableEvent {
    VariableEvent::Set {
        name: name.to_owned(),
        value: value.to_owned(),
        at: at(1),
    }
}

#[test]
fn setting_a_variable_records_it_and_setting_the_same_value_again_records_nothing() {
    AggregateTester::<Variables>::given(vec![])
        .when(set("region", "eu-west"))
        .then_expect_events(vec![was_set("region", "eu-west")]);
    AggregateTester::<Variables>::given(vec![was_set("region", "eu-west")])
        .when(set("region", "eu-west"))
        .then_expect_events(vec![]);
    AggregateTester::<Variables>::given(vec![was_set("region", "eu-west")])
        .when(set("region", "us-east"))
        .then_expect_events(vec![was_set("region", "us-east")]);
}

#[test]
fn a_name_must_be_writable_after_vars() {
    AggregateTester::<Variables>::given(vec![])
        .when(set("my-region", "x"))
        .then_expect_error(|e| *e == VariableError::InvalidName("my-region".to_owned()));
}

#[test]
fn a_value_is_bounded() {
    let large = "x".repeat(MAX_VALUE_BYTES + 1);
    AggregateTester::<Variables>::given(vec![])
        .when(set("big", &large))
        .then_expect_error(|e| *e == VariableError::ValueTooLarge(MAX_VALUE_BYTES + 1));
}

#[test]
fn deleting_removes_the_value_and_an_unknown_name_is_refused() {
    AggregateTester::<Variables>::given(vec![was_set("region", "eu-west")])
        .when(VariableCommand::Delete {
            name: "region".to_owned(),
            at: at(2),
        })
        .then_expect_events(vec![VariableEvent::Deleted {
            name: "region".to_owned(),
            at: at(2),
        }]);
    AggregateTester::<Variables>::given(vec![])
        .when(VariableCommand::Delete {
            name: "region".to_owned(),
            at: at(2),
        })
        .then_expect_error(|e| *e == VariableError::NotFound("region".to_owned()));
}

#[test]
fn the_values_are_what_expressions_read_as_vars() {
    let mut variables = Variables::default();
    variables.apply(was_set("region", "eu-west"));
    variables.apply(was_set("limit", "10"));
    assert_eq!(
        serde_json::Value::Object(variables.values()),
        serde_json::json!({"limit": "10", "region": "eu-west"})
    );
}
