//! The `workflows` projection against the real databases: commands go through the
//! command bus into the event store, the projection runner folds them into the
//! read model, and the tests read it back the way the API does. Every test runs on
//! PostgreSQL and on the embedded SQLite store, each on a database of its own.
//!
//! The oracle for "the read model is right" is built independently of the
//! projection: each workflow's stream is replayed through the `Workflow` aggregate
//! and the row it should have is derived from that state and the stream's events.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use flowforge_commands::CommandBus;
use flowforge_domain::{
    decode_event,
    workflow::{
        ConnectionTarget, NodeConnections, RawNode, RawWorkflowDefinition, Workflow,
        WorkflowCommand, WorkflowDefinition, WorkflowEvent, WorkflowId,
        WorkflowStatus as AggregateStatus,
    },
    Aggregate,
};
use flowforge_infra::{
    bus::{store_tail::StoreTail, EventSource, EventSubscription, SubscriptionError},
    event_store::{
        upcasting::Upcasters, EventMetadata, EventStore, ExpectedVersion, NewEvent, Position,
        RecordedEvent, StreamId,
    },
    leadership::Leadership,
    read_model::{WorkflowListQuery, WorkflowStatus, WorkflowView, WorkflowViewStore},
    test_support::TestDatabase,
};
use flowforge_projections::{Projection, ProjectionProgress, ProjectionRunner, WorkflowProjection};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for the projection to reach a position. Generous: only a
/// broken projection takes anywhere near this long.
const CATCH_UP: Duration = Duration::from_secs(20);

/// More rows than any test writes, so one page holds the whole read model.
const ALL: u32 = 10_000;

// ---------------------------------------------------------------------------
// The write side.

/// A valid definition: a manual trigger connected to a `set` node whose value
/// is `field`, so two definitions with different `field`s differ.
fn definition(name: &str, field: &str) -> WorkflowDefinition {
    let mut set = RawNode::new("Set fields", "set");
    set.parameters = json!({ "values": { "field": field } })
        .as_object()
        .cloned()
        .expect("parameters are an object");
    let raw = RawWorkflowDefinition {
        name: name.into(),
        nodes: vec![RawNode::new("Start", "manual_trigger"), set],
        connections: BTreeMap::from([(
            "Start".to_owned(),
            NodeConnections {
                main: vec![vec![ConnectionTarget::to("Set fields")]],
            },
        )]),
        ..RawWorkflowDefinition::default()
    };
    WorkflowDefinition::parse(raw).expect("a trigger connected to a set node is valid")
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

/// The write side of one test database.
struct WriteSide {
    bus: CommandBus,
    store: Arc<dyn EventStore>,
}

impl WriteSide {
    fn new(db: &TestDatabase) -> Self {
        let store = db.database.event_store(Upcasters::default());
        Self {
            bus: CommandBus::new(store.clone()),
            store,
        }
    }

    /// Runs `command` on workflow `id`; returns (stream version, position).
    async fn run(&self, id: Uuid, command: WorkflowCommand) -> (u64, Position) {
        let outcome = self
            .bus
            .execute::<Workflow>(&id.to_string(), command, None, &EventMetadata::default())
            .await
            .expect("the command is accepted");
        (outcome.stream_version, outcome.position)
    }

    /// Creates a workflow named `name` with `tags`; returns its id.
    async fn create(&self, name: &str, with_tags: &[&str]) -> Uuid {
        let id = Uuid::now_v7();
        self.run(
            id,
            WorkflowCommand::Create {
                workflow_id: WorkflowId::from_uuid(id),
                definition: definition(name, "v1"),
                tags: tags(with_tags),
            },
        )
        .await;
        id
    }

    async fn update(&self, id: Uuid, name: &str, field: &str, new_tags: Option<&[&str]>) {
        self.run(
            id,
            WorkflowCommand::UpdateDefinition {
                definition: definition(name, field),
                tags: new_tags.map(tags),
            },
        )
        .await;
    }

    async fn head(&self) -> Position {
        self.store.head().await.expect("head")
    }

    /// Appends an event of another aggregate type, which the projection must skip.
    async fn append_foreign_event(&self, id: &str) -> Position {
        self.store
            .append(
                &StreamId::new("other", id).expect("valid stream id"),
                ExpectedVersion::Any,
                vec![NewEvent::new(
                    "SomethingElseHappened",
                    1,
                    json!({ "id": id }),
                    EventMetadata::default(),
                )],
            )
            .await
            .expect("append a foreign event")
            .last_position
    }
}

// ---------------------------------------------------------------------------
// The read side.

/// A subscription that records every position it hands to the runner.
struct RecordingTail {
    tail: StoreTail,
    delivered: Arc<Mutex<Vec<Position>>>,
}

#[async_trait]
impl EventSubscription for RecordingTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        let batch = self.tail.next_batch(max).await?;
        self.delivered
            .lock()
            .expect("delivered lock")
            .extend(batch.iter().map(|e| e.position));
        Ok(batch)
    }
}

