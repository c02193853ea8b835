//! One behaviour, two backends: every read model (workflow views, executions,
//! sagas, audit log) runs the same tests against PostgreSQL and the embedded
//! SQLite file, each on a database of its own.
//!
//! The write protocol is tested once, generically, over [`ReadModel`]: a batch
//! moves rows and checkpoint together, a failed or stale batch changes nothing,
//! racing writers from one checkpoint leave one winner, and a rebuild is
//! swapped in whole. Each read model's module adds its own query test (filters,
//! keyset paging, how changes fold), with the expected answers written out, so
//! both backends must give exactly those.

mod audit_log;
mod executions;
mod sagas;
mod workflow_views;

use std::ops::Range;

use chrono::{DateTime, Duration, TimeZone, Utc};
use flowforge_infra::{
    database::Database,
    event_store::Position,
    read_model::{
        rebuild::{prepare_shadow, swap_in},
        ReadModelError, ReadModelTarget,
    },
};
use uuid::Uuid;

/// A read model as the generic tests drive it: row `n` is a row of its own,
/// written by an event at position `n`.
pub(crate) trait ReadModel: Sized {
    /// Whether a batch already in (checkpoint at or past its end) is skipped
    /// rather than refused with `CheckpointMoved`.
    const SKIPS_REPLAYS: bool;

    /// Where the live read model is kept.
    fn live() -> ReadModelTarget;

    /// The read model in `target` of `database`.
    fn at(database: &Database, target: ReadModelTarget) -> Self;

    /// Writes rows `rows` and moves the checkpoint from `from` to `to`.
    async fn write(&self, rows: &[u64], from: Position, to: Position)
        -> Result<(), ReadModelError>;

    /// The numbers of the stored rows, in key order.
    async fn stored(&self) -> Vec<u64>;

    /// The stored checkpoint.
    async fn checkpoint(&self) -> Position;
}

/// The row the database is told to refuse, to make a batch fail half-way.
const REFUSED_ROW: u64 = 666;

/// A fixed instant to hang test timestamps on.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

/// `base_time()` plus `millis` milliseconds: whole seconds and fractions mix,
/// as they do in stored timestamps. Whole milliseconds, because SQLite's time
/// filters compare instants through `julianday`, to the millisecond, where
/// PostgreSQL compares to the microsecond.
pub(crate) fn at_millis(millis: i64) -> DateTime<Utc> {
    base_time() + Duration::milliseconds(millis)
}

/// A UUID that sorts as `n` does.
pub(crate) fn id(n: u64) -> Uuid {
    Uuid::from_u128(u128::from(n))
}

/// The `n` of an [`id`].
pub(crate) fn number(id: Uuid) -> u64 {
    u64::try_from(id.as_u128()).expect("a test id")
}

/// Makes the database refuse any row of `table` at position [`REFUSED_ROW`]:
/// `projection_checkpoints` to refuse the checkpoint move, the read model's
/// table to refuse a row.
async fn refuse_position(database: &Database, table: &str) {
    match database {
        Database::Postgres(pool) => {
            sqlx::query(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT refused_row CHECK (position <> {REFUSED_ROW})"
            ))
            .execute(pool)
            .await
            .expect("add the check");
        }
        Database::Sqlite { writer, .. } => {
            for event in ["INSERT", "UPDATE"] {
                sqlx::query(&format!(
                    "CREATE TRIGGER {table}_refused_{event} BEFORE {event} ON {table} \
                     WHEN NEW.position = {REFUSED_ROW} BEGIN SELECT RAISE(ABORT, 'refused'); END"
                ))
                .execute(writer)
                .await
                .expect("add the trigger");
            }
        }
    }
}

fn assert_refused(outcome: Result<(), ReadModelError>) {
    match outcome {
        Err(ReadModelError::Database(_)) => {}
        other => panic!("expected the database to refuse the batch, got {other:?}"),
    }
}

