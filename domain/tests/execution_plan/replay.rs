//! Decisions are a function of the history alone: none before the request or
//! after the end, and the same ones from a history read back from the store.

use flowforge_domain::execution::{decide, Execution, ExecutionCommand, Plan};
use flowforge_domain::Aggregate;
use serde_json::json;

use crate::support::{branches, items, one, round_trip, runs, t, with_fetch, Run};

#[test]
fn an_execution_not_requested_or_ended_has_no_decisions() {
    assert_eq!(decide(&Execution::default()), vec![]);
    let mut run = Run::new(with_fetch(json!({})));
    run.send(ExecutionCommand::Cancel {
        reason: "stop".into(),
        actor: "bob".into(),
        at: t(1),
    });
    assert_eq!(run.decide(), vec![]);
    assert_eq!(Plan::of(&run.execution).finish(), None);
}

#[test]
fn a_replayed_history_reaches_the_same_decisions() {
    let mut run = Run::new(branches(None));
    run.run("Start", one(json!({"s": 1})));
    run.run(
        "Check",
        vec![items(&[json!({"big": true})]), items(&[json!({"x": 1})])],
    );
    run.start("No");
    let replayed = Execution::from_events(round_trip(&run.history));
    assert_eq!(decide(&replayed), run.decide());
    assert_eq!(runs(&decide(&replayed)), ["Yes"]);
}