/// Opens [`RecordingTail`]s and records where each one starts.
struct RecordingSource {
    store: Arc<dyn EventStore>,
    subscribed_after: Arc<Mutex<Vec<Position>>>,
    delivered: Arc<Mutex<Vec<Position>>>,
}

#[async_trait]
impl EventSource for RecordingSource {
    async fn subscribe(
        &self,
        _name: &str,
        after: Position,
    ) -> Result<Box<dyn EventSubscription>, SubscriptionError> {
        self.subscribed_after
            .lock()
            .expect("subscribed lock")
            .push(after);
        Ok(Box::new(RecordingTail {
            tail: StoreTail::new(self.store.clone(), after, Duration::from_millis(50)),
            delivered: self.delivered.clone(),
        }))
    }
}

/// A projection runner following one database's store, spawned on the runtime.
struct RunningProjection {
    progress: ProjectionProgress,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    /// The positions the runner opened subscriptions after (its checkpoints).
    subscribed_after: Arc<Mutex<Vec<Position>>>,
    /// Every position the subscriptions delivered, in order.
    delivered: Arc<Mutex<Vec<Position>>>,
}

impl RunningProjection {
    fn start(db: &TestDatabase, store: &Arc<dyn EventStore>) -> Self {
        let runner = ProjectionRunner::new(Arc::new(WorkflowProjection::new(
            db.database.workflow_views(),
        )));
        let progress = runner.progress();
        let shutdown = CancellationToken::new();
        let subscribed_after = Arc::new(Mutex::new(Vec::new()));
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let source = Arc::new(RecordingSource {
            store: store.clone(),
            subscribed_after: subscribed_after.clone(),
            delivered: delivered.clone(),
        });
        let task = tokio::spawn(runner.run(
            source,
            Leadership::for_database(&db.database),
            shutdown.clone(),
        ));
        Self {
            progress,
            shutdown,
            task,
            subscribed_after,
            delivered,
        }
    }

    /// Waits until the read model reflects `position`; fails the test otherwise.
    async fn caught_up(&self, position: Position) {
        assert!(
            self.progress.wait_for(position, CATCH_UP).await,
            "the projection did not reach position {position} within {CATCH_UP:?} (it is at {})",
            self.progress.current()
        );
    }

    /// Cancels the runner and waits for it to finish.
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(CATCH_UP, self.task)
            .await
            .expect("the runner stops when cancelled")
            .expect("the runner task did not panic");
    }

    fn subscribed_after(&self) -> Vec<Position> {
        self.subscribed_after
            .lock()
            .expect("subscribed lock")
            .clone()
    }

    fn delivered(&self) -> Vec<Position> {
        self.delivered.lock().expect("delivered lock").clone()
    }
}

fn all_rows() -> WorkflowListQuery {
    WorkflowListQuery {
        include_archived: true,
        limit: ALL,
        ..WorkflowListQuery::default()
    }
}

