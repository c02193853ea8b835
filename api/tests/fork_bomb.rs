//! Recursion breadth, through the HTTP API on both stores. A workflow whose
//! Execute Workflow nodes start itself twice without waiting stays under the
//! depth cap yet doubles forever; the bound on the descendants of one root
//! stops it, and the start that crosses the bound fails with an error naming
//! the setting. A workflow that starts sub-workflows faster than its start
//! rate fails the same way.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{eventually, Backend, TestApp};

const MAX_DESCENDANTS: u32 = 50;

/// Start → two Execute Workflow nodes, both starting `target` without waiting.
fn self_starting(target: &str) -> Value {
    json!({"name": "fork bomb", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Left", "type": "execute_workflow", "parameters": {"workflow_id": target, "wait": false}},
        {"name": "Right", "type": "execute_workflow", "parameters": {"workflow_id": target, "wait": false}}],
        "connections": {"Start": {"main": [[{"node": "Left"}, {"node": "Right"}]]}}})
}

/// Every execution of `workflow`, once the list reflects the whole log.
async fn executions_of(app: &TestApp, workflow: &str) -> Vec<Value> {
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={workflow}&limit=500&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn finished(execution: &Value) -> bool {
    ["succeeded", "failed", "cancelled"].contains(&execution["status"].as_str().unwrap_or(""))
}

async fn a_workflow_that_starts_itself_twice_stops_at_the_descendant_bound(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.limits.max_descendants = MAX_DESCENDANTS;
    })
    .await
    else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&self_starting("0190f1c2-0000-7000-8000-00000000dead"))
        .await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&self_starting(&id)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, started) = app
        .post(
            &format!("/api/v1/workflows/{id}/executions"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let root = started["execution_id"].as_str().expect("id").to_owned();

    // Every start comes from a running execution, so once all of them have
    // finished (in a list consistent with the whole log) nothing can follow.
    let runs = eventually(
        Duration::from_secs(60),
        "every execution of the fork bomb finishes",
        || async {
            let runs = executions_of(&app, &id).await;
            runs.iter().all(finished).then_some(runs)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = executions_of(&app, &id).await;
    assert_eq!(
        later.len(),
        runs.len(),
        "the execution count stopped growing"
    );

    let bound = usize::try_from(MAX_DESCENDANTS).expect("small") + 1;
    assert!(
        runs.len() <= bound,
        "{} executions for a bound of {MAX_DESCENDANTS} descendants",
        runs.len()
    );
    let (_, tree) = app
        .get(&format!("/api/v1/streams/execution_tree/{root}"))
        .await;
    let admitted = tree["events"].as_array().map_or(0, Vec::len);
    assert_eq!(
        admitted,
        runs.len() - 1,
        "one admission per descendant: {tree}"
    );
    assert_eq!(admitted, bound - 1, "the tree filled up to its bound");

    let mut refused = Vec::new();
    for run in runs.iter().filter(|r| r["status"] == "failed") {
        let (_, detail) = app
            .get(&format!(
                "/api/v1/executions/{}",
                run["id"].as_str().expect("id")
            ))
            .await;
        if detail["failure"]["error"]["code"] == "sub_workflow_descendants" {
            refused.push(detail);
        }
    }
    assert!(
        !refused.is_empty(),
        "some start crossed the bound: {runs:?}"
    );
    let error = &refused[0]["failure"]["error"];
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "execution tree under root {root} reached {MAX_DESCENDANTS} descendants; raise FLOWFORGE_MAX_DESCENDANTS"
        )),
        "{message}"
    );
    assert_eq!(error["details"]["setting"], "FLOWFORGE_MAX_DESCENDANTS");
    assert_eq!(error["details"]["root_execution_id"], root.as_str());

    let head = app.head().await;
    println!(
        "fork bomb ({backend:?}, FLOWFORGE_MAX_DESCENDANTS={MAX_DESCENDANTS}): {} executions, {} refused at the bound, final event count {head}",
        runs.len(),
        refused.len(),
    );
}

async fn sub_workflow_starts_past_the_rate_fail_their_node(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.limits.max_starts_per_sec_per_workflow = 1;
    })
    .await
    else {
        return;
    };
    let (child, _, _) = app
        .create_workflow(&support::simple_workflow("child", &[]))
        .await;
    let calls = 5;
    let mut nodes = vec![json!({"name": "Start", "type": "manual_trigger"})];
    nodes.extend((0..calls).map(|i| {
        json!({"name": format!("Call {i}"), "type": "execute_workflow",
               "parameters": {"workflow_id": child, "wait": false}})
    }));
    let targets: Vec<Value> = (0..calls)
        .map(|i| json!({"node": format!("Call {i}")}))
        .collect();
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller", "nodes": nodes,
            "connections": {"Start": {"main": [targets]}}}))
        .await;
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{caller}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "failed", "{run}");
    let error = &run["failure"]["error"];
    assert_eq!(error["code"], "sub_workflow_rate", "{run}");
    assert_eq!(error["details"]["calling_workflow_id"], caller.as_str());
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("FLOWFORGE_MAX_STARTS_PER_SEC_PER_WORKFLOW")),
        "{run}"
    );
    let children = eventually(Duration::from_secs(10), "every child finishes", || async {
        let children = executions_of(&app, &child).await;
        children.iter().all(finished).then_some(children)
    })
    .await;
    assert!(
        (1..calls).contains(&children.len()),
        "the burst of 1 let some starts through, not all: {}",
        children.len()
    );
}

for_each_backend!(
    a_workflow_that_starts_itself_twice_stops_at_the_descendant_bound,
    sub_workflow_starts_past_the_rate_fail_their_node,
);
