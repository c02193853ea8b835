//! The command bus against the real stores: optimistic concurrency as callers see it.

use std::sync::Arc;

use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{Aggregate, DomainEvent};
use flowforge_infra::{
    event_store::{upcasting::Upcasters, EventMetadata, EventStore},
    test_support::TestDatabase,
};
use serde::{Deserialize, Serialize};

/// A counter that refuses to go above its limit: enough to exercise the bus.
#[derive(Default, Clone)]
struct Counter {
    value: u32,
}

#[derive(Clone)]
enum CounterCommand {
    Increment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum CounterEvent {
    Incremented { to: u32 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        "Incremented"
    }
}

#[derive(Debug, thiserror::Error)]
#[error("counter is full")]
struct Full;

const LIMIT: u32 = 30;

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = Full;

    fn handle(&self, CounterCommand::Increment: CounterCommand) -> Result<Vec<CounterEvent>, Full> {
        if self.value >= LIMIT {
            return Err(Full);
        }
        Ok(vec![CounterEvent::Incremented { to: self.value + 1 }])
    }

    fn apply(&mut self, CounterEvent::Incremented { to }: CounterEvent) {
        self.value = to;
    }
}

/// Each bus increments counter `id` five times, all of them at once.
async fn increment_concurrently(buses: &[CommandBus], id: &'static str) {
    let tasks: Vec<_> = buses
        .iter()
        .cloned()
        .map(|bus| {
            tokio::spawn(async move {
                for _ in 0..5 {
                    bus.execute::<Counter>(
                        id,
                        CounterCommand::Increment,
                        None,
                        &EventMetadata::default(),
                    )
                    .await
                    .expect("increment lands after retries");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
}

async fn concurrent_commands_without_expected_version_all_land(bus: CommandBus) {
    // Six writers on one stream: with a linear backoff one of them could
    // lose every attempt on a loaded machine (a CI run failed that way).
    increment_concurrently(&vec![bus.clone(); 6], "c1").await;
    let (counter, version) = bus.load::<Counter>("c1").await.expect("load");
    assert_eq!((counter.value, version), (30, 30));
}

async fn stale_expected_version_is_a_conflict_and_changes_nothing(bus: CommandBus) {
    let meta = EventMetadata::default();
    let first = bus
        .execute::<Counter>("c2", CounterCommand::Increment, Some(0), &meta)
        .await
        .expect("first");
    assert_eq!(first.stream_version, 1);
    match bus
        .execute::<Counter>("c2", CounterCommand::Increment, Some(0), &meta)
        .await
    {
        Err(CommandError::Conflict { actual, .. }) => assert_eq!(actual, 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(bus.load::<Counter>("c2").await.expect("load").1, 1);
}

async fn rejection_records_nothing(bus: CommandBus) {
    let meta = EventMetadata::default();
    for _ in 0..LIMIT {
        bus.execute::<Counter>("c3", CounterCommand::Increment, None, &meta)
            .await
            .expect("under the limit");
    }
    let head = bus.store().head().await.expect("head");
    assert!(matches!(
        bus.execute::<Counter>("c3", CounterCommand::Increment, None, &meta)
            .await,
        Err(CommandError::Rejected(Full))
    ));
    assert_eq!(bus.store().head().await.expect("head"), head);
    assert!(matches!(
        bus.execute::<Counter>("not.valid", CounterCommand::Increment, None, &meta)
            .await,
        Err(CommandError::InvalidId(_))
    ));
}

/// Writers with caches of their own (as separate instances have) see each
/// other's appends: every increment lands, and every cache ends at the truth,
/// also after a writer without a cache appended.
async fn cached_buses_see_each_others_appends(store: Arc<dyn EventStore>) {
    let buses: Vec<CommandBus> = (0..4)
        .map(|_| CommandBus::with_cache(store.clone(), 16))
        .collect();
    increment_concurrently(&buses, "c4").await;
    CommandBus::new(store.clone())
        .execute::<Counter>(
            "c4",
            CounterCommand::Increment,
            None,
            &EventMetadata::default(),
        )
        .await
        .expect("uncached increment");
    for bus in &buses {
        let (counter, version) = bus.load::<Counter>("c4").await.expect("load");
        assert_eq!((counter.value, version), (21, 21));
    }
    let stale = buses[0]
        .execute::<Counter>(
            "c4",
            CounterCommand::Increment,
            Some(20),
            &EventMetadata::default(),
        )
        .await;
    assert!(
        matches!(stale, Err(CommandError::Conflict { actual: 21, .. })),
        "a cached bus still refuses a stale expected version: {stale:?}"
    );
}

/// A stream keeps the tenant of its first event: a later command naming
/// another tenant records the stream's, and `tenant_of` answers it.
async fn a_stream_keeps_the_tenant_of_its_first_event(bus: CommandBus, id: &str) {
    let in_tenant = |tenant: &str| EventMetadata {
        tenant_id: tenant.to_owned(),
        ..EventMetadata::default()
    };
    assert_eq!(bus.tenant_of::<Counter>(id).await.expect("tenant"), None);
    for tenant in ["workspace-a", "workspace-b"] {
        bus.execute::<Counter>(id, CounterCommand::Increment, None, &in_tenant(tenant))
            .await
            .expect("increment");
    }
    let stream = flowforge_infra::event_store::StreamId::new("counter", id).expect("stream");
    let tenants: Vec<String> = bus
        .store()
        .read_stream(&stream, 0)
        .await
        .expect("read")
        .into_iter()
        .map(|event| event.metadata.tenant_id)
        .collect();
    assert_eq!(tenants, ["workspace-a", "workspace-a"]);
    assert_eq!(
        bus.tenant_of::<Counter>(id)
            .await
            .expect("tenant")
            .as_deref(),
        Some("workspace-a")
    );
}

macro_rules! suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            fn bus(db: &TestDatabase) -> CommandBus {
                CommandBus::new(Arc::clone(&db.database.event_store(Upcasters::default())))
            }

            fn cached_bus(db: &TestDatabase) -> CommandBus {
                CommandBus::with_cache(db.database.event_store(Upcasters::default()), 16)
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_commands_on_a_cached_bus_all_land() {
                let Some(db) = $open else { return };
                super::concurrent_commands_without_expected_version_all_land(cached_bus(&db)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_cached_bus_refuses_a_stale_expected_version() {
                let Some(db) = $open else { return };
                super::stale_expected_version_is_a_conflict_and_changes_nothing(cached_bus(&db))
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_cached_bus_records_nothing_on_rejection() {
                let Some(db) = $open else { return };
                super::rejection_records_nothing(cached_bus(&db)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cached_buses_see_each_others_appends() {
                let Some(db) = $open else { return };
                super::cached_buses_see_each_others_appends(
                    db.database.event_store(Upcasters::default()),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_commands_without_expected_version_all_land() {
                let Some(db) = $open else { return };
                super::concurrent_commands_without_expected_version_all_land(bus(&db)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn stale_expected_version_is_a_conflict_and_changes_nothing() {
                let Some(db) = $open else { return };
                super::stale_expected_version_is_a_conflict_and_changes_nothing(bus(&db)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_stream_keeps_the_tenant_of_its_first_event() {
                let Some(db) = $open else { return };
                super::a_stream_keeps_the_tenant_of_its_first_event(bus(&db), "t1").await;
                super::a_stream_keeps_the_tenant_of_its_first_event(cached_bus(&db), "t2").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn rejection_records_nothing() {
                let Some(db) = $open else { return };
                super::rejection_records_nothing(bus(&db)).await;
            }
        }
    };
}

suite!(postgres, TestDatabase::postgres().await);
suite!(sqlite, Some(TestDatabase::sqlite().await));