async fn list(views: &Arc<dyn WorkflowViewStore>, query: WorkflowListQuery) -> Vec<WorkflowView> {
    views.list(&query).await.expect("list workflows")
}

async fn list_ids(views: &Arc<dyn WorkflowViewStore>, query: WorkflowListQuery) -> Vec<Uuid> {
    list(views, query).await.iter().map(|v| v.id).collect()
}

async fn get(views: &Arc<dyn WorkflowViewStore>, id: Uuid) -> WorkflowView {
    views
        .get(id)
        .await
        .expect("get workflow")
        .unwrap_or_else(|| panic!("workflow {id} has a row"))
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

/// The rows the read model must hold after folding the whole log: every
/// workflow stream replayed through the aggregate, in id order.
async fn rows_from_the_log(store: &Arc<dyn EventStore>) -> Vec<WorkflowView> {
    let log = store.read_all(0, 100_000).await.expect("read the log");
    let mut streams: BTreeMap<Uuid, Vec<RecordedEvent>> = BTreeMap::new();
    for event in log
        .into_iter()
        .filter(|e| e.stream.aggregate_type() == Workflow::TYPE)
    {
        let id = Uuid::parse_str(event.stream.aggregate_id()).expect("workflow ids are UUIDs");
        streams.entry(id).or_default().push(event);
    }
    streams
        .into_iter()
        .map(|(id, events)| {
            let state = Workflow::from_events(events.iter().map(|e| {
                decode_event::<WorkflowEvent>(&e.event_type, &e.payload)
                    .expect("workflow events decode")
            }));
            let (first, last) = match (events.first(), events.last()) {
                (Some(first), Some(last)) => (first, last),
                _ => unreachable!("a stream in the log has events"),
            };
            WorkflowView {
                id,
                name: state.name().to_owned(),
                status: match state.status() {
                    AggregateStatus::Inactive => WorkflowStatus::Inactive,
                    AggregateStatus::Active => WorkflowStatus::Active,
                    AggregateStatus::Archived => WorkflowStatus::Archived,
                },
                tags: state.tags().to_vec(),
                definition_version: state.definition_version(),
                version: last.version,
                definition: serde_json::to_value(state.definition().expect("created"))
                    .expect("definitions serialise"),
                created_at: first.recorded_at,
                updated_at: last.recorded_at,
                position: last.position,
                tenant_id: first.metadata.tenant_id.clone(),
            }
        })
        .collect()
}

/// Asserts that the read model holds exactly the rows the log implies.
async fn assert_read_model_matches_the_log(
    store: &Arc<dyn EventStore>,
    views: &Arc<dyn WorkflowViewStore>,
) {
    let expected = rows_from_the_log(store).await;
    let actual = list(views, all_rows()).await;
    assert_eq!(
        actual.len(),
        expected.len(),
        "one row per workflow: {actual:#?}"
    );
    for (actual, expected) in actual.iter().zip(&expected) {
        assert_eq!(actual, expected, "row of workflow {}", expected.id);
    }
}

/// A row with its timestamps blanked, for comparing read models built from
/// logs recorded at different times.
fn without_timestamps(view: WorkflowView) -> WorkflowView {
    WorkflowView {
        created_at: Default::default(),
        updated_at: Default::default(),
        ..view
    }
}

// ---------------------------------------------------------------------------
// The behaviours.

/// Create, update, activate, deactivate and archive workflows; the read model
/// shows each one as it now is, and lists filter and page over them.
async fn the_read_model_follows_the_workflow_lifecycle(db: TestDatabase) {
    let write = WriteSide::new(&db);
    let views = db.database.workflow_views();
    let projection = RunningProjection::start(&db, &write.store);

    let billing = write.create("billing", &["billing", "ops"]).await;
    write
        .update(billing, "billing v2", "v2", Some(&["billing"]))
        .await;
    let (billing_version, _) = write.run(billing, WorkflowCommand::Activate).await;

    let reports = write.create("reports", &["ops"]).await;
    write.run(reports, WorkflowCommand::Activate).await;
    let (reports_version, _) = write.run(reports, WorkflowCommand::Deactivate).await;

    let legacy = write.create("legacy", &["ops"]).await;
    write.run(legacy, WorkflowCommand::Activate).await;
    let (legacy_version, _) = write.run(legacy, WorkflowCommand::Archive).await;

    let draft = write.create("draft", &[]).await;
    // A foreign event last: the checkpoint must still reach the head.
    write.append_foreign_event("x1").await;
    let head = write.head().await;
    projection.caught_up(head).await;
    assert_eq!(
        views.checkpoint().await.expect("checkpoint"),
        head,
        "the checkpoint is the head, foreign events included"
    );

    let row = get(&views, billing).await;
    assert_eq!(
        (
            row.name.as_str(),
            row.status,
            row.definition_version,
            row.version,
            row.tags.clone()
        ),
        (
            "billing v2",
            WorkflowStatus::Active,
            2,
            3,
            tags(&["billing"])
        )
    );
    assert_eq!(row.version, billing_version);
    assert_eq!(
        row.definition["nodes"][1]["parameters"]["values"]["field"],
        json!("v2")
    );
    assert_eq!(row.definition["nodes"][0]["type"], json!("manual_trigger"));

    let row = get(&views, reports).await;
    assert_eq!(
        (
            row.status,
            row.definition_version,
            row.version,
            row.tags.clone()
        ),
        (WorkflowStatus::Inactive, 1, reports_version, tags(&["ops"]))
    );
    assert_eq!(reports_version, 3);

    let row = get(&views, legacy).await;
    assert_eq!(
        (row.status, row.version),
        (WorkflowStatus::Archived, legacy_version)
    );

    let row = get(&views, draft).await;
    assert_eq!(
        (
            row.name.as_str(),
            row.status,
            row.definition_version,
            row.version,
            row.tags.len()
        ),
        ("draft", WorkflowStatus::Inactive, 1, 1, 0)
    );
    assert_eq!(
        row.created_at, row.updated_at,
        "never changed since creation"
    );
    assert!(
        views.get(Uuid::now_v7()).await.expect("get").is_none(),
        "an unknown workflow has no row"
    );

    // Filters.
    let query =
        |active: Option<bool>, tag: Option<&str>, include_archived: bool| WorkflowListQuery {
            active,
            tag: tag.map(str::to_owned),
            include_archived,
            after: None,
            limit: 100,
            scope: None,
        };
    assert_eq!(
        list_ids(&views, query(None, None, false)).await,
        sorted(vec![billing, reports, draft]),
        "archived workflows are hidden by default"
    );
    assert_eq!(
        list_ids(&views, query(None, None, true)).await,
        sorted(vec![billing, reports, legacy, draft])
    );
    assert_eq!(
        list_ids(&views, query(Some(true), None, false)).await,
        vec![billing]
    );
    assert_eq!(
        list_ids(&views, query(Some(false), None, true)).await,
        sorted(vec![reports, draft]),
        "inactive means inactive, not archived"
    );
    assert_eq!(
        list_ids(&views, query(None, Some("ops"), false)).await,
        vec![reports],
        "billing's update dropped the ops tag; legacy is archived"
    );
    assert_eq!(
        list_ids(&views, query(None, Some("ops"), true)).await,
        sorted(vec![reports, legacy])
    );
    assert_eq!(
        list_ids(&views, query(Some(true), Some("billing"), false)).await,
        vec![billing]
    );
    assert_eq!(
        list_ids(&views, query(Some(false), Some("billing"), true)).await,
        Vec::<Uuid>::new()
    );
    for missing in ["nope", "bill", "OPS"] {
        assert!(
            list_ids(&views, query(None, Some(missing), true))
                .await
                .is_empty(),
            "tag {missing:?} matches whole tags only, case-sensitively"
        );
    }

    // Keyset paging: pages of two, each after the last id of the one before,
    // add up to the whole list, in id order, without repeats.
    let everything = list_ids(&views, query(None, None, true)).await;
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = list_ids(
            &views,
            WorkflowListQuery {
                after,
                limit: 2,
                ..query(None, None, true)
            },
        )
        .await;
        assert!(page.len() <= 2, "a page holds at most `limit` rows");
        let Some(last) = page.last().copied() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, everything);
    assert_eq!(
        list_ids(
            &views,
            WorkflowListQuery {
                after: Some(everything[1]),
                limit: 100,
                ..query(Some(false), None, true)
            },
        )
        .await,
        everything[2..]
            .iter()
            .copied()
            .filter(|id| *id == reports || *id == draft)
            .collect::<Vec<_>>(),
        "paging combines with filters"
    );

    assert_read_model_matches_the_log(&write.store, &views).await;
    projection.stop().await;
}

