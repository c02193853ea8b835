//! The Schedule aggregate: one per schedule trigger node of a workflow. Its one
//! fact is `ScheduleFired(tick)`. Every instance's scheduler tries to record a
//! tick; the store's optimistic concurrency lets exactly one of them win, and
//! only the winner starts the execution — so a tick runs a workflow once, however
//! many instances are up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::{Aggregate, DomainEvent},
    execution::ExecutionId,
    workflow::WorkflowId,
};

/// What a scheduler asks of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleCommand {
    /// Record that `tick` fired, starting `execution_id`.
    Fire {
        /// The workflow the schedule belongs to.
        workflow_id: WorkflowId,
        /// The schedule node.
        node: String,
        /// The cron tick (a due time, not the time it was noticed).
        tick: DateTime<Utc>,
        /// The execution this tick starts.
        execution_id: ExecutionId,
    },
}

/// What happened to a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ScheduleEvent {
    /// A tick fired and started an execution.
    #[serde(rename = "ScheduleFired")]
    Fired {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The schedule node.
        node: String,
        /// The tick.
        tick: DateTime<Utc>,
        /// The execution it started.
        execution_id: ExecutionId,
    },
}

impl DomainEvent for ScheduleEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ScheduleEvent::Fired { .. } => "ScheduleFired",
        }
    }
}

/// Why a tick was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// This tick (or a later one) has fired already.
    #[error("tick {tick} has already fired (last fired {last})")]
    AlreadyFired {
        /// The tick offered.
        tick: DateTime<Utc>,
        /// The last tick that fired.
        last: DateTime<Utc>,
    },
}

/// A schedule's state: the last tick that fired.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    last_tick: Option<DateTime<Utc>>,
}

impl Schedule {
    /// The last tick that fired, if any.
    pub fn last_tick(&self) -> Option<DateTime<Utc>> {
        self.last_tick
    }
}

impl Aggregate for Schedule {
    const TYPE: &'static str = "schedule";
    type Command = ScheduleCommand;
    type Event = ScheduleEvent;
    type Error = ScheduleError;

    fn handle(&self, command: ScheduleCommand) -> Result<Vec<ScheduleEvent>, ScheduleError> {
        let ScheduleCommand::Fire {
            workflow_id,
            node,
            tick,
            execution_id,
        } = command;
        if let Some(last) = self.last_tick.filter(|last| *last >= tick) {
            return Err(ScheduleError::AlreadyFired { tick, last });
        }
        Ok(vec![ScheduleEvent::Fired {
            workflow_id,
            node,
            tick,
            execution_id,
        }])
    }

    fn apply(&mut self, ScheduleEvent::Fired { tick, .. }: ScheduleEvent) {
        self.last_tick = Some(tick);
    }
}

/// The stream id of a workflow's schedule node: the workflow id and a stable
/// hash of the node name (names may hold characters stream ids may not).
pub fn schedule_id(workflow_id: WorkflowId, node: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = node.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{workflow_id}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::testing::AggregateTester;

    fn fire(second: u32) -> ScheduleCommand {
        ScheduleCommand::Fire {
            workflow_id: WorkflowId::from_uuid(Uuid::nil()),
            node: "Every second".into(),
            tick: DateTime::from_timestamp(1_700_000_000 + i64::from(second), 0)
                .unwrap_or_default(),
            execution_id: ExecutionId::from_uuid(Uuid::nil()),
        }
    }

    fn fired(second: u32) -> ScheduleEvent {
        let ScheduleCommand::Fire {
            workflow_id,
            node,
            tick,
            execution_id,
        } = fire(second);
        ScheduleEvent::Fired {
            workflow_id,
            node,
            tick,
            execution_id,
        }
    }

    #[test]
    fn the_first_tick_fires() {
        AggregateTester::<Schedule>::given_no_previous_events()
            .when(fire(1))
            .then_expect_events(vec![fired(1)]);
    }

    #[test]
    fn a_later_tick_fires() {
        AggregateTester::<Schedule>::given(vec![fired(1)])
            .when(fire(2))
            .then_expect_events(vec![fired(2)]);
    }

    #[test]
    fn the_same_tick_does_not_fire_twice() {
        AggregateTester::<Schedule>::given(vec![fired(2)])
            .when(fire(2))
            .then_expect_error(|e| matches!(e, ScheduleError::AlreadyFired { .. }));
    }

    #[test]
    fn an_earlier_tick_does_not_fire() {
        AggregateTester::<Schedule>::given(vec![fired(3)])
            .when(fire(2))
            .then_expect_error(|e| matches!(e, ScheduleError::AlreadyFired { .. }));
    }

    #[test]
    fn schedule_ids_are_stable_stream_ids() {
        let id = schedule_id(WorkflowId::from_uuid(Uuid::nil()), "Every second");
        assert_eq!(
            id,
            schedule_id(WorkflowId::from_uuid(Uuid::nil()), "Every second")
        );
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
