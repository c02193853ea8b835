//! One behaviour, two backends: every test here runs against PostgreSQL and the
//! embedded SQLite store, each on a database of its own.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use flowforge_infra::{
    bus::{store_tail::StoreTail, EventSubscription},
    event_store::{
        upcasting::Upcasters, EventMetadata, EventStore, EventStoreError, ExpectedVersion,
        NewEvent, StreamId,
    },
    test_support::TestDatabase,
};
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    NewEvent::new(
        "ThingHappened",
        1,
        json!({ "n": n }),
        EventMetadata::default(),
    )
}

fn stream(id: &str) -> StreamId {
    StreamId::new("thing", id).expect("valid stream id")
}

async fn append_and_read_back(store: Arc<dyn EventStore>) {
    let s = stream("a");
    let first = store
        .append(&s, ExpectedVersion::NoStream, vec![event(1), event(2)])
        .await
        .expect("first append");
    assert_eq!(
        (
            first.first_position,
            first.last_position,
            first.stream_version
        ),
        (1, 2, 2)
    );
    let second = store
        .append(&stream("b"), ExpectedVersion::Any, vec![event(3)])
        .await
        .expect("second append");
    assert_eq!(second.last_position, 3);
    store
        .append(&s, ExpectedVersion::Exact(2), vec![event(4)])
        .await
        .expect("third append");

    let events = store.read_stream(&s, 0).await.expect("read stream");
    let versions: Vec<_> = events.iter().map(|e| e.version).collect();
    let payloads: Vec<_> = events.iter().map(|e| e.payload["n"].as_u64()).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(payloads, vec![Some(1), Some(2), Some(4)]);
    assert!(events
        .iter()
        .all(|e| e.stream == s && e.event_type == "ThingHappened"));
    assert_eq!(store.read_stream(&s, 2).await.expect("read tail").len(), 1);

    let all = store.read_all(0, 100).await.expect("read all");
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(store.read_all(2, 1).await.expect("page")[0].position, 3);
    assert_eq!(store.head().await.expect("head"), 4);
    assert_eq!(store.stream_version(&s).await.expect("version"), 3);
    assert_eq!(
        store
            .stream_version(&stream("none"))
            .await
            .expect("version"),
        0
    );
}

async fn conflicts_are_refused_and_change_nothing(store: Arc<dyn EventStore>) {
    let s = stream("c");
    store
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .expect("create");
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(0),
        ExpectedVersion::Exact(5),
    ] {
        match store.append(&s, expected, vec![event(2)]).await {
            Err(EventStoreError::Conflict { actual, .. }) => assert_eq!(actual, 1),
            other => panic!("expected a conflict for {expected}, got {other:?}"),
        }
    }
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, vec![]).await,
        Err(EventStoreError::EmptyAppend)
    ));
    assert_eq!(store.head().await.expect("head"), 1);
    // A refused append must not burn positions: the next one is gap-free.
    let next = store
        .append(&s, ExpectedVersion::Exact(1), vec![event(2)])
        .await
        .expect("append after conflicts");
    assert_eq!(next.first_position, 2);
}

async fn metadata_round_trips(store: Arc<dyn EventStore>) {
    let metadata = EventMetadata {
        tenant_id: "acme".into(),
        actor: Some("alice@example.com".into()),
        correlation_id: Some(Uuid::new_v4()),
        causation_id: Some(Uuid::new_v4()),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
    };
    let mut new = NewEvent::new(
        "ThingHappened",
        3,
        json!({"nested": {"list": [1, "two", null]}}),
        metadata.clone(),
    );
    let event_id = new.event_id;
    new.payload["unicode"] = json!("grüße ✓");
    let payload = new.payload.clone();
    store
        .append(&stream("meta"), ExpectedVersion::NoStream, vec![new])
        .await
        .expect("append");
    let read = &store.read_stream(&stream("meta"), 0).await.expect("read")[0];
    assert_eq!(read.metadata, metadata);
    assert_eq!(read.event_id, event_id);
    assert_eq!(read.schema_version, 3);
    assert_eq!(read.payload, payload);
    assert!(read.recorded_at <= chrono::Utc::now());
}