/// A runner stopped and started again resumes from its checkpoint: it reads only
/// the events appended since, and leaves the rows it had written alone.
async fn a_restarted_runner_resumes_from_its_checkpoint(db: TestDatabase) {
    let write = WriteSide::new(&db);
    let views = db.database.workflow_views();

    let first = RunningProjection::start(&db, &write.store);
    let untouched = write.create("untouched", &["keep"]).await;
    write.run(untouched, WorkflowCommand::Activate).await;
    let updated = write.create("updated", &[]).await;
    let archived = write.create("archived", &[]).await;
    let stopped_at = write.head().await;
    first.caught_up(stopped_at).await;
    assert_eq!(first.subscribed_after(), vec![0]);
    assert_eq!(first.delivered(), (1..=stopped_at).collect::<Vec<_>>());
    first.stop().await;
    let before = list(&views, all_rows()).await;

    // Written while no runner is running.
    write
        .update(updated, "updated v2", "v2", Some(&["new"]))
        .await;
    write.run(archived, WorkflowCommand::Archive).await;
    let created_later = write.create("created later", &["new"]).await;
    write.append_foreign_event("x2").await;
    let head = write.head().await;
    assert_eq!(
        views.checkpoint().await.expect("checkpoint"),
        stopped_at,
        "nothing moves the checkpoint while the runner is stopped"
    );
    assert_eq!(list(&views, all_rows()).await, before);

    let second = RunningProjection::start(&db, &write.store);
    second.caught_up(head).await;
    assert_eq!(
        second.subscribed_after(),
        vec![stopped_at],
        "the new runner subscribes after the checkpoint"
    );
    assert_eq!(
        second.delivered(),
        (stopped_at + 1..=head).collect::<Vec<_>>(),
        "only the events appended while stopped are read again"
    );
    assert_eq!(views.checkpoint().await.expect("checkpoint"), head);
    assert_read_model_matches_the_log(&write.store, &views).await;

    let after = list(&views, all_rows()).await;
    let row = |rows: &[WorkflowView], id: Uuid| {
        rows.iter()
            .find(|v| v.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("workflow {id} has a row"))
    };
    assert_eq!(
        row(&after, untouched),
        row(&before, untouched),
        "a workflow with no new events keeps its row as it was"
    );
    let (was, now) = (row(&before, updated), row(&after, updated));
    assert_eq!(
        (now.name.as_str(), now.definition_version, now.version),
        ("updated v2", 2, 2)
    );
    assert!(now.position > was.position && now.position > stopped_at);
    assert_eq!(now.created_at, was.created_at);
    assert_eq!(get(&views, archived).await.status, WorkflowStatus::Archived);
    assert_eq!(get(&views, created_later).await.tags, tags(&["new"]));
    second.stop().await;
}