fn assert_moved(outcome: Result<(), ReadModelError>, expected: Position, actual: Position) {
    match outcome {
        Err(ReadModelError::CheckpointMoved {
            expected: e,
            actual: a,
            ..
        }) => assert_eq!((e, a), (expected, actual), "CheckpointMoved positions"),
        other => panic!("expected CheckpointMoved {{ {expected} → {actual} }}, got {other:?}"),
    }
}

fn all(rows: Range<u64>) -> Vec<u64> {
    rows.collect()
}

async fn a_batch_moves_rows_and_checkpoint_together<M: ReadModel>(database: &Database) {
    let model = M::at(database, M::live());
    assert_eq!(model.checkpoint().await, 0, "a fresh checkpoint is 0");
    model.write(&[1, 2, 3], 0, 3).await.expect("first batch");
    assert_eq!(model.stored().await, all(1..4));
    assert_eq!(model.checkpoint().await, 3);
    model.write(&[4], 3, 4).await.expect("second batch");
    assert_eq!(model.stored().await, all(1..5));
    assert_eq!(model.checkpoint().await, 4);
    // A batch may change no row (events this read model ignores) and still
    // move the checkpoint.
    model.write(&[], 4, 7).await.expect("an empty batch");
    assert_eq!(
        (model.stored().await, model.checkpoint().await),
        (all(1..5), 7)
    );
}

async fn a_failed_batch_changes_nothing<M: ReadModel>(database: &Database) {
    let model = M::at(database, M::live());
    model.write(&[1], 0, 1).await.expect("first batch");
    refuse_position(database, &M::live().table).await;
    // The rows before the refused one are written, then rolled back with it.
    assert_refused(model.write(&[2, 3, REFUSED_ROW], 1, REFUSED_ROW).await);
    assert_eq!(model.stored().await, [1], "no row of the failed batch");
    assert_eq!(model.checkpoint().await, 1, "the checkpoint did not move");
    // Every row is written, then the checkpoint move fails: the rows go too.
    refuse_position(database, "projection_checkpoints").await;
    assert_refused(model.write(&[2, 3], 1, REFUSED_ROW).await);
    assert_eq!(model.stored().await, [1], "no row without its checkpoint");
    assert_eq!(model.checkpoint().await, 1, "the checkpoint did not move");
    model
        .write(&[2, 3], 1, 3)
        .await
        .expect("the writer still works");
    assert_eq!(
        (model.stored().await, model.checkpoint().await),
        (all(1..4), 3)
    );
}

async fn a_stale_checkpoint_is_refused_and_writes_nothing<M: ReadModel>(database: &Database) {
    let model = M::at(database, M::live());
    model.write(&[1, 2], 0, 2).await.expect("first batch");
    // A writer that believes the checkpoint is behind, or ahead, of where it is.
    assert_moved(model.write(&[3], 1, 3).await, 1, 2);
    assert_moved(model.write(&[5], 4, 5).await, 4, 2);
    // A writer whose whole batch is already in.
    let replay = model.write(&[9], 0, 2).await;
    if M::SKIPS_REPLAYS {
        replay.expect("a batch already in is skipped");
    } else {
        assert_moved(replay, 0, 2);
    }
    assert_eq!(model.stored().await, [1, 2], "no row of a refused batch");
    assert_eq!(model.checkpoint().await, 2);
}

async fn racing_writers_from_one_checkpoint_leave_one_winner<M: ReadModel>(database: &Database) {
    let model = M::at(database, M::live());
    let mut rows = Vec::new();
    let mut from = 0;
    // Several rounds: the later ones race on connections already open.
    for round in 0..6 {
        // Each writer believes the checkpoint is at `from` and writes one row
        // of its own, moving the checkpoint to that row.
        let writers: Vec<[u64; 1]> = (1..=8).map(|i| [round * 10 + i]).collect();
        let outcomes = futures::future::join_all(
            writers
                .iter()
                .map(|batch| model.write(batch, from, batch[0])),
        )
        .await;
        let stored = model.stored().await;
        assert_eq!(
            stored.len(),
            rows.len() + 1,
            "one winner per round: {stored:?}"
        );
        let winner = stored[rows.len()];
        assert_eq!(model.checkpoint().await, winner);
        for ([n], outcome) in writers.iter().zip(outcomes) {
            match outcome {
                Ok(()) => assert!(
                    *n == winner || (M::SKIPS_REPLAYS && *n <= winner),
                    "writer {n} succeeded beside winner {winner}"
                ),
                Err(error) => {
                    assert_ne!(*n, winner, "the winner failed: {error}");
                    assert!(
                        matches!(error, ReadModelError::CheckpointMoved { actual, .. } if actual == winner),
                        "writer {n}: {error}"
                    );
                }
            }
        }
        rows.push(winner);
        from = winner;
    }
}