async fn upcaster_turns_v1_into_v2_on_read(
    store: Arc<dyn EventStore>,
    upcasting: Arc<dyn EventStore>,
) {
    let old = NewEvent::new(
        "PriceSet",
        1,
        json!({"price": 12}),
        EventMetadata::default(),
    );
    store
        .append(&stream("price"), ExpectedVersion::NoStream, vec![old])
        .await
        .expect("append v1");
    let read = &upcasting
        .read_stream(&stream("price"), 0)
        .await
        .expect("read")[0];
    assert_eq!(read.schema_version, 2);
    assert_eq!(read.payload, json!({"amount": 12, "currency": "EUR"}));
    let read = &upcasting.read_all(0, 10).await.expect("read all")[0];
    assert_eq!(read.schema_version, 2);
    // The stored row itself is untouched.
    let raw = &store.read_stream(&stream("price"), 0).await.expect("raw")[0];
    assert_eq!(
        (raw.schema_version, &raw.payload),
        (1, &json!({"price": 12}))
    );
}

fn price_upcasters() -> Upcasters {
    Upcasters::default().register("PriceSet", 1, |payload| {
        let amount = payload
            .get("price")
            .cloned()
            .ok_or("v1 PriceSet has no price")?;
        Ok(json!({"amount": amount, "currency": "EUR"}))
    })
}

/// 8 writers race for the same version, round after round: one wins, 7 conflict.
async fn racing_writers_win_each_version_once(store: Arc<dyn EventStore>) {
    const WRITERS: usize = 8;
    const ROUNDS: u64 = 40;
    let s = stream("race");
    let barrier = Arc::new(Barrier::new(WRITERS));
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            let barrier = barrier.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                let mut conflicts = 0;
                for round in 0..ROUNDS {
                    barrier.wait().await;
                    let mut e = event(writer as u64);
                    e.payload["round"] = json!(round);
                    match store
                        .append(&s, ExpectedVersion::Exact(round), vec![e])
                        .await
                    {
                        Ok(outcome) => won.push(outcome.stream_version),
                        Err(EventStoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("writer {writer}: unexpected error {other}"),
                    }
                    // Wait until the round's winner has committed before the next race.
                    barrier.wait().await;
                }
                (won, conflicts)
            })
        })
        .collect();
    let mut versions_won = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (won, lost) = task.await.expect("writer task");
        versions_won.extend(won);
        conflicts += lost;
    }
    let elapsed = started.elapsed();
    versions_won.sort_unstable();
    assert_eq!(
        versions_won,
        (1..=ROUNDS).collect::<Vec<_>>(),
        "each version won exactly once"
    );
    assert_eq!(
        conflicts,
        ROUNDS as usize * (WRITERS - 1),
        "every loser got a conflict"
    );
    let events = store.read_stream(&s, 0).await.expect("read");
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=ROUNDS).collect::<Vec<_>>()
    );
    for (event, round) in events.iter().zip(0..) {
        assert_eq!(
            event.payload["round"],
            json!(round),
            "version {} holds its round's winner",
            event.version
        );
    }
    println!(
        "racing writers: {} attempts ({} won, {conflicts} conflicts) in {elapsed:?}",
        ROUNDS as usize * WRITERS,
        ROUNDS
    );
}

