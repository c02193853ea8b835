//! Lists and metadata: paging visits every workflow once, and the request's
//! headers become the events' metadata.

use super::*;

async fn paging_walks_every_workflow_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut created = Vec::new();
    let mut last = 0;
    for n in 0..7 {
        let (id, _, position) = app
            .create_workflow(&simple_workflow(&format!("w{n}"), &[]))
            .await;
        created.push(id);
        last = position;
    }
    let mut seen = Vec::new();
    let mut query = format!("/api/v1/workflows?limit=3&consistent_with={last}");
    loop {
        let (status, page) = app.get(&query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|w| w["id"].as_str().map(str::to_owned)),
        );
        match page["next_after"].as_str() {
            Some(after) => query = format!("/api/v1/workflows?limit=3&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

async fn metadata_comes_from_the_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let correlation = "0195f3a0-0000-7000-8000-000000000001";
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (status, body, headers) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header("x-actor", "alice")
                .header("x-correlation-id", correlation)
                .header("traceparent", traceparent)
                .json(&simple_workflow("traced", &[])),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(headers["x-correlation-id"], correlation);
    let (_, stream) = app
        .get(&format!(
            "/api/v1/streams/workflow/{}",
            body["id"].as_str().expect("id")
        ))
        .await;
    let metadata = &stream["events"][0]["metadata"];
    assert_eq!(
        (
            metadata["actor"].as_str(),
            metadata["correlation_id"].as_str(),
            metadata["traceparent"].as_str()
        ),
        (
            Some(app.owner_actor().await.as_str()),
            Some(correlation),
            Some(traceparent)
        ),
        "the signed-in caller is the actor; a forged X-Actor header is ignored"
    );

    // Without one, the request gets a correlation id of its own: returned to
    // the caller and recorded with the events.
    let (status, body, headers) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header("x-correlation-id", "not-a-uuid")
                .json(&simple_workflow("uncorrelated", &[])),
        )
        .await;
    assert_eq!(status, 201);
    let made = headers["x-correlation-id"].to_str().expect("ASCII");
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
    let (_, stream) = app
        .get(&format!(
            "/api/v1/streams/workflow/{}",
            body["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(stream["events"][0]["metadata"]["correlation_id"], made);
}

for_each_backend!(
    paging_walks_every_workflow_once,
    metadata_comes_from_the_request,
);
