//! A given/when/then harness for any [`Aggregate`]: rebuild the state from past
//! events, hand it one command, and assert on the events it decides or the error it
//! refuses with. Tests then read like the behaviour they pin down. A test helper:
//! every failed expectation panics with what was expected and what happened.
//!
//! ```
//! # use flowforge_domain::testing::AggregateTester;
//! # use flowforge_domain::workflow::{Workflow, WorkflowCommand, WorkflowError};
//! AggregateTester::<Workflow>::given_no_previous_events()
//!     .when(WorkflowCommand::Activate)
//!     .then_expect_error(|error| matches!(error, WorkflowError::NotFound));
//! ```

use std::fmt;

use crate::aggregate::Aggregate;

/// The "given" step: an aggregate rebuilt from a history.
pub struct AggregateTester<A: Aggregate> {
    aggregate: A,
}

impl<A: Aggregate> AggregateTester<A> {
    /// Starts from the state these events build, oldest first.
    pub fn given(events: Vec<A::Event>) -> Self {
        Self {
            aggregate: A::from_events(events),
        }
    }

    /// Starts from an aggregate that has no history yet.
    pub fn given_no_previous_events() -> Self {
        Self::given(Vec::new())
    }

    /// Hands the command to the aggregate and keeps its decision for the "then" step.
    pub fn when(self, command: A::Command) -> AggregateResultValidator<A> {
        AggregateResultValidator {
            result: self.aggregate.handle(command),
        }
    }
}

/// The "then" step: what the aggregate decided, to be checked.
#[must_use = "a decision is only tested once a `then_expect_*` method checks it"]
pub struct AggregateResultValidator<A: Aggregate> {
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> AggregateResultValidator<A> {
    /// Asserts the command was accepted and produced exactly these events, in order.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) {
        match self.result {
            Ok(events) => assert_eq!(
                events, expected,
                "the command produced other events than expected"
            ),
            Err(error) => panic!(
                "expected events {expected:#?}\nbut the command was refused: {error} ({error:?})"
            ),
        }
    }

    /// Asserts the command was accepted and produced no events (e.g. an idempotent retry).
    #[track_caller]
    pub fn then_expect_no_events(self) {
        self.then_expect_events(Vec::new());
    }

    /// Asserts the command was refused with an error the matcher accepts.
    #[track_caller]
    pub fn then_expect_error(self, matcher: impl FnOnce(&A::Error) -> bool) {
        let error = self.into_error("an error");
        assert!(
            matcher(&error),
            "the command was refused, but not with the expected error: {error} ({error:?})"
        );
    }

    /// Asserts the command was refused with an error whose message contains `text`.
    #[track_caller]
    pub fn then_expect_error_message(self, text: &str) {
        let error = self.into_error(&format!("an error containing {text:?}"));
        let message = error.to_string();
        assert!(
            message.contains(text),
            "expected an error containing {text:?}, got {message:?} ({error:?})"
        );
    }

    /// Hands back the raw decision, for checks the methods above do not cover.
    pub fn inspect_result(self) -> Result<Vec<A::Event>, A::Error> {
        self.result
    }

    #[track_caller]
    fn into_error(self, expected: &str) -> A::Error {
        match self.result {
            Ok(events) => {
                panic!("expected {expected}, but the command was accepted with events {events:#?}")
            }
            Err(error) => error,
        }
    }
}

impl<A: Aggregate> fmt::Debug for AggregateResultValidator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateResultValidator")
            .field("result", &self.result)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::DomainEvent;
    use serde::{Deserialize, Serialize};

    /// A counter that refuses to go below zero: the smallest aggregate with both outcomes.
    #[derive(Default, Clone)]
    struct Counter(u32);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Counted {
        Incremented { by: u32 },
    }

    impl DomainEvent for Counted {
        fn event_type(&self) -> &'static str {
            "Incremented"
        }
    }

    #[derive(Debug, thiserror::Error, PartialEq)]
    #[error("counter would go below zero")]
    struct BelowZero;

    impl Aggregate for Counter {
        const TYPE: &'static str = "counter";
        type Command = i64;
        type Event = Counted;
        type Error = BelowZero;

        fn handle(&self, delta: i64) -> Result<Vec<Counted>, BelowZero> {
            match u32::try_from(delta) {
                Ok(0) => Ok(vec![]),
                Ok(by) => Ok(vec![Counted::Incremented { by }]),
                Err(_) => Err(BelowZero),
            }
        }

        fn apply(&mut self, Counted::Incremented { by }: Counted) {
            self.0 += by;
        }
    }

    #[test]
    fn passes_when_the_expectations_hold() {
        AggregateTester::<Counter>::given(vec![Counted::Incremented { by: 1 }])
            .when(2)
            .then_expect_events(vec![Counted::Incremented { by: 2 }]);
        AggregateTester::<Counter>::given_no_previous_events()
            .when(0)
            .then_expect_no_events();
        AggregateTester::<Counter>::given_no_previous_events()
            .when(-1)
            .then_expect_error(|error| *error == BelowZero);
        AggregateTester::<Counter>::given_no_previous_events()
            .when(-1)
            .then_expect_error_message("below zero");
        let result = AggregateTester::<Counter>::given_no_previous_events()
            .when(3)
            .inspect_result();
        assert_eq!(result, Ok(vec![Counted::Incremented { by: 3 }]));
    }

    #[test]
    #[should_panic(expected = "produced other events than expected")]
    fn fails_on_other_events() {
        AggregateTester::<Counter>::given_no_previous_events()
            .when(2)
            .then_expect_events(vec![Counted::Incremented { by: 3 }]);
    }

    #[test]
    #[should_panic(expected = "but the command was refused: counter would go below zero")]
    fn fails_on_an_error_when_events_were_expected() {
        AggregateTester::<Counter>::given_no_previous_events()
            .when(-1)
            .then_expect_no_events();
    }

    #[test]
    #[should_panic(expected = "but the command was accepted")]
    fn fails_on_events_when_an_error_was_expected() {
        AggregateTester::<Counter>::given_no_previous_events()
            .when(1)
            .then_expect_error(|_| true);
    }

    #[test]
    #[should_panic(expected = "not with the expected error")]
    fn fails_when_the_matcher_rejects_the_error() {
        AggregateTester::<Counter>::given_no_previous_events()
            .when(-1)
            .then_expect_error(|_| false);
    }

    #[test]
    #[should_panic(expected = "expected an error containing \"overflow\"")]
    fn fails_when_the_message_lacks_the_text() {
        AggregateTester::<Counter>::given_no_previous_events()
            .when(-1)
            .then_expect_error_message("overflow");
    }
}
