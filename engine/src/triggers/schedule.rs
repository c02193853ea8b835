//! Fires schedule triggers. Every instance runs a scheduler; for each tick of
//! each active workflow's `schedule` node each one tries to record
//! `ScheduleFired(tick)` on that schedule's stream, the store's optimistic
//! concurrency lets exactly one succeed, and only that one starts the
//! execution. So a tick runs once however many instances are up.
//!
//! The execution's id is derived from the schedule and the tick, and starting
//! it is idempotent: an instance that loses the race for a tick, and every
//! scheduler when it comes up (for each schedule's last fired tick), starts
//! that tick's execution too, which records nothing if it exists. So a winner
//! that dies between recording the tick and starting its execution loses no run.
//!
//! Missed ticks: a scheduler starts from the first tick after it comes up;
//! ticks that fell while no instance was running are skipped, not replayed
//! (a backlog of runs after an outage is rarely what a schedule means).

use std::{collections::HashMap, str::FromStr, sync::Arc, time::Duration};

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::{
    parser::{CronParser, Seconds},
    Cron,
};
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::{ExecutionId, Item, Trigger, TriggerKind},
    schedule::{schedule_id, Schedule, ScheduleCommand, ScheduleError},
    workflow::{NodeType, Workflow, WorkflowId, WorkflowStatus},
};
use flowforge_infra::{
    event_store::{EventMetadata, Position},
    read_model::{active_workflows, WorkflowViewStore},
};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use crate::{
    starter::{start_execution, ExecutionStart},
    triggers::refresh::RefreshClock,
};

/// The longest sleep between two looks at the due ticks.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// One schedule node of an active workflow.
#[derive(Debug, Clone)]
struct ScheduleEntry {
    workflow_id: WorkflowId,
    node: String,
    pattern: String,
    timezone: Tz,
    cron: Cron,
}

/// What identifies a schedule's timing: a change to any part starts its
/// ticks afresh.
type ScheduleKey = (WorkflowId, String, String, Tz);

impl ScheduleEntry {
    fn key(&self) -> ScheduleKey {
        (
            self.workflow_id,
            self.node.clone(),
            self.pattern.clone(),
            self.timezone,
        )
    }
}

/// Fires due schedule ticks until cancelled.
pub struct Scheduler {
    commands: CommandBus,
    workflows: Arc<dyn WorkflowViewStore>,
    shutdown: CancellationToken,
    workflow_changes: Option<watch::Receiver<Position>>,
}

