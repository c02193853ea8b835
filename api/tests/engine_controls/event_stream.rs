//! The live event stream of an execution (SSE), with resumption from
//! `Last-Event-ID`.

use super::*;

/// One Server-Sent Event: (id, event type, data).
type Sse = (u64, String, Value);

/// Reads a whole SSE response until the server closes it.
async fn read_sse(app: &TestApp, execution: &str, last_event_id: Option<u64>) -> (u16, Vec<Sse>) {
    let mut request = app
        .http
        .get(app.url(&format!("/api/v1/executions/{execution}/stream")));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let mut response = request.send().await.expect("stream request");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the stream ends after the execution's last event");
    let events = text
        .split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                    .map(str::to_owned)
            };
            Some((
                field("id")?.parse().ok()?,
                field("event")?,
                serde_json::from_str(&field("data")?).ok()?,
            ))
        })
        .collect();
    (status, events)
}

async fn an_execution_streams_its_events_live(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "paced", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 400}},
            {"name": "Done", "type": "noop"}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}, "Pause": {"main": [[{"node": "Done"}]]}}}))
        .await;
    let execution = start(&app, &id, json!([{"n": 1}])).await;
    let (status, events) = read_sse(&app, &execution, None).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "{events:?}"
    );
    let types: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionRequested"), "{types:?}");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"), "{types:?}");
    assert!(
        types.contains(&"NodeWaiting") && types.contains(&"NodeResumed"),
        "{types:?}"
    );
    let (_, kind, data) = &events[0];
    assert_eq!(data["event_type"], kind.as_str(), "{data}");
    assert_eq!(data["version"], 1, "{data}");

    // A client that reconnects with Last-Event-ID gets only what it missed.
    let (_, rest) = read_sse(&app, &execution, Some(2)).await;
    assert_eq!(rest.as_slice(), &events[2..]);
    // Regression: reconnecting after the final event waited forever.
    let (status, none) = read_sse(&app, &execution, Some(events.len() as u64)).await;
    assert_eq!((status, none.len()), (200, 0));

    let (status, _) = read_sse(&app, "0190f1c2-0000-7000-8000-00000000f00d", None).await;
    assert_eq!(status, 404);
    let response = app
        .http
        .get(app.url(&format!("/api/v1/executions/{execution}/stream")))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
}

for_each_backend!(an_execution_streams_its_events_live,);
