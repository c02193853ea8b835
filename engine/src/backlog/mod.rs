//! Backpressure at the door: a bounded backlog of pending executions.
//!
//! An execution is pending from its request until it ends, except while it
//! waits (a Wait node, an approval gate): that costs no capacity. Starts
//! through the API are admitted only while the backlog has room, globally and
//! for the workflow; a full backlog answers 503 (global) or 429 (the
//! workflow's share) with `Retry-After`, so callers slow down instead of
//! piling up work that takes minutes to drain. Fire-and-forget starts (a
//! webhook that answers immediately, an execution started without `wait`) may
//! fill only part of each bound, so a flood of them always leaves room for
//! callers that wait for the answer.
//!
//! Every instance counts the whole deployment's backlog from the log (see
//! [`follower`]), and counts its own admissions at once, so a burst cannot
//! slip past the bound before its events are read back.

pub mod follower;

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use uuid::Uuid;

/// The bounds, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Pending executions in the whole deployment.
    pub global: usize,
    /// Pending executions of one workflow.
    pub per_workflow: usize,
    /// The percentage of each bound fire-and-forget starts may fill.
    pub async_share_percent: usize,
}

impl BacklogLimits {
    fn bound(&self, limit: usize, mode: StartMode) -> usize {
        match mode {
            StartMode::Waiting => limit,
            StartMode::FireAndForget => (limit * self.async_share_percent / 100).max(1),
        }
    }
}

/// Whether the caller waits for the execution's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// The caller holds its connection until the execution ends.
    Waiting,
    /// The caller gets an id (or an immediate answer) and goes.
    FireAndForget,
}

/// Which bound refused a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BacklogScope {
    /// The deployment's backlog is full: 503.
    Global,
    /// The workflow's share is full: 429.
    Workflow,
}

/// A start the backlog had no room for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} backlog is full ({pending} executions pending, at most {limit} for {}); retry later", scope_name(*.scope), mode_name(*.mode))]
pub struct BacklogFull {
    /// Which bound.
    pub scope: BacklogScope,
    /// How many executions are pending in that scope.
    pub pending: usize,
    /// The bound that applied to this start.
    pub limit: usize,
    /// The start's mode.
    pub mode: StartMode,
}

fn scope_name(scope: BacklogScope) -> &'static str {
    match scope {
        BacklogScope::Global => "the execution",
        BacklogScope::Workflow => "this workflow's execution",
    }
}

fn mode_name(mode: StartMode) -> &'static str {
    match mode {
        StartMode::Waiting => "starts that wait for the result",
        StartMode::FireAndForget => "starts that do not wait",
    }
}

/// The pending executions of the deployment, as far as this instance knows.
#[derive(Debug)]
pub struct Backlog {
    limits: BacklogLimits,
    state: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// Every open execution: its workflow, and whether it waits.
    open: HashMap<Uuid, Open>,
    per_workflow: HashMap<Uuid, usize>,
    total: usize,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    workflow: Uuid,
    waiting: bool,
}

impl Backlog {
    /// An empty backlog with `limits`.
    pub fn new(limits: BacklogLimits) -> Self {
        Self {
            limits,
            state: Mutex::default(),
        }
    }

    /// Counts `execution` of `workflow` as pending if there is room for a
    /// start in `mode`; an execution already counted is always admitted (a
    /// retried request with the same idempotency key).
    pub fn admit(
        &self,
        execution: Uuid,
        workflow: Uuid,
        mode: StartMode,
    ) -> Result<(), BacklogFull> {
        let mut pending = self.lock();
        if pending.open.contains_key(&execution) {
            return Ok(());
        }
        let global = self.limits.bound(self.limits.global, mode);
        if pending.total >= global {
            return Err(self.refuse(BacklogScope::Global, pending.total, global, mode));
        }
        let of_workflow = pending.per_workflow.get(&workflow).copied().unwrap_or(0);
        let per_workflow = self.limits.bound(self.limits.per_workflow, mode);
        if of_workflow >= per_workflow {
            return Err(self.refuse(BacklogScope::Workflow, of_workflow, per_workflow, mode));
        }
        pending.requested(execution, workflow);
        publish(&pending);
        Ok(())
    }

    /// Forgets an admitted execution whose start failed.
    pub fn forget(&self, execution: Uuid) {
        self.change(|p| p.finished(execution));
    }

    /// The number of pending executions (all workflows).
    pub fn pending(&self) -> usize {
        self.lock().total
    }

    fn change(&self, apply: impl FnOnce(&mut Pending)) {
        let mut pending = self.lock();
        apply(&mut pending);
        publish(&pending);
    }