async fn a_rebuild_is_swapped_in_whole<M: ReadModel>(database: &Database) {
    let live = M::at(database, M::live());
    live.write(&[1, 2], 0, 2).await.expect("live batch");

    let shadow_target = prepare_shadow(database, &M::live()).await.expect("prepare");
    assert_eq!(shadow_target, M::live().shadow());
    let shadow = M::at(database, shadow_target.clone());
    shadow.write(&[9], 0, 9).await.expect("leftover batch");
    // A leftover of an interrupted rebuild is dropped.
    let shadow_target = prepare_shadow(database, &M::live())
        .await
        .expect("prepare again");
    assert_eq!(
        (shadow.stored().await, shadow.checkpoint().await),
        (vec![], 0)
    );

    shadow.write(&[3, 4, 5], 0, 5).await.expect("rebuild batch");
    assert_eq!(
        (live.stored().await, live.checkpoint().await),
        (vec![1, 2], 2),
        "the live read model answers unchanged until the swap"
    );

    assert_eq!(swap_in(database, &M::live()).await.expect("swap"), 5);
    assert_eq!(
        (live.stored().await, live.checkpoint().await),
        (all(3..6), 5)
    );
    assert_eq!(
        M::at(database, shadow_target).checkpoint().await,
        0,
        "the shadow's checkpoint is gone"
    );
    // The live writer notices the swap, then resumes from the rebuilt checkpoint
    // on a table with its keys (an upsert needs them).
    assert_moved(live.write(&[6], 2, 6).await, 2, 5);
    live.write(&[5, 6], 5, 6)
        .await
        .expect("resume after the swap");
    assert_eq!(
        (live.stored().await, live.checkpoint().await),
        (all(3..7), 6)
    );

    // The swapped-in table can be rebuilt again.
    let again = M::at(
        database,
        prepare_shadow(database, &M::live()).await.expect("3rd"),
    );
    again.write(&[7], 0, 7).await.expect("second rebuild");
    assert_eq!(swap_in(database, &M::live()).await.expect("swap again"), 7);
    assert_eq!(live.stored().await, [7]);
}

/// One test per (backend, read model, behaviour): `$open` opens the backend's
/// database (or skips), each listed test runs on a database of its own.
macro_rules! conformance_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            conformance_suite!(@model $open, workflow_views, WorkflowModel);
            conformance_suite!(@model $open, executions, ExecutionModel);
            conformance_suite!(@model $open, sagas, SagaModel);
            conformance_suite!(@model $open, audit_log, AuditModel);
        }
    };
    (@model $open:expr, $model:ident, $type:ident) => {
        mod $model {
            use flowforge_infra::test_support::TestDatabase;

            use crate::$model::$type;

            conformance_suite!(@tests $open, $type, [
                a_batch_moves_rows_and_checkpoint_together,
                a_failed_batch_changes_nothing,
                a_stale_checkpoint_is_refused_and_writes_nothing,
                racing_writers_from_one_checkpoint_leave_one_winner,
                a_rebuild_is_swapped_in_whole,
            ]);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn queries_filter_and_page() {
                let Some(db) = $open else { return };
                crate::$model::queries_filter_and_page(&db.database).await;
            }
        }
    };
    (@tests $open:expr, $type:ident, [$($test:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(db) = $open else { return };
                crate::$test::<$type>(&db.database).await;
            }
        )*
    };
}

conformance_suite!(postgres, TestDatabase::postgres().await);
conformance_suite!(sqlite, Some(TestDatabase::sqlite().await));
