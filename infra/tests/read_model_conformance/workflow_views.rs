//! The workflow read model: rows for the generic tests, and its lookups,
//! filters and paging.

use flowforge_infra::{
    database::Database,
    event_store::Position,
    read_model::{
        live_workflow_views, ReadModelError, ReadModelTarget, WorkflowListQuery, WorkflowStatus,
        WorkflowView, WorkflowViewStore, WorkflowViews,
    },
};
use serde_json::json;

use flowforge_infra::read_model::TenantScope;

use crate::{at_millis, id, number, ReadModel};

/// [`WorkflowViews`] under the generic tests.
pub(crate) struct WorkflowModel(WorkflowViews);

/// Rows 1 and 2 were recorded before workspaces (tenant `default`), odd
/// rows from 3 on belong to `w1`, even ones to `w2`.
fn tenant_of(n: u64) -> &'static str {
    match n {
        1 | 2 => "default",
        n if n % 2 == 1 => "w1",
        _ => "w2",
    }
}

fn view(n: u64, status: WorkflowStatus, tags: &[&str]) -> WorkflowView {
    WorkflowView {
        id: id(n),
        name: format!("workflow {n}"),
        status,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        definition_version: 1,
        version: 1,
        definition: json!({ "nodes": [{ "id": format!("n{n}"), "type": "noop" }] }),
        created_at: at_millis(i64::try_from(n).expect("small") * 1_250),
        updated_at: at_millis(i64::try_from(n).expect("small") * 1_250),
        position: n,
        tenant_id: tenant_of(n).to_owned(),
    }
}

async fn list(views: &WorkflowViews, query: WorkflowListQuery) -> Vec<WorkflowView> {
    views.list(&query).await.expect("list workflows")
}

async fn all(views: &WorkflowViews) -> Vec<WorkflowView> {
    list(
        views,
        WorkflowListQuery {
            include_archived: true,
            limit: 1000,
            ..Default::default()
        },
    )
    .await
}

impl ReadModel for WorkflowModel {
    const SKIPS_REPLAYS: bool = true;

    fn live() -> ReadModelTarget {
        live_workflow_views()
    }

    fn at(database: &Database, target: ReadModelTarget) -> Self {
        Self(WorkflowViews::at(database.clone(), target))
    }

    async fn write(
        &self,
        rows: &[u64],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let views: Vec<_> = rows
            .iter()
            .map(|n| view(*n, WorkflowStatus::Inactive, &[]))
            .collect();
        self.0.save(&views, from, to).await
    }

    async fn stored(&self) -> Vec<u64> {
        all(&self.0).await.iter().map(|v| number(v.id)).collect()
    }

    async fn checkpoint(&self) -> Position {
        self.0.checkpoint().await.expect("checkpoint")
    }
}

pub(crate) async fn queries_filter_and_page(database: &Database) {
    let views = WorkflowViews::at(database.clone(), live_workflow_views());
    let mut rows = vec![
        view(1, WorkflowStatus::Active, &["a", "b"]),
        view(2, WorkflowStatus::Inactive, &["b"]),
        view(3, WorkflowStatus::Archived, &["a"]),
        view(4, WorkflowStatus::Active, &[]),
        view(5, WorkflowStatus::Inactive, &["a"]),
    ];
    views.save(&rows, 0, 5).await.expect("first batch");
    let mut renamed = rows[1].clone();
    renamed.name = "renamed".to_owned();
    renamed.status = WorkflowStatus::Active;
    renamed.tags = vec!["c".to_owned()];
    renamed.version = 2;
    renamed.position = 6;
    renamed.updated_at = at_millis(60_000);
    // Older than the row: a replay, changes nothing.
    let mut stale = rows[3].clone();
    stale.name = "stale".to_owned();
    stale.position = 2;
    views
        .save(&[renamed.clone(), stale], 5, 6)
        .await
        .expect("second batch");
    rows[1] = renamed;
    assert_eq!(all(&views).await, rows, "rows round-trip");

    assert_eq!(views.get(id(3)).await.expect("get"), Some(rows[2].clone()));
    assert_eq!(views.get(id(99)).await.expect("get a missing one"), None);
    let mut some = views
        .get_many(&[id(5), id(1), id(99)])
        .await
        .expect("get many");
    some.sort_by_key(|v| v.id);
    assert_eq!(some, [rows[0].clone(), rows[4].clone()]);
    assert!(views.get_many(&[]).await.expect("get none").is_empty());

    let q = |f: fn(&mut WorkflowListQuery)| {
        let mut query = WorkflowListQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let cases: Vec<(&str, WorkflowListQuery, Vec<u64>)> = vec![
        ("not archived", q(|_| {}), vec![1, 2, 4, 5]),
        (
            "with archived",
            q(|q| q.include_archived = true),
            vec![1, 2, 3, 4, 5],
        ),
        ("active", q(|q| q.active = Some(true)), vec![1, 2, 4]),
        ("inactive", q(|q| q.active = Some(false)), vec![5]),
        ("tag", q(|q| q.tag = Some("a".into())), vec![1, 5]),
        (
            "tag with archived",
            q(|q| {
                q.tag = Some("a".into());
                q.include_archived = true;
            }),
            vec![1, 3, 5],
        ),
        (
            "tag and active",
            q(|q| {
                q.tag = Some("b".into());
                q.active = Some(true);
            }),
            vec![1],
        ),
        (
            "a tag only the renamed row has",
            q(|q| q.tag = Some("c".into())),
            vec![2],
        ),
        ("a tag no row has", q(|q| q.tag = Some("z".into())), vec![]),
        ("first page", q(|q| q.limit = 2), vec![1, 2]),
        (
            "next page",
            q(|q| {
                q.after = Some(id(2));
                q.limit = 2;
            }),
            vec![4, 5],
        ),
        ("past the end", q(|q| q.after = Some(id(5))), vec![]),
        (
            "one workspace",
            q(|q| {
                q.scope = Some(TenantScope::only("w1"));
                q.include_archived = true;
            }),
            vec![3, 5],
        ),
        (
            "the first workspace, with what came before",
            q(|q| {
                q.scope = Some(TenantScope::with_default("w2"));
                q.include_archived = true;
            }),
            vec![1, 2, 4],
        ),
        (
            "a workspace with nothing",
            q(|q| q.scope = Some(TenantScope::only("w3"))),
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
