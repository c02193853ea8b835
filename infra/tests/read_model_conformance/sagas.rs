//! The saga list: rows for the generic tests, how steps and statuses fold, and
//! its filter and paging.

use flowforge_infra::{
    database::Database,
    event_store::Position,
    read_model::{
        live_saga_views, ReadModelError, ReadModelTarget, SagaChange, SagaQuery, SagaView,
        SagaViews,
    },
};

use crate::{at_millis, id, number, ReadModel};

/// [`SagaViews`] under the generic tests.
pub(crate) struct SagaModel(SagaViews);

fn step(saga: u64, position: Position) -> SagaChange {
    SagaChange::StepCompleted {
        id: id(saga),
        workflow_id: id(100),
        at: at_millis(i64::try_from(position).expect("small") * 250),
        position,
        tenant_id: "w1".to_owned(),
    }
}

fn status(
    saga: u64,
    status: &str,
    reason: Option<&str>,
    parked: Option<&str>,
    position: Position,
) -> SagaChange {
    SagaChange::Status {
        id: id(saga),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        parked_step: parked.map(str::to_owned),
        at: at_millis(i64::try_from(position).expect("small") * 250),
        position,
    }
}

async fn list(views: &SagaViews, query: SagaQuery) -> Vec<SagaView> {
    views.list(&query).await.expect("list sagas")
}

async fn all(views: &SagaViews) -> Vec<SagaView> {
    list(
        views,
        SagaQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
}

impl ReadModel for SagaModel {
    const SKIPS_REPLAYS: bool = false;

    fn live() -> ReadModelTarget {
        live_saga_views()
    }

    fn at(database: &Database, target: ReadModelTarget) -> Self {
        Self(SagaViews::at(database.clone(), target))
    }

    async fn write(
        &self,
        rows: &[u64],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let changes: Vec<_> = rows.iter().map(|n| step(*n, *n)).collect();
        self.0.apply(&changes, from, to).await
    }

    async fn stored(&self) -> Vec<u64> {
        all(&self.0).await.iter().map(|v| number(v.id)).collect()
    }

    async fn checkpoint(&self) -> Position {
        self.0.checkpoint().await.expect("checkpoint")
    }
}

fn saga(n: u64, status: &str, steps: u64, opened: Position, updated: Position) -> SagaView {
    SagaView {
        id: id(n),
        workflow_id: id(100),
        status: status.to_owned(),
        reason: None,
        parked_step: None,
        steps,
        opened_at: at_millis(i64::try_from(opened).expect("small") * 250),
        updated_at: at_millis(i64::try_from(updated).expect("small") * 250),
        position: updated,
        tenant_id: "w1".to_owned(),
    }
}

pub(crate) async fn queries_filter_and_page(database: &Database) {
    let views = SagaViews::at(database.clone(), live_saga_views());
    let changes = [
        step(1, 1),
        step(1, 2),
        step(1, 3),
        step(2, 4),
        status(2, "compensating", Some("failure"), None, 5),
        status(2, "parked", None, Some("charge"), 6),
        step(3, 7),
        status(3, "closed", None, None, 8),
        step(4, 9),
    ];
    views.apply(&changes, 0, 9).await.expect("first batch");
    views
        .apply(
            &[
                // Replays of changes the rows reflect: nothing moves.
                step(1, 2),
                status(3, "open", None, None, 7),
                // Unparks, keeps the reason it does not name.
                status(2, "compensated", None, None, 10),
            ],
            9,
            10,
        )
        .await
        .expect("second batch");

    let mut compensated = saga(2, "compensated", 1, 4, 10);
    compensated.reason = Some("failure".to_owned());
    let expected = vec![
        saga(1, "open", 3, 1, 3),
        compensated,
        saga(3, "closed", 1, 7, 8),
        saga(4, "open", 1, 9, 9),
    ];
    assert_eq!(all(&views).await, expected, "rows round-trip");

    let cases: Vec<(&str, SagaQuery, Vec<u64>)> = vec![
        (
            "open",
            SagaQuery {
                status: Some("open".into()),
                limit: 100,
                ..Default::default()
            },
            vec![1, 4],
        ),
        (
            "compensated",
            SagaQuery {
                status: Some("compensated".into()),
                limit: 100,
                ..Default::default()
            },
            vec![2],
        ),
        (
            "parked",
            SagaQuery {
                status: Some("parked".into()),
                limit: 100,
                ..Default::default()
            },
            vec![],
        ),
        (
            "first page",
            SagaQuery {
                limit: 2,
                ..Default::default()
            },
            vec![1, 2],
        ),
        (
            "next page",
            SagaQuery {
                after: Some(id(2)),
                limit: 2,
                ..Default::default()
            },
            vec![3, 4],
        ),
        (
            "one after",
            SagaQuery {
                after: Some(id(2)),
                limit: 1,
                ..Default::default()
            },
            vec![3],
        ),
        (
            "open, paged",
            SagaQuery {
                status: Some("open".into()),
                after: Some(id(1)),
                limit: 100,
                scope: Some(flowforge_infra::read_model::TenantScope::only("w1")),
            },
            vec![4],
        ),
        (
            "another workspace",
            SagaQuery {
                limit: 100,
                scope: Some(flowforge_infra::read_model::TenantScope::only("w2")),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (case, query, expected) in cases {
        let found: Vec<u64> = list(&views, query)
            .await
            .iter()
            .map(|v| number(v.id))
            .collect();
        assert_eq!(found, expected, "{case}");
    }
}