    fn refuse(
        &self,
        scope: BacklogScope,
        pending: usize,
        limit: usize,
        mode: StartMode,
    ) -> BacklogFull {
        let reason = match scope {
            BacklogScope::Global => "global_backlog",
            BacklogScope::Workflow => "workflow_backlog",
        };
        flowforge_monitoring::metrics()
            .executions_refused
            .with_label_values(&[reason])
            .inc();
        BacklogFull {
            scope,
            pending,
            limit,
            mode,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn publish(pending: &Pending) {
    flowforge_monitoring::metrics()
        .execution_backlog
        .set(i64::try_from(pending.total).unwrap_or(i64::MAX));
}

impl Pending {
    /// An execution was asked for (idempotent).
    fn requested(&mut self, execution: Uuid, workflow: Uuid) {
        if self.open.contains_key(&execution) {
            return;
        }
        self.open.insert(
            execution,
            Open {
                workflow,
                waiting: false,
            },
        );
        self.count(workflow, true);
    }

    /// An execution waits, or resumes (idempotent).
    fn waiting(&mut self, execution: Uuid, waiting: bool) {
        let Some(open) = self.open.get_mut(&execution) else {
            return;
        };
        if open.waiting == waiting {
            return;
        }
        open.waiting = waiting;
        let workflow = open.workflow;
        self.count(workflow, !waiting);
    }

    /// An execution ended (idempotent).
    fn finished(&mut self, execution: Uuid) {
        if let Some(open) = self.open.remove(&execution) {
            if !open.waiting {
                self.count(open.workflow, false);
            }
        }
    }

    fn count(&mut self, workflow: Uuid, up: bool) {
        let of_workflow = self.per_workflow.entry(workflow).or_default();
        if up {
            *of_workflow += 1;
            self.total += 1;
        } else {
            *of_workflow = of_workflow.saturating_sub(1);
            self.total = self.total.saturating_sub(1);
            if *of_workflow == 0 {
                self.per_workflow.remove(&workflow);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: BacklogLimits = BacklogLimits {
        global: 10,
        per_workflow: 4,
        async_share_percent: 50,
    };

    #[test]
    fn a_workflow_gets_its_share_and_fire_and_forget_half_of_it() {
        let backlog = Backlog::new(LIMITS);
        let workflow = Uuid::new_v4();
        for _ in 0..2 {
            backlog
                .admit(Uuid::new_v4(), workflow, StartMode::FireAndForget)
                .expect("room");
        }
        let full = backlog
            .admit(Uuid::new_v4(), workflow, StartMode::FireAndForget)
            .expect_err("half of 4 is taken");
        assert_eq!(
            (full.scope, full.pending, full.limit),
            (BacklogScope::Workflow, 2, 2)
        );
        for _ in 0..2 {
            backlog
                .admit(Uuid::new_v4(), workflow, StartMode::Waiting)
                .expect("waiting callers still find room");
        }
        let full = backlog
            .admit(Uuid::new_v4(), workflow, StartMode::Waiting)
            .expect_err("the workflow's 4 are taken");
        assert_eq!(full.scope, BacklogScope::Workflow);
        backlog
            .admit(Uuid::new_v4(), Uuid::new_v4(), StartMode::Waiting)
            .expect("another workflow has room");
    }

    #[test]
    fn the_global_bound_applies_across_workflows() {
        let backlog = Backlog::new(LIMITS);
        for _ in 0..10 {
            backlog
                .admit(Uuid::new_v4(), Uuid::new_v4(), StartMode::Waiting)
                .expect("room");
        }
        let full = backlog
            .admit(Uuid::new_v4(), Uuid::new_v4(), StartMode::Waiting)
            .expect_err("full");
        assert_eq!((full.scope, full.pending), (BacklogScope::Global, 10));
    }

    #[test]
    fn waiting_executions_cost_nothing_and_a_readmission_is_free() {
        let backlog = Backlog::new(LIMITS);
        let workflow = Uuid::new_v4();
        let first = Uuid::new_v4();
        backlog
            .admit(first, workflow, StartMode::Waiting)
            .expect("room");
        backlog.change(|p| p.waiting(first, true));
        assert_eq!(backlog.pending(), 0);
        backlog.change(|p| p.waiting(first, false));
        assert_eq!(backlog.pending(), 1);
        backlog
            .admit(first, workflow, StartMode::Waiting)
            .expect("same execution");
        assert_eq!(backlog.pending(), 1);
        backlog.change(|p| p.finished(first));
        backlog.change(|p| p.finished(first));
        assert_eq!(backlog.pending(), 0);
    }

    proptest! {
        /// Whatever order the log's events and the door's admissions come
        /// in, the counts equal the executions that are open and not waiting.
        #[test]
        fn counts_match_the_open_executions(
            steps in proptest::collection::vec((0u8..4, 0u128..12, 0u128..3), 0..200),
        ) {
            let backlog = Backlog::new(BacklogLimits { global: 1000, per_workflow: 1000, async_share_percent: 100 });
            let mut model: HashMap<Uuid, (Uuid, bool)> = HashMap::new();
            for (op, execution, workflow) in steps {
                let execution = Uuid::from_u128(execution);
                let workflow = Uuid::from_u128(workflow + 100);
                match op {
                    0 => {
                        backlog.change(|p| p.requested(execution, workflow));
                        model.entry(execution).or_insert((workflow, false));
                    }
                    1 => {
                        backlog.change(|p| p.waiting(execution, true));
                        if let Some(open) = model.get_mut(&execution) { open.1 = true; }
                    }
                    2 => {
                        backlog.change(|p| p.waiting(execution, false));
                        if let Some(open) = model.get_mut(&execution) { open.1 = false; }
                    }
                    _ => {
                        backlog.change(|p| p.finished(execution));
                        model.remove(&execution);
                    }
                }
                let state = backlog.lock();
                let expected = model.values().filter(|(_, waiting)| !waiting).count();
                prop_assert_eq!(state.total, expected);
                let per: usize = state.per_workflow.values().sum();
                prop_assert_eq!(per, expected);
            }
        }
    }
}