/// Writes a little history with every kind of workflow event and a foreign event
/// in the middle and at the end.
async fn write_history(write: &WriteSide) -> Vec<Uuid> {
    let a = write.create("a", &["x"]).await;
    let b = write.create("b", &["y"]).await;
    write.run(a, WorkflowCommand::Activate).await;
    write.append_foreign_event("between").await;
    write.update(b, "b v2", "v2", None).await;
    write.run(a, WorkflowCommand::Deactivate).await;
    let c = write.create("c", &["x", "y"]).await;
    write.run(b, WorkflowCommand::Archive).await;
    write.update(a, "a v2", "v2", Some(&["z"])).await;
    write.run(c, WorkflowCommand::Activate).await;
    write.append_foreign_event("last").await;
    vec![a, b, c]
}

/// Applying the same batch twice leaves the read model as applying it once, and
/// an older batch applied after a newer one moves nothing back.
async fn applying_a_batch_again_changes_nothing(db: TestDatabase) {
    let write = WriteSide::new(&db);
    let views = db.database.workflow_views();
    let projection = WorkflowProjection::new(views.clone());
    write_history(&write).await;
    let batch = write.store.read_all(0, 1000).await.expect("read the log");
    let head = write.head().await;
    assert_eq!(batch.last().map(|e| e.position), Some(head));

    projection.apply(&batch).await.expect("apply once");
    let once = list(&views, all_rows()).await;
    assert_eq!(projection.checkpoint().await.expect("checkpoint"), head);
    assert_read_model_matches_the_log(&write.store, &views).await;

    projection.apply(&batch).await.expect("apply again");
    assert_eq!(list(&views, all_rows()).await, once);
    assert_eq!(projection.checkpoint().await.expect("checkpoint"), head);

    for end in [1, 3, batch.len() / 2, batch.len() - 1] {
        projection
            .apply(&batch[..end])
            .await
            .expect("apply an older batch");
        assert_eq!(
            projection.checkpoint().await.expect("checkpoint"),
            head,
            "an older batch (up to position {}) does not move the checkpoint back",
            batch[end - 1].position
        );
        assert_eq!(list(&views, all_rows()).await, once);
    }
    projection.apply(&[]).await.expect("apply nothing");
    assert_eq!(list(&views, all_rows()).await, once);
}

