//! Workflow life-cycle commands that keep webhook routes unique: a workflow
//! holds a claim on each of its webhook routes (see
//! [`flowforge_domain::webhook_path`]) for as long as it is active, so a second
//! workflow with an overlapping route is refused instead of activating and
//! never firing.
//!
//! The claim and the workflow's own event are appends to two streams, so the
//! order makes it safe: a route is claimed *before* the workflow may answer it
//! (activation, or an update of an active workflow), and released only *after*
//! the workflow stopped answering it (deactivation, archival, an update that
//! dropped it). After every command the workflow's claims are reconciled with
//! its state as stored, a few times while it keeps moving, so racing commands
//! on one workflow converge. If a process dies between the two appends, a
//! claim is left behind for a workflow that is not active: the refusal names
//! that workflow, and deactivating it releases every route it ever declared.
//! An archived workflow can never answer again, so its claims are taken over.
//! Routes are unique within a workspace: each has its own paths.

use std::collections::BTreeSet;

use flowforge_domain::workflow::WorkflowStatus;
use flowforge_domain::{
    decode_event,
    webhook_path::{
        webhook_path_id, webhook_routes, PathNamespace, WebhookPath, WebhookPathCommand,
        WebhookPathError, WebhookRoute,
    },
    Aggregate, Workflow, WorkflowCommand, WorkflowError, WorkflowEvent, WorkflowId,
};
use flowforge_infra::event_store::{EventMetadata, StreamId};
use tracing::warn;

use crate::{CommandBus, CommandError, CommandOutcome};

/// How often the claims are reconciled while the workflow keeps changing.
const RECONCILE_ROUNDS: usize = 5;

