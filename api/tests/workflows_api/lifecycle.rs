//! A workflow's life: create, activate, read, update, archive, and all of
//! it kept across a restart.

use super::*;

async fn create_activate_read_update_and_archive(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, version, position) = app
        .create_workflow(&simple_workflow("greeter", &["demo"]))
        .await;
    assert_eq!(version, 1);

    let (status, body) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["name"].as_str(),
            body["status"].as_str(),
            body["active"].as_bool()
        ),
        (Some("greeter"), Some("inactive"), Some(false))
    );
    assert_eq!(body["tags"], json!(["demo"]));
    assert_eq!(body["definition"]["nodes"][1]["type"], "set");

    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    let activated_at = body["position"].as_u64().expect("position");

    let (status, page) = app
        .get(&format!(
            "/api/v1/workflows?active=true&tag=demo&consistent_with={activated_at}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["id"], id.as_str());
    let (_, inactive) = app.get("/api/v1/workflows?active=false").await;
    assert_eq!(inactive["items"], json!([]));
    let (_, other_tag) = app.get("/api/v1/workflows?tag=other").await;
    assert_eq!(other_tag["items"], json!([]));

    // A stale If-Match is refused with the current version, and changes nothing.
    let mut update = simple_workflow("greeter v2", &["demo", "v2"]);
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header(IF_MATCH, "\"1\"")
                .json(&update),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "version_conflict");
    assert_eq!(body["error"]["details"]["current_version"], 2);

    // `If-Match: *` changes whatever version is current.
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header(IF_MATCH, "*")
                .json(&simple_workflow("greeter", &["demo"])),
        )
        .await;
    assert_eq!(
        (status, body["version"].as_u64()),
        (200, Some(2)),
        "identical definition: no new version: {body}"
    );

    update["expected_version"] = json!(2);
    let (status, body, headers) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .json(&update),
        )
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(3)), "{body}");
    assert_eq!(
        headers.get(ETAG).and_then(|v| v.to_str().ok()),
        Some("\"3\"")
    );
    let updated_at = body["position"].as_u64().expect("position");
    let (_, body) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={updated_at}"
        ))
        .await;
    assert_eq!(
        (
            body["name"].as_str(),
            body["definition_version"].as_u64(),
            body["status"].as_str()
        ),
        (Some("greeter v2"), Some(2), Some("active"))
    );

    let (status, body, _) = app
        .send(app.http.delete(app.url(&format!("/api/v1/workflows/{id}"))))
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(4)), "{body}");
    let archived_at = body["position"].as_u64().expect("position");
    let (_, listed) = app
        .get(&format!("/api/v1/workflows?consistent_with={archived_at}"))
        .await;
    assert_eq!(
        listed["items"],
        json!([]),
        "archived workflows are not listed by default"
    );
    let (_, listed) = app.get("/api/v1/workflows?include_archived=true").await;
    assert_eq!(listed["items"][0]["status"], "archived");
    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("workflow_archived"))
    );

    // The history is exactly the events that made it what it is.
    let (status, stream) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
    assert_eq!(status, 200);
    let types: Vec<&str> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "WorkflowCreated",
            "WorkflowActivated",
            "WorkflowDefinitionUpdated",
            "WorkflowArchived"
        ]
    );
    let versions: Vec<u64> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["version"].as_u64())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    // The tenant is the workspace the signed-in caller acts in.
    let (_, me) = app.get("/api/v1/me").await;
    assert_eq!(
        stream["events"][0]["metadata"]["tenant_id"],
        me["workspaces"][0]
    );

    let setup = support::SETUP_EVENTS;
    let (_, log) = app
        .get(&format!("/api/v1/events?after={}&limit=2", setup + 1))
        .await;
    let positions: Vec<u64> = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["position"].as_u64())
        .collect();
    assert_eq!(
        (positions, log["next_after"].as_u64(), log["head"].as_u64()),
        (vec![setup + 2, setup + 3], Some(setup + 3), Some(setup + 4))
    );
}

async fn restart_loses_nothing(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&simple_workflow("durable", &["keep"]))
        .await;
    let (_, activated) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    let position = activated["position"].as_u64().expect("position");
    let (_, before) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    let (_, history_before) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;

    app.restart().await;

    let (status, after) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(after, before);
    let (_, history_after) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
    assert_eq!(history_after, history_before);
    let (_, ready) = app.get("/health/ready").await;
    assert_eq!(
        ready["checks"]["projections"]["workflows"], position,
        "resumed at its checkpoint"
    );
    // And it keeps working after the restart.
    let (second, _, _) = app
        .create_workflow(&simple_workflow("after restart", &[]))
        .await;
    assert_ne!(second, id);
}

for_each_backend!(
    create_activate_read_update_and_archive,
    restart_loses_nothing,
);