/// At-least-once delivery: a batch that overlaps what was already applied applies
/// only its new events, even when one workflow has events on both sides.
async fn an_overlapping_redelivery_applies_only_the_new_events(db: TestDatabase) {
    let write = WriteSide::new(&db);
    let views = db.database.workflow_views();
    let projection = WorkflowProjection::new(views.clone());
    write_history(&write).await;
    let batch = write.store.read_all(0, 1000).await.expect("read the log");

    let split = batch.len() / 2;
    projection
        .apply(&batch[..split])
        .await
        .expect("apply the first half");
    assert_eq!(
        projection.checkpoint().await.expect("checkpoint"),
        batch[split - 1].position
    );
    projection
        .apply(&batch[2..])
        .await
        .expect("apply an overlapping redelivery");
    assert_eq!(
        projection.checkpoint().await.expect("checkpoint"),
        write.head().await
    );
    assert_read_model_matches_the_log(&write.store, &views).await;
}

/// Many writers at once while the projection follows: it ends with exactly the
/// rows the log implies, and saw every position once, in order.
async fn concurrent_writers_are_all_projected(db: TestDatabase) {
    const WRITERS: usize = 6;
    const WORKFLOWS_PER_WRITER: usize = 5;
    let write = Arc::new(WriteSide::new(&db));
    let views = db.database.workflow_views();
    let projection = RunningProjection::start(&db, &write.store);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let write = write.clone();
            tokio::spawn(async move {
                for n in 0..WORKFLOWS_PER_WRITER {
                    let tag = format!("writer-{writer}");
                    let id = write.create(&format!("w{writer}-{n}"), &[&tag]).await;
                    write.run(id, WorkflowCommand::Activate).await;
                    if n % 2 == 0 {
                        write
                            .update(id, &format!("w{writer}-{n} v2"), "v2", None)
                            .await;
                    }
                    if n % 3 == 0 {
                        write.run(id, WorkflowCommand::Archive).await;
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }
    let head = write.head().await;
    projection.caught_up(head).await;
    assert_eq!(projection.delivered(), (1..=head).collect::<Vec<_>>());
    assert_read_model_matches_the_log(&write.store, &views).await;
    assert_eq!(
        list(&views, all_rows()).await.len(),
        WRITERS * WORKFLOWS_PER_WRITER
    );
    let writer_0 = list(
        &views,
        WorkflowListQuery {
            tag: Some("writer-0".into()),
            include_archived: true,
            limit: 100,
            ..WorkflowListQuery::default()
        },
    )
    .await;
    assert_eq!(writer_0.len(), WORKFLOWS_PER_WRITER);
    projection.stop().await;
}

/// The read model is a pure function of the log: a second database fed the same
/// events in the same order builds the same rows (up to the times they were recorded).
async fn a_rebuilt_read_model_equals_the_live_one(live: TestDatabase, rebuilt: TestDatabase) {
    let write = WriteSide::new(&live);
    let live_views = live.database.workflow_views();
    let projection = RunningProjection::start(&live, &write.store);
    write_history(&write).await;
    let head = write.head().await;
    projection.caught_up(head).await;
    projection.stop().await;

    let copy = WriteSide::new(&rebuilt);
    for event in write.store.read_all(0, 1000).await.expect("read the log") {
        let expected = ExpectedVersion::Exact(event.version - 1);
        let outcome = copy
            .store
            .append(
                &event.stream,
                expected,
                vec![NewEvent {
                    event_id: event.event_id,
                    event_type: event.event_type.clone(),
                    schema_version: event.schema_version,
                    payload: event.payload.clone(),
                    metadata: event.metadata.clone(),
                }],
            )
            .await
            .expect("copy the event");
        assert_eq!(
            outcome.last_position, event.position,
            "same order, same positions"
        );
    }
    let rebuilt_views = rebuilt.database.workflow_views();
    let rebuilding = RunningProjection::start(&rebuilt, &copy.store);
    rebuilding.caught_up(head).await;
    assert_eq!(rebuilt_views.checkpoint().await.expect("checkpoint"), head);
    assert_read_model_matches_the_log(&copy.store, &rebuilt_views).await;

    let strip = |rows: Vec<WorkflowView>| -> Vec<WorkflowView> {
        rows.into_iter().map(without_timestamps).collect()
    };
    let live_rows = list(&live_views, all_rows()).await;
    assert_eq!(live_rows.len(), 3);
    assert_eq!(
        strip(list(&rebuilt_views, all_rows()).await),
        strip(live_rows)
    );
    let statuses: BTreeSet<_> = list(&rebuilt_views, all_rows())
        .await
        .iter()
        .map(|v| v.status.as_str())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["active", "archived", "inactive"]),
        "the history covers every status"
    );
    rebuilding.stop().await;
}

macro_rules! suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn the_read_model_follows_the_workflow_lifecycle() {
                let Some(db) = $open else { return };
                super::the_read_model_follows_the_workflow_lifecycle(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_restarted_runner_resumes_from_its_checkpoint() {
                let Some(db) = $open else { return };
                super::a_restarted_runner_resumes_from_its_checkpoint(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn applying_a_batch_again_changes_nothing() {
                let Some(db) = $open else { return };
                super::applying_a_batch_again_changes_nothing(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn an_overlapping_redelivery_applies_only_the_new_events() {
                let Some(db) = $open else { return };
                super::an_overlapping_redelivery_applies_only_the_new_events(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_writers_are_all_projected() {
                let Some(db) = $open else { return };
                super::concurrent_writers_are_all_projected(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_rebuilt_read_model_equals_the_live_one() {
                let Some(live) = $open else { return };
                let Some(rebuilt) = $open else { return };
                super::a_rebuilt_read_model_equals_the_live_one(live, rebuilt).await;
            }
        }
    };
}

suite!(postgres, TestDatabase::postgres().await);
suite!(sqlite, Some(TestDatabase::sqlite().await));
