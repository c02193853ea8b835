//! The audit log: entries for the generic tests, and its filters and paging.

use flowforge_infra::{
    database::Database,
    event_store::Position,
    read_model::{
        live_audit_log, AuditEntry, AuditLog, AuditQuery, ReadModelError, ReadModelTarget,
    },
};

use crate::{at_millis, id, ReadModel};

/// [`AuditLog`] under the generic tests.
pub(crate) struct AuditModel(AuditLog);

fn entry(
    position: Position,
    aggregate: (&str, &str),
    actor: Option<&str>,
    millis: i64,
) -> AuditEntry {
    AuditEntry {
        position,
        event_id: id(1_000 + position),
        aggregate_type: aggregate.0.to_owned(),
        aggregate_id: aggregate.1.to_owned(),
        version: position,
        event_type: "ThingHappened".to_owned(),
        tenant_id: "default".to_owned(),
        actor: actor.map(str::to_owned),
        correlation_id: position.is_multiple_of(2).then(|| id(2_000 + position)),
        recorded_at: at_millis(millis),
    }
}

async fn query(log: &AuditLog, query: AuditQuery) -> Vec<AuditEntry> {
    log.query(&query).await.expect("query the audit log")
}

async fn all(log: &AuditLog) -> Vec<AuditEntry> {
    query(
        log,
        AuditQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
}

impl ReadModel for AuditModel {
    const SKIPS_REPLAYS: bool = false;

    fn live() -> ReadModelTarget {
        live_audit_log()
    }

    fn at(database: &Database, target: ReadModelTarget) -> Self {
        Self(AuditLog::at(database.clone(), target))
    }

    async fn write(
        &self,
        rows: &[u64],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let entries: Vec<_> = rows
            .iter()
            .map(|n| entry(*n, ("thing", "a"), None, 0))
            .collect();
        self.0.record(&entries, from, to).await
    }

    async fn stored(&self) -> Vec<u64> {
        all(&self.0).await.iter().map(|e| e.position).collect()
    }

    async fn checkpoint(&self) -> Position {
        self.0.checkpoint().await.expect("checkpoint")
    }
}

pub(crate) async fn queries_filter_and_page(database: &Database) {
    let log = AuditLog::new(database.clone());
    let entries = vec![
        entry(1, ("workflow", "w1"), Some("alice"), 0),
        entry(2, ("workflow", "w1"), Some("bob"), 1_500),
        entry(3, ("execution", "e1"), None, 2_000),
        entry(4, ("workflow", "w2"), Some("alice"), 2_750),
        entry(5, ("execution", "e1"), Some("alice"), 4_000),
        entry(6, ("workflow", "w1"), Some("alice"), 5_125),
    ];
    log.record(&entries[..4], 0, 4).await.expect("first batch");
    // Entry 3 again, changed: recorded entries are left as they are.
    let mut replayed = entries[2].clone();
    replayed.event_type = "Rewritten".to_owned();
    let second = [replayed, entries[4].clone(), entries[5].clone()];
    log.record(&second, 4, 6).await.expect("second batch");
    assert_eq!(all(&log).await, entries, "entries round-trip");

    let q = |f: fn(&mut AuditQuery)| {
        let mut query = AuditQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let cases: Vec<(&str, AuditQuery, Vec<u64>)> = vec![
        (
            "type",
            q(|q| q.aggregate_type = Some("workflow".into())),
            vec![1, 2, 4, 6],
        ),
        (
            "type and id",
            q(|q| {
                q.aggregate_type = Some("workflow".into());
                q.aggregate_id = Some("w1".into());
            }),
            vec![1, 2, 6],
        ),
        ("id", q(|q| q.aggregate_id = Some("e1".into())), vec![3, 5]),
        (
            "actor",
            q(|q| q.actor = Some("alice".into())),
            vec![1, 4, 5, 6],
        ),
        (
            "from, inclusive",
            q(|q| q.from = Some(at_millis(2_000))),
            vec![3, 4, 5, 6],
        ),
        (
            "to, exclusive",
            q(|q| q.to = Some(at_millis(2_750))),
            vec![1, 2, 3],
        ),
        (
            "from and to",
            q(|q| {
                q.from = Some(at_millis(1_500));
                q.to = Some(at_millis(4_000));
            }),
            vec![2, 3, 4],
        ),
        (
            "actor in a window",
            q(|q| {
                q.actor = Some("alice".into());
                q.from = Some(at_millis(1));
                q.to = Some(at_millis(5_125));
            }),
            vec![4, 5],
        ),
        ("first page", q(|q| q.limit = 2), vec![1, 2]),
        (
            "next page",
            q(|q| {
                q.after = 2;
                q.limit = 3;
            }),
            vec![3, 4, 5],
        ),
        (
            "actor, paged",
            q(|q| {
                q.actor = Some("alice".into());
                q.after = 4;
            }),
            vec![5, 6],
        ),
        ("past the end", q(|q| q.after = 6), vec![]),
    ];
    for (case, query_, expected) in cases {
        let found: Vec<u64> = query(&log, query_)
            .await
            .iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(found, expected, "{case}");
    }
}
