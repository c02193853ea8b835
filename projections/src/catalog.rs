//! Every projection FlowForge runs, by name, with where its live read model is.
//! The server starts them from here, and the replay tooling finds them here.

use std::sync::Arc;

use flowforge_infra::{
    database::Database,
    read_model::{
        live_audit_log, live_execution_views, live_saga_views, live_workflow_views, AuditLog,
        ExecutionViews, ReadModelError, ReadModelTarget, SagaViews,
    },
};

use crate::{
    AuditLogProjection, ExecutionsProjection, Projection, SagasProjection, WorkflowProjection,
};

/// The names of all projections.
pub const PROJECTIONS: [&str; 4] = ["audit_log", "executions", "sagas", "workflows"];

/// The live read model of projection `name`, if there is such a projection.
pub fn live_target(name: &str) -> Option<ReadModelTarget> {
    match name {
        "workflows" => Some(live_workflow_views()),
        "audit_log" => Some(live_audit_log()),
        "executions" => Some(live_execution_views()),
        "sagas" => Some(live_saga_views()),
        _ => None,
    }
}

/// Projection `name` writing to `target` in `database`.
pub fn projection_at(
    name: &str,
    database: &Database,
    target: ReadModelTarget,
) -> Option<Arc<dyn Projection>> {
    match name {
        "workflows" => Some(Arc::new(WorkflowProjection::new(
            database.workflow_views_at(target),
        ))),
        "audit_log" => Some(Arc::new(AuditLogProjection::new(AuditLog::at(
            database.clone(),
            target,
        )))),
        "executions" => Some(Arc::new(ExecutionsProjection::new(ExecutionViews::at(
            database.clone(),
            target,
        )))),
        "sagas" => Some(Arc::new(SagasProjection::new(SagaViews::at(
            database.clone(),
            target,
        )))),
        _ => None,
    }
}

/// Every projection writing to its live read model.
pub fn live_projections(database: &Database) -> Vec<Arc<dyn Projection>> {
    PROJECTIONS
        .iter()
        .filter_map(|name| projection_at(name, database, live_target(name)?))
        .collect()
}

/// A fingerprint of a read model's contents: how many rows, and a SHA-256 over
/// every row's JSON in key order. Equal read models have equal checksums, on
/// either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModelChecksum {
    /// Rows in the read model.
    pub rows: u64,
    /// Hex SHA-256 of the rows.
    pub sha256: String,
}

/// The checksum of projection `name`'s live read model.
pub async fn checksum(
    name: &str,
    database: &Database,
) -> Result<Option<ReadModelChecksum>, ReadModelError> {
    use flowforge_infra::read_model::{AuditQuery, ExecutionQuery, SagaQuery, WorkflowListQuery};
    use sha2::{Digest, Sha256};

    let mut hasher = Sha256::new();
    let mut rows = 0_u64;
    let mut add = |json: Vec<u8>| {
        hasher.update(&json);
        hasher.update(b"\n");
        rows += 1;
    };
    const PAGE: u32 = 1000;
    match name {
        "workflows" => {
            let views = database.workflow_views();
            let page = |after| {
                let views = views.clone();
                async move {
                    let query = WorkflowListQuery {
                        include_archived: true,
                        after,
                        limit: PAGE,
                        ..Default::default()
                    };
                    views.list(&query).await
                }
            };
            hash_pages(None, page, |view| Some(view.id), &mut add).await?;
        }
        "audit_log" => {
            let log = AuditLog::new(database.clone());
            let page = |after| {
                let log = log.clone();
                async move {
                    let query = AuditQuery {
                        after,
                        limit: PAGE,
                        ..Default::default()
                    };
                    log.query(&query).await
                }
            };
            hash_pages(0, page, |entry| entry.position, &mut add).await?;
        }
        "executions" => {
            let views = ExecutionViews::at(database.clone(), live_execution_views());
            let page = |after| {
                let views = views.clone();
                async move {
                    let query = ExecutionQuery {
                        after,
                        limit: PAGE,
                        ..Default::default()
                    };
                    views.list(&query).await
                }
            };
            hash_pages(None, page, |view| Some(view.id), &mut add).await?;
        }
        "sagas" => {
            let views = SagaViews::at(database.clone(), live_saga_views());
            let page = |after| {
                let views = views.clone();
                async move {
                    let query = SagaQuery {
                        after,
                        limit: PAGE,
                        ..Default::default()
                    };
                    views.list(&query).await
                }
            };
            hash_pages(None, page, |view| Some(view.id), &mut add).await?;
        }
        _ => return Ok(None),
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(Some(ReadModelChecksum { rows, sha256 }))
}

/// Feeds every row of a read model, in key order, to `add` as JSON: pages
/// fetched with `page(after)`, each starting after the `key` of the last row.
async fn hash_pages<T, K, Fut>(
    mut after: K,
    page: impl Fn(K) -> Fut,
    key: impl Fn(&T) -> K,
    add: &mut impl FnMut(Vec<u8>),
) -> Result<(), ReadModelError>
where
    T: serde::Serialize,
    Fut: std::future::Future<Output = Result<Vec<T>, ReadModelError>>,
{
    loop {
        let rows = page(after).await?;
        let Some(last) = rows.last().map(&key) else {
            return Ok(());
        };
        rows.iter()
            .for_each(|row| add(serde_json::to_vec(row).unwrap_or_default()));
        after = last;
    }
}