/// 8 writers append 10,000 events to many streams while a catch-up reader follows
/// the log: it must see every position exactly once, in order.
async fn catch_up_reader_sees_every_position_once_in_order(
    store: Arc<dyn EventStore>,
    backend: &str,
) {
    const WRITERS: u64 = 8;
    const TOTAL: u64 = 10_000;
    const PER_WRITER: u64 = TOTAL / WRITERS;
    let reader = {
        let mut tail = StoreTail::new(store.clone(), 0, Duration::from_millis(20));
        tokio::spawn(async move {
            let mut seen = Vec::with_capacity(TOTAL as usize);
            let mut last_progress = Instant::now();
            while (seen.len() as u64) < TOTAL {
                let batch = tail.next_batch(500).await.expect("read batch");
                if batch.is_empty() {
                    assert!(
                        last_progress.elapsed() < Duration::from_secs(60),
                        "reader stalled"
                    );
                } else {
                    last_progress = Instant::now();
                }
                seen.extend(batch.into_iter().map(|e| (e.position, e.stream, e.version)));
            }
            seen
        })
    };
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = 0;
                let mut round = 0_u64;
                while written < PER_WRITER {
                    // Batches of 1..=4 events over 25 streams per writer.
                    let size = (1 + (round % 4)).min(PER_WRITER - written);
                    let s = stream(&format!("w{writer}-s{}", round % 25));
                    let events = (0..size).map(|i| event(written + i)).collect();
                    store
                        .append(&s, ExpectedVersion::Any, events)
                        .await
                        .expect("append");
                    written += size;
                    round += 1;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }
    let write_time = started.elapsed();
    let seen = reader.await.expect("reader task");
    let positions: Vec<u64> = seen.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(
        positions,
        (1..=TOTAL).collect::<Vec<_>>(),
        "every position once, in order"
    );
    // Within each stream the reader also saw versions in order, without gaps.
    let mut last_version: HashMap<StreamId, u64> = HashMap::new();
    for (_, s, version) in &seen {
        let last = last_version.entry(s.clone()).or_default();
        assert_eq!(*version, *last + 1, "stream {s} out of order");
        *last = *version;
    }
    let streams: BTreeSet<_> = seen.iter().map(|(_, s, _)| s.to_string()).collect();
    assert_eq!(streams.len(), (WRITERS * 25) as usize);
    println!(
        "{backend}: {TOTAL} events by {WRITERS} concurrent writers in {write_time:?} = {:.0} events/s",
        TOTAL as f64 / write_time.as_secs_f64()
    );
}

async fn the_log_is_append_only(db: &TestDatabase) {
    use flowforge_infra::database::Database;
    let store = db.database.event_store(Upcasters::default());
    store
        .append(&stream("ro"), ExpectedVersion::NoStream, vec![event(1)])
        .await
        .expect("append");
    let (update, delete) = match &db.database {
        Database::Postgres(pool) => (
            sqlx::query("UPDATE events SET event_type = 'Edited'")
                .execute(pool)
                .await
                .map(drop),
            sqlx::query("DELETE FROM events")
                .execute(pool)
                .await
                .map(drop),
        ),
        Database::Sqlite { writer, .. } => (
            sqlx::query("UPDATE events SET event_type = 'Edited'")
                .execute(writer)
                .await
                .map(drop),
            sqlx::query("DELETE FROM events")
                .execute(writer)
                .await
                .map(drop),
        ),
    };
    let update = update.expect_err("UPDATE must be refused").to_string();
    let delete = delete.expect_err("DELETE must be refused").to_string();
    assert!(
        update.contains("append-only") && delete.contains("append-only"),
        "{update} / {delete}"
    );
    if let Database::Postgres(pool) = &db.database {
        let truncate = sqlx::query("TRUNCATE events").execute(pool).await;
        let refused = truncate.expect_err("TRUNCATE must be refused").to_string();
        assert!(refused.contains("append-only"), "{refused}");
    }
    assert_eq!(
        store.read_all(0, 10).await.expect("read")[0].event_type,
        "ThingHappened"
    );
}

/// Followers of one stream hear of its appends in this process, with the
/// stream's new version.
async fn an_append_tells_followers_of_its_stream(store: Arc<dyn EventStore>) {
    let mut notices = store.stream_appends();
    store
        .append(&stream("x"), ExpectedVersion::Any, vec![event(1), event(2)])
        .await
        .expect("append");
    store
        .append(&stream("y"), ExpectedVersion::Any, vec![event(3)])
        .await
        .expect("append");
    let first = notices.recv().await.expect("a notice");
    let second = notices.recv().await.expect("a notice");
    assert_eq!(
        (first.stream, first.version, second.stream, second.version),
        (stream("x"), 2, stream("y"), 1)
    );
}

