//! Which workspace an execution runs in, for the ports that give a node its
//! workspace's resources (credentials, variables, call limits): its
//! stream's tenant, and for work recorded before workspaces existed, the
//! first workspace. An execution never changes workspace, so the answers
//! are remembered: a node run asks without reading the store again.

use std::sync::{Arc, Mutex, PoisonError};

use flowforge_commands::{workspaces::Workspaces, CommandBus};
use flowforge_domain::execution::{Execution, ExecutionId, NodeError};
use flowforge_infra::event_store::DEFAULT_TENANT;
use hashlink::LruCache;

/// The executions whose workspace is remembered.
const REMEMBERED: usize = 10_000;

/// Finds an execution's workspace.
#[derive(Clone)]
pub struct ExecutionWorkspace {
    commands: CommandBus,
    workspaces: Workspaces,
    known: Arc<Mutex<LruCache<ExecutionId, String>>>,
}

impl ExecutionWorkspace {
    /// Looks executions up through `commands`, with `workspaces` for the
    /// first workspace.
    pub fn new(commands: CommandBus, workspaces: Workspaces) -> Self {
        Self {
            commands,
            workspaces,
            known: Arc::new(Mutex::new(LruCache::new(REMEMBERED))),
        }
    }

    /// The workspace (as a stream tenant) `execution` belongs to.
    ///
    /// # Errors
    /// What the store fails with, as an `internal` node error.
    pub async fn of(&self, execution: ExecutionId) -> Result<String, NodeError> {
        if let Some(known) = self.remembered(execution) {
            return Ok(known);
        }
        let workspace = self.look_up(execution).await?;
        // Before any workspace exists the answer is provisional.
        if workspace != DEFAULT_TENANT {
            self.known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(execution, workspace.clone());
        }
        Ok(workspace)
    }

    fn remembered(&self, execution: ExecutionId) -> Option<String> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&execution)
            .cloned()
    }

    async fn look_up(&self, execution: ExecutionId) -> Result<String, NodeError> {
        let tenant = self
            .commands
            .tenant_of::<Execution>(&execution.to_string())
            .await
            .map_err(|e| internal(&e))?
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        if tenant != DEFAULT_TENANT {
            return Ok(tenant);
        }
        let first = self
            .workspaces
            .first_workspace()
            .await
            .map_err(|e| internal(&e))?;
        Ok(first.map_or(tenant, |w| w.to_string()))
    }
}

/// A store failure as the node error to record.
pub(crate) fn internal(error: &dyn std::fmt::Display) -> NodeError {
    NodeError::new(format!("cannot read the execution's workspace: {error}")).with_code("internal")
}
