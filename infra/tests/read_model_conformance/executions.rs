//! The executions list: rows for the generic tests, and its filters and paging.

use flowforge_infra::{
    database::Database,
    event_store::Position,
    read_model::{
        live_execution_views, ExecutionChange, ExecutionQuery, ExecutionView, ExecutionViews,
        ReadModelError, ReadModelTarget,
    },
};

use flowforge_infra::read_model::TenantScope;

use crate::{at_millis, id, number, ReadModel};

/// [`ExecutionViews`] under the generic tests.
pub(crate) struct ExecutionModel(ExecutionViews);

fn view(n: u64, workflow: u64, status: &str, requested_millis: i64) -> ExecutionView {
    ExecutionView {
        id: id(n),
        workflow_id: id(workflow),
        status: status.to_owned(),
        trigger: "manual".to_owned(),
        requested_at: at_millis(requested_millis),
        finished_at: None,
        failed_node: None,
        position: n,
        tenant_id: if n % 2 == 1 { "w1" } else { "w2" }.to_owned(),
    }
}

async fn all(views: &ExecutionViews) -> Vec<ExecutionView> {
    list(
        views,
        ExecutionQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
}

async fn list(views: &ExecutionViews, query: ExecutionQuery) -> Vec<ExecutionView> {
    views.list(&query).await.expect("list executions")
}

impl ReadModel for ExecutionModel {
    const SKIPS_REPLAYS: bool = false;

    fn live() -> ReadModelTarget {
        live_execution_views()
    }

    fn at(database: &Database, target: ReadModelTarget) -> Self {
        Self(ExecutionViews::at(database.clone(), target))
    }

    async fn write(
        &self,
        rows: &[u64],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let changes: Vec<_> = rows
            .iter()
            .map(|n| ExecutionChange::Requested(view(*n, 1, "running", 0)))
            .collect();
        self.0.apply(&changes, from, to).await
    }

    async fn stored(&self) -> Vec<u64> {
        all(&self.0).await.iter().map(|v| number(v.id)).collect()
    }

    async fn checkpoint(&self) -> Position {
        self.0.checkpoint().await.expect("checkpoint")
    }
}

fn ids(views: &[ExecutionView]) -> Vec<u64> {
    views.iter().map(|v| number(v.id)).collect()
}

pub(crate) async fn queries_filter_and_page(database: &Database) {
    let views = ExecutionViews::at(database.clone(), live_execution_views());
    let (a, b) = (100, 200);
    let mut e2 = view(2, b, "succeeded", 1_500);
    e2.finished_at = Some(at_millis(2_000));
    let mut e3 = view(3, a, "failed", 2_000);
    e3.failed_node = Some("http".to_owned());
    let requested = vec![
        view(1, a, "running", 0),
        e2,
        e3,
        view(4, a, "running", 3_250),
    ];
    views
        .apply(
            &requested
                .iter()
                .cloned()
                .map(ExecutionChange::Requested)
                .collect::<Vec<_>>(),
            0,
            4,
        )
        .await
        .expect("requested");
    views
        .apply(
            &[
                ExecutionChange::Status {
                    id: id(1),
                    status: "succeeded".to_owned(),
                    finished_at: Some(at_millis(10_000)),
                    failed_node: None,
                    position: 5,
                },
                // Older than the row: a replay, changes nothing.
                ExecutionChange::Status {
                    id: id(3),
                    status: "running".to_owned(),
                    finished_at: None,
                    failed_node: None,
                    position: 2,
                },
                // Already there: changes nothing.
                ExecutionChange::Requested(view(2, a, "running", 0)),
                // Keeps the finish time it does not name.
                ExecutionChange::Status {
                    id: id(2),
                    status: "cancelled".to_owned(),
                    finished_at: None,
                    failed_node: None,
                    position: 6,
                },
            ],
            4,
            6,
        )
        .await
        .expect("status changes");

    let mut expected = requested;
    expected[0].status = "succeeded".to_owned();
    expected[0].finished_at = Some(at_millis(10_000));
    expected[0].position = 5;
    expected[1].status = "cancelled".to_owned();
    expected[1].position = 6;
    assert_eq!(all(&views).await, expected, "rows round-trip");

    let query = |f: fn(&mut ExecutionQuery)| {
        let mut query = ExecutionQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let cases: Vec<(&str, ExecutionQuery, Vec<u64>)> = vec![
        (
            "workflow",
            query(|q| q.workflow_id = Some(id(100))),
            vec![1, 3, 4],
        ),
        (
            "status",
            query(|q| q.status = Some("running".into())),
            vec![4],
        ),
        (
            "from, inclusive",
            query(|q| q.from = Some(at_millis(1_500))),
            vec![2, 3, 4],
        ),
        (
            "to, exclusive",
            query(|q| q.to = Some(at_millis(2_000))),
            vec![1, 2],
        ),
        (
            "from and to",
            query(|q| {
                q.from = Some(at_millis(1_500));
                q.to = Some(at_millis(3_250));
            }),
            vec![2, 3],
        ),
        (
            "workflow and from",
            query(|q| {
                q.workflow_id = Some(id(100));
                q.from = Some(at_millis(2_000));
            }),
            vec![3, 4],
        ),
        (
            "one workspace",
            query(|q| q.scope = Some(TenantScope::only("w2"))),
            vec![2, 4],
        ),
        (
            "one workspace and a workflow",
            query(|q| {
                q.scope = Some(TenantScope::only("w1"));
                q.workflow_id = Some(id(100));
            }),
            vec![1, 3],
        ),
        ("first page", query(|q| q.limit = 2), vec![1, 2]),
        (
            "next page",
            query(|q| {
                q.after = Some(id(2));
                q.limit = 2;
            }),
            vec![3, 4],
        ),
        ("past the end", query(|q| q.after = Some(id(4))), vec![]),
        (
            "no match",
            query(|q| q.status = Some("waiting".into())),
            vec![],
        ),
    ];
    for (case, query, expected) in cases {
        assert_eq!(ids(&list(&views, query).await), expected, "{case}");
    }
}