impl Scheduler {
    /// A scheduler reading schedules from `workflows` and recording through `commands`.
    pub fn new(
        commands: CommandBus,
        workflows: Arc<dyn WorkflowViewStore>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            commands,
            workflows,
            shutdown,
            workflow_changes: None,
        }
    }

    /// Re-reads the schedules when the workflows read model moves (its
    /// position), instead of every second; without it, polls.
    pub fn with_workflow_changes(mut self, changes: Option<watch::Receiver<Position>>) -> Self {
        self.workflow_changes = changes;
        self
    }

    /// Runs until shutdown.
    pub async fn run(self) {
        let mut entries: Vec<ScheduleEntry> = Vec::new();
        let mut next_tick: HashMap<ScheduleKey, DateTime<Utc>> = HashMap::new();
        let mut refresh = RefreshClock::new(self.workflow_changes.clone());
        loop {
            if refresh.due() {
                match self.schedules().await {
                    Ok(found) => entries = found,
                    Err(error) => {
                        warn!(%error, "cannot read schedules");
                        refresh.retry_soon();
                    }
                }
                // A changed pattern or timezone is a new key: its next tick is
                // computed afresh instead of firing once more at the old time.
                next_tick.retain(|key, _| entries.iter().any(|e| e.key() == *key));
            }
            let now = Utc::now();
            for entry in &entries {
                let key = entry.key();
                let due = match next_tick.get(&key) {
                    Some(due) => *due,
                    None => {
                        self.recover_last_tick(entry).await;
                        let Some(first) = next_after(entry, now) else {
                            continue;
                        };
                        next_tick.insert(key.clone(), first);
                        first
                    }
                };
                if due <= now {
                    self.fire(entry, due).await;
                    if let Some(next) = next_after(entry, due) {
                        next_tick.insert(key, next);
                    }
                }
            }
            // Sleep until the next tick is due, or the schedules may have changed.
            let now = Utc::now();
            let until_next_tick = next_tick
                .values()
                .min()
                .map_or(LONGEST_SLEEP, |due| {
                    (*due - now).to_std().unwrap_or_default() + Duration::from_millis(1)
                })
                .min(LONGEST_SLEEP);
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = refresh.wait(until_next_tick) => {}
            }
        }
    }

    /// Records the tick; the instance that wins starts the execution.
    async fn fire(&self, entry: &ScheduleEntry, tick: DateTime<Utc>) {
        // The read model may lag a deactivation: ask the workflow's own stream.
        match self
            .commands
            .load::<Workflow>(&entry.workflow_id.to_string())
            .await
        {
            Ok((workflow, _)) if workflow.status() == WorkflowStatus::Active => {}
            Ok(_) => return,
            Err(error) => {
                warn!(%error, workflow = %entry.workflow_id, "cannot load a scheduled workflow");
                return;
            }
        }
        let execution_id = tick_execution_id(entry.workflow_id, &entry.node, tick);
        let metadata = EventMetadata {
            actor: Some("scheduler".to_owned()),
            correlation_id: Some(execution_id.as_uuid()),
            ..EventMetadata::default()
        };
        let command = ScheduleCommand::Fire {
            workflow_id: entry.workflow_id,
            node: entry.node.clone(),
            tick,
            execution_id,
        };
        let id = schedule_id(entry.workflow_id, &entry.node);
        match self
            .commands
            .execute::<Schedule>(&id, command, None, &metadata)
            .await
        {
            Ok(_) => {}
            // Another instance recorded this very tick: make sure it started.
            Err(CommandError::Rejected(ScheduleError::AlreadyFired {
                tick: offered,
                last,
            })) if offered == last => {}
            Err(CommandError::Rejected(ScheduleError::AlreadyFired { .. })) => return,
            Err(error) => {
                warn!(%error, workflow = %entry.workflow_id, node = entry.node, "cannot record a schedule tick");
                return;
            }
        }
        self.start_tick(entry, tick, &metadata).await;
    }

    /// Starts the execution of the schedule's last fired tick if it is not in
    /// the log: its scheduler died between recording the tick and starting it.
    async fn recover_last_tick(&self, entry: &ScheduleEntry) {
        let id = schedule_id(entry.workflow_id, &entry.node);
        let Ok((schedule, _)) = self.commands.load::<Schedule>(&id).await else {
            return;
        };
        let Some(tick) = schedule.last_tick() else {
            return;
        };
        let metadata = EventMetadata {
            actor: Some("scheduler".to_owned()),
            correlation_id: Some(tick_execution_id(entry.workflow_id, &entry.node, tick).as_uuid()),
            ..EventMetadata::default()
        };
        self.start_tick(entry, tick, &metadata).await;
    }

    /// Starts the execution of one tick; nothing happens if it exists. The
    /// tick's span is the root of the execution's trace.
    #[tracing::instrument(name = "schedule.tick", skip_all, fields(
        otel.name = format!("schedule tick {}", entry.node),
        workflow_id = %entry.workflow_id,
        %tick,
    ))]
    async fn start_tick(
        &self,
        entry: &ScheduleEntry,
        tick: DateTime<Utc>,
        metadata: &EventMetadata,
    ) {
        let execution_id = tick_execution_id(entry.workflow_id, &entry.node, tick);
        let mut item = Item::new();
        item.insert("timestamp".into(), Value::String(tick.to_rfc3339()));
        item.insert("cron".into(), Value::String(entry.pattern.clone()));
        item.insert("timezone".into(), json!(entry.timezone.name()));
        let trigger = Trigger::new(TriggerKind::Schedule).at_node(entry.node.clone());
        // The tick was recorded while the workflow was active (checked before
        // recording it), so it runs even if the workflow was deactivated since:
        // every recorded tick has exactly one execution.
        let start = ExecutionStart::new(execution_id, entry.workflow_id, trigger, vec![item])
            .even_if_inactive();
        match start_execution(&self.commands, start, metadata).await {
            Ok(()) => {
                info!(workflow = %entry.workflow_id, node = entry.node, %tick, %execution_id, "schedule fired");
            }
            Err(error) if error.already_started() => {}
            Err(error) => {
                warn!(%error, workflow = %entry.workflow_id, "a schedule tick could not start its execution");
            }
        }
    }

    async fn schedules(
        &self,
    ) -> Result<Vec<ScheduleEntry>, flowforge_infra::read_model::ReadModelError> {
        let found = active_workflows(self.workflows.as_ref())
            .await?
            .iter()
            .flat_map(|view| schedules_of(WorkflowId::from_uuid(view.id), &view.definition))
            .collect();
        Ok(found)
    }
}

/// The id of the execution of `tick` of the schedule node `node`: the same on
/// every instance, so starting it twice records it once.
pub fn tick_execution_id(workflow: WorkflowId, node: &str, tick: DateTime<Utc>) -> ExecutionId {
    let name = format!("schedule/{node}/{}", tick.timestamp());
    ExecutionId::from_uuid(Uuid::new_v5(&workflow.as_uuid(), name.as_bytes()))
}

/// The first tick of `entry` strictly after `after`, on a whole second: every
/// instance must name the same tick for the store to let only one record it
/// (croner keeps the sub-second part of its starting point).
fn next_after(entry: &ScheduleEntry, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = after.with_nanosecond(0).unwrap_or(after);
    entry
        .cron
        .find_next_occurrence(&after.with_timezone(&entry.timezone), false)
        .ok()
        .map(|tick| tick.with_timezone(&Utc))
}

/// The schedule nodes of a stored definition; nodes with a bad cron or
/// timezone are skipped with a warning.
fn schedules_of(workflow_id: WorkflowId, definition: &Value) -> Vec<ScheduleEntry> {
    let Some(nodes) = definition["nodes"].as_array() else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter(|node| node["type"].as_str().and_then(|t| NodeType::parse(t).ok()) == Some(NodeType::Schedule))
        .filter_map(|node| {
            let name = node["name"].as_str()?.to_owned();
            let pattern = node["parameters"]["cron"].as_str()?.to_owned();
            let timezone = node["parameters"]["timezone"].as_str().unwrap_or("UTC");
            let timezone = match Tz::from_str(timezone) {
                Ok(tz) => tz,
                Err(error) => {
                    warn!(%workflow_id, node = name, timezone, %error, "unknown timezone; schedule skipped");
                    return None;
                }
            };
            match CronParser::builder().seconds(Seconds::Optional).build().parse(&pattern) {
                Ok(cron) => Some(ScheduleEntry { workflow_id, node: name, pattern, timezone, cron }),
                Err(error) => {
                    warn!(%workflow_id, node = name, pattern, %error, "bad cron; schedule skipped");
                    None
                }
            }
        })
        .collect()
}
