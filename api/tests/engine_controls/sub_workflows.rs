//! Sub-workflows: a child returns its output to the caller, and a workflow
//! that calls itself stops at the depth limit.

use super::*;

async fn a_sub_workflow_returns_its_output_to_the_caller(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (child, _, _) = app
        .create_workflow(&json!({"name": "double", "nodes": [
            {"name": "In", "type": "manual_trigger"},
            {"name": "Double", "type": "set", "parameters": {"fields": {"doubled": "{{ $json.x * 2 }}"}}}],
            "connections": {"In": {"main": [[{"node": "Double"}]]}}}))
        .await;
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow", "parameters": {"workflow_id": child}},
            {"name": "After", "type": "set", "parameters": {"fields": {"seen": "{{ $json.doubled + 1 }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}, "Call": {"main": [[{"node": "After"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{"x": 2}, {"x": 5}])).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let seen: Vec<&Value> = run["output"][0]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| &item["seen"])
        .collect();
    assert_eq!(seen, [&json!(5), &json!(11)], "{run}");

    let children = executions_of(&app, &child).await;
    assert_eq!(children.len(), 1, "one child execution: {children:?}");
    assert_eq!(children[0]["trigger"], "sub_workflow");
    let child_id = children[0]["id"].as_str().expect("id");
    let (_, child_detail) = app.get(&format!("/api/v1/executions/{child_id}")).await;
    assert_eq!(
        child_detail["trigger"]["details"]["parent_execution_id"],
        run["execution_id"]
    );

    // A failing sub-workflow fails the calling node, with the child's reason.
    let (failing, _, _) = app
        .create_workflow(&json!({"name": "refuse", "nodes": [
            {"name": "In", "type": "manual_trigger"},
            {"name": "No", "type": "stop_and_error", "parameters": {"message": "out of stock"}}],
            "connections": {"In": {"main": [[{"node": "No"}]]}}}))
        .await;
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller of a failure", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow", "parameters": {"workflow_id": failing}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{}])).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["node"], "Call");
    assert_eq!(run["failure"]["error"]["code"], "sub_workflow_failed");
    let message = run["failure"]["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("out of stock"), "{message}");

    // An unknown workflow fails the node at once.
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller of nothing", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow",
             "parameters": {"workflow_id": "0190f1c2-0000-7000-8000-00000000dead"}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{}])).await;
    assert_eq!(
        (
            run["status"].as_str(),
            run["failure"]["error"]["code"].as_str()
        ),
        (Some("failed"), Some("workflow_not_found")),
        "{run}"
    );
}

/// A workflow that calls itself stops at the depth limit instead of starting
/// executions forever: the deepest call fails with `sub_workflow_depth`, and
/// every caller above it fails in turn.
async fn a_workflow_that_calls_itself_stops_at_the_depth_limit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let recursive = |target: &str| {
        json!({"name": "recursive", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Again", "type": "execute_workflow", "parameters": {"workflow_id": target}}],
            "connections": {"Start": {"main": [[{"node": "Again"}]]}}})
    };
    let (id, _, _) = app
        .create_workflow(&recursive("0190f1c2-0000-7000-8000-00000000dead"))
        .await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&recursive(&id)),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let run = run_to_end(&app, &id, json!([{}])).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["error"]["code"], "sub_workflow_failed");

    let runs = executions_of(&app, &id).await;
    let levels =
        usize::try_from(flowforge_domain::execution::MAX_SUB_WORKFLOW_DEPTH).expect("small") + 1;
    assert_eq!(
        runs.len(),
        levels,
        "one execution per level, 0 to the limit"
    );
    assert!(runs.iter().all(|r| r["status"] == "failed"), "{runs:?}");
    let mut deepest = Vec::new();
    for summary in &runs {
        let (_, detail) = app
            .get(&format!(
                "/api/v1/executions/{}",
                summary["id"].as_str().expect("id")
            ))
            .await;
        if detail["failure"]["error"]["code"] == "sub_workflow_depth" {
            deepest.push(detail);
        }
    }
    assert_eq!(deepest.len(), 1, "only the deepest call hits the limit");
}

for_each_backend!(
    a_sub_workflow_returns_its_output_to_the_caller,
    a_workflow_that_calls_itself_stops_at_the_depth_limit,
);
