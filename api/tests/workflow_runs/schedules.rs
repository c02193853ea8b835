//! Schedules: a tick fired before a crash starts after the restart, a
//! changed cron pattern takes effect at once, and two instances run each
//! tick once.

use super::*;

/// Regression: a scheduler that recorded a tick and died before starting its
/// execution lost that run. Now the next scheduler to come up starts it.
async fn a_tick_fired_but_never_started_starts_after_a_restart(backend: Backend) {
    use chrono::Timelike;
    use flowforge_commands::CommandBus;
    use flowforge_domain::{
        schedule::{schedule_id, Schedule, ScheduleCommand},
        workflow::WorkflowId,
    };
    use flowforge_infra::event_store::{upcasting::Upcasters, EventMetadata};

    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    // Once a year: it never fires by itself during the test.
    let (id, _, _) = app
        .create_workflow(&json!({"name": "yearly", "nodes": [
            {"name": "Every year", "type": "schedule", "parameters": {"cron": "0 0 0 1 1 *", "timezone": "UTC"}}]}))
        .await;
    activate(&app, &id).await;
    let workflow_id: WorkflowId = id.parse().expect("workflow id");
    let tick = chrono::Utc::now().with_nanosecond(0).expect("whole second")
        - chrono::TimeDelta::seconds(5);
    let execution_id = flowforge_engine::tick_execution_id(workflow_id, "Every year", tick);
    let commands = CommandBus::new(app.database().event_store(Upcasters::default()));
    commands
        .execute::<Schedule>(
            &schedule_id(workflow_id, "Every year"),
            ScheduleCommand::Fire {
                workflow_id,
                node: "Every year".to_owned(),
                tick,
                execution_id,
            },
            None,
            &EventMetadata::default(),
        )
        .await
        .expect("the tick is recorded, as by a scheduler about to die");
    app.restart().await;

    let detail = eventually(Duration::from_secs(20), "the lost tick starts", || async {
        let (status, detail) = app.get(&format!("/api/v1/executions/{execution_id}")).await;
        (status == 200).then_some(detail)
    })
    .await;
    assert_eq!(detail["trigger"]["kind"], "schedule", "{detail}");
    assert_eq!(
        detail["input"][0]["timestamp"],
        tick.to_rfc3339(),
        "{detail}"
    );
    let head = app.head().await;
    let (_, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={id}&consistent_with={head}"
        ))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}

/// Regression: a schedule whose cron pattern changed kept its old next tick,
/// so a yearly schedule changed to every second did not fire for a year.
async fn a_changed_cron_pattern_takes_effect_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let schedule = |cron: &str| {
        json!({"name": "changing", "nodes": [
            {"name": "Tick", "type": "schedule", "parameters": {"cron": cron, "timezone": "UTC"}}]})
    };
    let (id, _, _) = app.create_workflow(&schedule("0 0 0 1 1 *")).await;
    activate(&app, &id).await;
    // Let the schedulers see the yearly pattern first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&schedule("* * * * * *")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(10),
        "the every-second pattern fires",
        || async {
            let head = app.head().await;
            let (_, page) = app
                .get(&format!(
                    "/api/v1/executions?workflow_id={id}&consistent_with={head}"
                ))
                .await;
            page["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        },
    )
    .await;
}

/// Two instances, one schedule firing every second for about 10 s: each tick
/// starts exactly one execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_run_each_schedule_tick_once() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let (id, _, _) = first
        .create_workflow(&json!({"name": "tick", "nodes": [
            {"name": "Every second", "type": "schedule", "parameters": {"cron": "* * * * * *", "timezone": "Europe/Berlin"}},
            {"name": "Stamp", "type": "set", "parameters": {"fields": {"at": "{{ $json.timestamp }}"}}}],
            "connections": {"Every second": {"main": [[{"node": "Stamp"}]]}}}))
        .await;
    activate(&first, &id).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (status, _) = first
        .post(&format!("/api/v1/workflows/{id}/deactivate"), &Value::Null)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut after = 0;
    let (mut ticks, mut scheduled_runs, mut run_ticks) = (Vec::new(), 0, Vec::new());
    loop {
        let (_, page) = second
            .get(&format!("/api/v1/events?after={after}&limit=1000"))
            .await;
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            break;
        }
        for event in events {
            match event["event_type"].as_str() {
                Some("ScheduleFired") => {
                    ticks.push(event["payload"]["tick"].as_str().expect("tick").to_owned())
                }
                Some("ExecutionRequested") if event["payload"]["trigger"]["kind"] == "schedule" => {
                    scheduled_runs += 1;
                    run_ticks.push(event["payload"]["input"][0]["timestamp"].to_string());
                }
                _ => {}
            }
        }
        after = page["next_after"].as_u64().expect("next");
    }
    let mut distinct = ticks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ticks.len(),
        "no tick fired twice: {ticks:?}"
    );
    assert_eq!(
        scheduled_runs,
        ticks.len(),
        "one execution per tick: ticks {ticks:?}, runs {run_ticks:?}"
    );
    assert!(
        (8..=12).contains(&ticks.len()),
        "about one tick per second for 10 s: {}",
        ticks.len()
    );
    let seconds: Vec<i64> = distinct
        .iter()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("RFC 3339")
                .timestamp()
        })
        .collect();
    assert!(
        seconds.windows(2).all(|w| w[1] - w[0] == 1),
        "consecutive seconds, none missed: {seconds:?}"
    );
}

for_each_backend!(
    a_tick_fired_but_never_started_starts_after_a_restart,
    a_changed_cron_pattern_takes_effect_at_once,
);