/// Regression: a tail that had just found the log idle slept through the
/// announcement of the next append (waiting for it consumed the notice) and
/// only read it at the next poll, so every step of an execution without NATS
/// took the 2 s poll interval. With a poll interval of an hour, an announced
/// append must still come out of the very next batch.
async fn a_tail_wakes_for_an_announced_append(store: Arc<dyn EventStore>) {
    let mut tail = StoreTail::new(store.clone(), 0, Duration::from_secs(3600));
    assert!(tail.next_batch(10).await.expect("idle batch").is_empty());
    for n in 1..=3 {
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                store
                    .append(&stream("woken"), ExpectedVersion::Any, vec![event(n)])
                    .await
                    .expect("append");
            })
        };
        let batch = tail.next_batch(10).await.expect("batch");
        writer.await.expect("writer");
        assert_eq!(
            batch.iter().map(|e| e.version).collect::<Vec<_>>(),
            [n],
            "the append was read as soon as it was announced"
        );
    }
}

/// Regression: an append whose caller gave up (an HTTP client disconnecting
/// drops the handler's future) could leave the SQLite writer inside its
/// transaction, so every later append failed. Appends abandoned at every
/// point of their run must leave the store working and the log gap-free.
async fn abandoned_appends_leave_the_store_working(store: Arc<dyn EventStore>) {
    let mut abandoned = 0;
    for round in 0..400_u64 {
        let target = stream(&format!("s{round}"));
        let append = store.append(&target, ExpectedVersion::Any, vec![event(round)]);
        // Every fourth append is dropped after its first poll (a timer
        // cannot promise that: it fires on the timer wheel's tick, and a
        // fast store may finish first every time); the rest after a patience
        // from "at once" to "long after it should be done".
        if round % 4 == 0 {
            if futures::FutureExt::now_or_never(append).is_none() {
                abandoned += 1;
            }
            continue;
        }
        let patience = Duration::from_micros((round * 37) % 2_000);
        if tokio::time::timeout(patience, append).await.is_err() {
            abandoned += 1;
        }
    }
    assert!(
        abandoned > 0,
        "no append was abandoned: the test proves nothing"
    );
    // Abandoned appends may still commit; let them finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcome = store
        .append(
            &stream("after"),
            ExpectedVersion::NoStream,
            vec![event(9_999)],
        )
        .await
        .expect("the store still takes appends");
    let all = store.read_all(0, 1_000).await.expect("read");
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=outcome.last_position).collect::<Vec<_>>());
}

macro_rules! conformance_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn append_and_read_back() {
                let Some(db) = $open else { return };
                super::append_and_read_back(db.database.event_store(Upcasters::default())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn conflicts_are_refused_and_change_nothing() {
                let Some(db) = $open else { return };
                super::conflicts_are_refused_and_change_nothing(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn metadata_round_trips() {
                let Some(db) = $open else { return };
                super::metadata_round_trips(db.database.event_store(Upcasters::default())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn upcaster_turns_v1_into_v2_on_read() {
                let Some(db) = $open else { return };
                super::upcaster_turns_v1_into_v2_on_read(
                    db.database.event_store(Upcasters::default()),
                    db.database.event_store(price_upcasters()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_writers_win_each_version_once() {
                let Some(db) = $open else { return };
                super::racing_writers_win_each_version_once(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn catch_up_reader_sees_every_position_once_in_order() {
                let Some(db) = $open else { return };
                super::catch_up_reader_sees_every_position_once_in_order(
                    db.database.event_store(Upcasters::default()),
                    stringify!($backend),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn an_append_tells_followers_of_its_stream() {
                let Some(db) = $open else { return };
                super::an_append_tells_followers_of_its_stream(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn abandoned_appends_leave_the_store_working() {
                let Some(db) = $open else { return };
                super::abandoned_appends_leave_the_store_working(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_tail_wakes_for_an_announced_append() {
                let Some(db) = $open else { return };
                super::a_tail_wakes_for_an_announced_append(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn the_log_is_append_only() {
                let Some(db) = $open else { return };
                super::the_log_is_append_only(&db).await;
            }
        }
    };
}

conformance_suite!(postgres, TestDatabase::postgres().await);
conformance_suite!(sqlite, Some(TestDatabase::sqlite().await));
