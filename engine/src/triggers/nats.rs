//! NATS triggers: each message on an active workflow's `nats_trigger` subject
//! starts an execution. Subscriptions join a queue group per trigger node, so
//! with several instances each message starts one execution, not one per
//! instance. The message's subject, headers and payload (parsed as JSON when it
//! is JSON, text otherwise) become the first item.

use std::{collections::HashMap, sync::Arc, time::Duration};

use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{ExecutionId, Item, Trigger, TriggerKind},
    schedule::schedule_id,
    workflow::{NodeType, WorkflowId},
};
use flowforge_infra::{
    event_store::{EventMetadata, Position},
    read_model::{active_workflows, WorkflowViewStore},
};
use flowforge_monitoring::trace_context::{continue_trace, trace_id_of};
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};
use uuid::Uuid;

use crate::{
    starter::{start_execution, ExecutionStart},
    triggers::refresh::RefreshClock,
};

/// One `nats_trigger` node of an active workflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TriggerNode {
    workflow_id: WorkflowId,
    node: String,
    subject: String,
}

/// Keeps one subscription per active NATS trigger node.
pub struct NatsTriggers {
    client: async_nats::Client,
    commands: CommandBus,
    workflows: Arc<dyn WorkflowViewStore>,
    shutdown: CancellationToken,
    workflow_changes: Option<watch::Receiver<Position>>,
}

impl NatsTriggers {
    /// Triggers subscribing through `client`.
    pub fn new(
        client: async_nats::Client,
        commands: CommandBus,
        workflows: Arc<dyn WorkflowViewStore>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            client,
            commands,
            workflows,
            shutdown,
            workflow_changes: None,
        }
    }

    /// Re-reads the trigger nodes when the workflows read model moves (its
    /// position), instead of every second; without it, polls.
    pub fn with_workflow_changes(mut self, changes: Option<watch::Receiver<Position>>) -> Self {
        self.workflow_changes = changes;
        self
    }

    /// Follows the active workflows' trigger nodes until shutdown.
    pub async fn run(self) {
        let mut running: HashMap<TriggerNode, JoinHandle<()>> = HashMap::new();
        let mut refresh = RefreshClock::new(self.workflow_changes.clone());
        loop {
            if !refresh.due() {
                tokio::select! {
                    () = self.shutdown.cancelled() => break,
                    () = refresh.wait(Duration::MAX) => continue,
                }
            }
            match active_workflows(self.workflows.as_ref()).await {
                Ok(views) => {
                    let wanted: Vec<TriggerNode> = views
                        .iter()
                        .flat_map(|v| triggers_of(WorkflowId::from_uuid(v.id), &v.definition))
                        .collect();
                    running.retain(|trigger, task| {
                        let keep = wanted.contains(trigger) && !task.is_finished();
                        if !keep {
                            task.abort();
                        }
                        keep
                    });
                    for trigger in wanted {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            running.entry(trigger)
                        {
                            let listening = self.listen(slot.key().clone());
                            slot.insert(tokio::spawn(listening));
                        }
                    }
                }
                Err(error) => {
                    warn!(%error, "cannot read NATS triggers");
                    refresh.retry_soon();
                }
            }
        }
        running.values().for_each(JoinHandle::abort);
    }

    fn listen(
        &self,
        trigger: TriggerNode,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let client = self.client.clone();
        let commands = self.commands.clone();
        async move {
            let group = format!(
                "flowforge-{}",
                schedule_id(trigger.workflow_id, &trigger.node)
            );
            let mut messages = match client.queue_subscribe(trigger.subject.clone(), group).await {
                Ok(subscriber) => subscriber,
                Err(error) => {
                    warn!(%error, subject = trigger.subject, "cannot subscribe a NATS trigger");
                    return;
                }
            };
            info!(workflow = %trigger.workflow_id, node = trigger.node, subject = trigger.subject, "NATS trigger listening");
            while let Some(message) = messages.next().await {
                let execution_id = ExecutionId::from_uuid(Uuid::now_v7());
                // A publisher that traces its messages gets the execution in
                // its trace.
                let traceparent = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("traceparent"))
                    .map(|v| v.as_str().to_owned())
                    .filter(|v| trace_id_of(v).is_some());
                let span = tracing::info_span!(
                    "nats.receive",
                    otel.name = format!("receive {}", trigger.subject),
                    otel.kind = "consumer",
                    execution_id = %execution_id,
                    trace_id = tracing::field::Empty,
                );
                continue_trace(&span, traceparent.as_deref());
                let metadata = EventMetadata {
                    actor: Some("nats-trigger".to_owned()),
                    traceparent,
                    ..EventMetadata::default()
                };
                let start = ExecutionStart::new(
                    execution_id,
                    trigger.workflow_id,
                    Trigger::new(TriggerKind::Nats).at_node(trigger.node.clone()),
                    vec![message_item(&message)],
                );
                let started = start_execution(&commands, start, &metadata)
                    .instrument(span)
                    .await;
                if let Err(error) = started {
                    warn!(%error, subject = trigger.subject, "a NATS message could not start its execution");
                }
            }
        }
    }
}

/// The first item of a NATS-triggered execution.
fn message_item(message: &async_nats::Message) -> Item {
    let payload = serde_json::from_slice(&message.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&message.payload).into_owned()));
    let headers: Map<String, Value> = message
        .headers
        .iter()
        .flat_map(|headers| headers.iter())
        .map(|(name, values)| {
            let value = values
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            (name.to_string(), Value::String(value))
        })
        .collect();
    let mut item = Item::new();
    item.insert("subject".into(), Value::String(message.subject.to_string()));
    item.insert("headers".into(), Value::Object(headers));
    item.insert("payload".into(), payload);
    item
}

/// The NATS trigger nodes of a stored definition.
fn triggers_of(workflow_id: WorkflowId, definition: &Value) -> Vec<TriggerNode> {
    let Some(nodes) = definition["nodes"].as_array() else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter(|node| {
            node["type"].as_str().and_then(|t| NodeType::parse(t).ok())
                == Some(NodeType::NatsTrigger)
        })
        .filter_map(|node| {
            Some(TriggerNode {
                workflow_id,
                node: node["name"].as_str()?.to_owned(),
                subject: node["parameters"]["subject"].as_str()?.to_owned(),
            })
        })
        .collect()
}