/// Why a life-cycle command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The workflow refused the command, or its stream failed.
    #[error(transparent)]
    Workflow(#[from] CommandError<WorkflowError>),
    /// Another workflow holds an overlapping webhook route (the refusal says
    /// which), or a path's stream failed.
    #[error(transparent)]
    Path(#[from] CommandError<WebhookPathError>),
}

/// Runs `command` on workflow `id` (at version `expected`, if given), claiming
/// the webhook routes it will answer first and releasing those it no longer
/// answers after; the routes are those of the workflow's workspace,
/// `namespace`.
pub async fn run_lifecycle(
    bus: &CommandBus,
    namespace: &PathNamespace,
    id: WorkflowId,
    command: WorkflowCommand,
    expected: Option<u64>,
    metadata: &EventMetadata,
) -> Result<CommandOutcome, LifecycleError> {
    let (workflow, _) = bus.load::<Workflow>(&id.to_string()).await?;
    let name = workflow.name().to_owned();
    let needed = match (&command, workflow.status()) {
        (_, WorkflowStatus::Archived) => Vec::new(),
        (WorkflowCommand::Activate, _) => workflow
            .definition()
            .map(webhook_routes)
            .unwrap_or_default(),
        (WorkflowCommand::UpdateDefinition { definition, .. }, WorkflowStatus::Active) => {
            webhook_routes(definition)
        }
        _ => Vec::new(),
    };
    for route in &needed {
        if let Err(taken) = claim(bus, namespace, route, id, &name, metadata).await {
            reconcile(bus, namespace, id, metadata).await?;
            return Err(taken);
        }
    }
    let outcome = bus
        .execute::<Workflow>(&id.to_string(), command, expected, metadata)
        .await;
    reconcile(bus, namespace, id, metadata).await?;
    Ok(outcome?)
}

/// Claims `route` for the workflow, taking over the claim of an archived
/// holder.
async fn claim(
    bus: &CommandBus,
    namespace: &PathNamespace,
    route: &WebhookRoute,
    id: WorkflowId,
    name: &str,
    metadata: &EventMetadata,
) -> Result<(), LifecycleError> {
    let mut replacing = Vec::new();
    loop {
        let command = WebhookPathCommand::Claim {
            route: route.clone(),
            workflow_id: id,
            workflow_name: name.to_owned(),
            replacing: replacing.clone(),
        };
        let refusal = match bus
            .execute::<WebhookPath>(
                &webhook_path_id(namespace, &route.path),
                command,
                None,
                metadata,
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(CommandError::Rejected(refusal)) => refusal,
            Err(other) => return Err(other.into()),
        };
        let WebhookPathError::Taken {
            workflow_id: holder,
            ..
        } = &refusal;
        let (held_by, _) = bus.load::<Workflow>(&holder.to_string()).await?;
        if replacing.contains(holder) || held_by.status() != WorkflowStatus::Archived {
            return Err(CommandError::Rejected(refusal).into());
        }
        replacing.push(*holder);
    }
}

/// Brings the workflow's claims in line with its stored state: its current
/// routes claimed while it is active, every other route it ever declared
/// released. If a route it answers turns out to be held by another workflow
/// (a race with a command on that one), the claim wins: the workflow is
/// deactivated and the refusal returned.
async fn reconcile(
    bus: &CommandBus,
    namespace: &PathNamespace,
    id: WorkflowId,
    metadata: &EventMetadata,
) -> Result<(), LifecycleError> {
    for _ in 0..RECONCILE_ROUNDS {
        let (workflow, version) = bus.load::<Workflow>(&id.to_string()).await?;
        let current: BTreeSet<WebhookRoute> = match workflow.status() {
            WorkflowStatus::Active => workflow
                .definition()
                .map(webhook_routes)
                .unwrap_or_default(),
            WorkflowStatus::Inactive | WorkflowStatus::Archived => Vec::new(),
        }
        .into_iter()
        .collect();
        for route in &current {
            if let Err(taken) = claim(bus, namespace, route, id, workflow.name(), metadata).await {
                warn!(workflow_id = %id, error = %taken, "an active workflow lost a webhook route; deactivating it");
                bus.execute::<Workflow>(
                    &id.to_string(),
                    WorkflowCommand::Deactivate,
                    None,
                    metadata,
                )
                .await?;
                release_all(bus, namespace, id, &BTreeSet::new(), metadata).await?;
                return Err(taken);
            }
        }
        release_all(bus, namespace, id, &current, metadata).await?;
        let (_, now) = bus.load::<Workflow>(&id.to_string()).await?;
        if now == version {
            return Ok(());
        }
    }
    Ok(())
}

/// Releases every route the workflow's definitions ever declared, but `keep`.
async fn release_all(
    bus: &CommandBus,
    namespace: &PathNamespace,
    id: WorkflowId,
    keep: &BTreeSet<WebhookRoute>,
    metadata: &EventMetadata,
) -> Result<(), LifecycleError> {
    for route in declared_routes(bus, id).await?.difference(keep) {
        let command = WebhookPathCommand::Release {
            route: route.clone(),
            workflow_id: id,
        };
        bus.execute::<WebhookPath>(
            &webhook_path_id(namespace, &route.path),
            command,
            None,
            metadata,
        )
        .await?;
    }
    Ok(())
}

/// Every webhook route any version of the workflow's definition declared.
async fn declared_routes(
    bus: &CommandBus,
    id: WorkflowId,
) -> Result<BTreeSet<WebhookRoute>, LifecycleError> {
    let stream = StreamId::new(Workflow::TYPE, id.to_string())
        .map_err(|e| LifecycleError::Workflow(e.into()))?;
    let recorded = bus
        .store()
        .read_stream(&stream, 0)
        .await
        .map_err(|e| LifecycleError::Workflow(CommandError::Store(e)))?;
    let mut routes = BTreeSet::new();
    for event in recorded {
        let event = decode_event::<WorkflowEvent>(&event.event_type, &event.payload)
            .map_err(|e| LifecycleError::Workflow(e.into()))?;
        if let WorkflowEvent::Created { definition, .. }
        | WorkflowEvent::DefinitionUpdated { definition, .. } = event
        {
            routes.extend(webhook_routes(&definition));
        }
    }
    Ok(routes)
}
