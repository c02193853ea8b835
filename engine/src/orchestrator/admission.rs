//! Concurrency caps: a workflow with `max_concurrent_executions` runs at most
//! that many executions at once; the rest wait in request order and are
//! admitted as running ones finish. Nothing is dropped: a queued execution is
//! an ordinary requested execution in the log, so after a restart it is queued
//! again from there.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use flowforge_domain::{execution::ExecutionId, workflow::WorkflowId};

/// The running and queued executions of each capped workflow.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    workflows: HashMap<WorkflowId, Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    running: HashSet<ExecutionId>,
    /// Ordered by request time, then id.
    queued: BTreeSet<(DateTime<Utc>, ExecutionId)>,
}

/// An execution asking to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub workflow: WorkflowId,
    pub execution: ExecutionId,
    pub requested_at: DateTime<Utc>,
    /// Some node already ran: it was admitted before (an earlier process),
    /// so it keeps running whatever the count.
    pub started: bool,
}

impl Admission {
    /// Registers `candidate` and fills free slots from the queue. Returns
    /// whether the candidate may run now, and the other executions that were
    /// admitted on the way (they must be woken).
    pub fn request(&mut self, candidate: Candidate, limit: u32) -> (bool, Vec<ExecutionId>) {
        let slots = self.workflows.entry(candidate.workflow).or_default();
        if slots.running.contains(&candidate.execution) {
            return (true, Vec::new());
        }
        if candidate.started {
            slots
                .queued
                .remove(&(candidate.requested_at, candidate.execution));
            slots.running.insert(candidate.execution);
            return (true, Vec::new());
        }
        slots
            .queued
            .insert((candidate.requested_at, candidate.execution));
        let admitted = slots.fill(limit);
        let runs = admitted.contains(&candidate.execution);
        let others = admitted
            .into_iter()
            .filter(|id| *id != candidate.execution)
            .collect();
        (runs, others)
    }

    /// Frees the slot of a finished execution (or drops it from the queue) and
    /// returns the executions admitted into the freed slots.
    pub fn finish(
        &mut self,
        workflow: WorkflowId,
        execution: ExecutionId,
        limit: u32,
    ) -> Vec<ExecutionId> {
        let Some(slots) = self.workflows.get_mut(&workflow) else {
            return Vec::new();
        };
        slots.running.remove(&execution);
        slots.queued.retain(|(_, queued)| *queued != execution);
        let admitted = slots.fill(limit);
        if slots.running.is_empty() && slots.queued.is_empty() {
            self.workflows.remove(&workflow);
        }
        admitted
    }

    /// How many executions of `workflow` wait for a slot.
    #[cfg(test)]
    pub fn queued(&self, workflow: WorkflowId) -> usize {
        self.workflows.get(&workflow).map_or(0, |s| s.queued.len())
    }
}

impl Slots {
    fn fill(&mut self, limit: u32) -> Vec<ExecutionId> {
        let mut admitted = Vec::new();
        while self.running.len() < limit as usize {
            let Some((_, next)) = self.queued.pop_first() else {
                break;
            };
            self.running.insert(next);
            admitted.push(next);
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn candidate(workflow: WorkflowId, n: i64, started: bool) -> Candidate {
        let at = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(n);
        Candidate {
            workflow,
            execution: ExecutionId::from_uuid(Uuid::from_u128(n as u128 + 1)),
            requested_at: at,
            started,
        }
    }

    #[test]
    fn the_excess_waits_and_is_admitted_in_request_order() {
        let workflow = WorkflowId::from_uuid(Uuid::from_u128(7));
        let mut admission = Admission::default();
        assert!(admission.request(candidate(workflow, 0, false), 2).0);
        assert!(admission.request(candidate(workflow, 1, false), 2).0);
        // Seen out of order: the later request must not overtake the earlier one.
        assert!(!admission.request(candidate(workflow, 3, false), 2).0);
        assert!(!admission.request(candidate(workflow, 2, false), 2).0);
        assert_eq!(admission.queued(workflow), 2);
        let first = candidate(workflow, 0, false).execution;
        assert_eq!(
            admission.finish(workflow, first, 2),
            vec![candidate(workflow, 2, false).execution]
        );
        let second = candidate(workflow, 1, false).execution;
        assert_eq!(
            admission.finish(workflow, second, 2),
            vec![candidate(workflow, 3, false).execution]
        );
        assert_eq!(admission.queued(workflow), 0);
    }

    #[test]
    fn an_execution_that_already_ran_a_node_keeps_running() {
        let workflow = WorkflowId::from_uuid(Uuid::from_u128(7));
        let mut admission = Admission::default();
        assert!(admission.request(candidate(workflow, 5, false), 1).0);
        assert!(admission.request(candidate(workflow, 1, true), 1).0);
        assert!(!admission.request(candidate(workflow, 6, false), 1).0);
    }

    proptest! {
        /// Whatever the order of requests and finishes, no more than the limit
        /// run at once, nothing is lost, and admission follows request order.
        #[test]
        fn never_more_than_the_limit_and_nothing_lost(
            limit in 1u32..4,
            steps in proptest::collection::vec(any::<bool>(), 1..60),
        ) {
            let workflow = WorkflowId::from_uuid(Uuid::from_u128(9));
            let mut admission = Admission::default();
            let mut running: Vec<ExecutionId> = Vec::new();
            let mut admitted_order: Vec<ExecutionId> = Vec::new();
            let mut requested = 0i64;
            for request in steps {
                if request || running.is_empty() {
                    let c = candidate(workflow, requested, false);
                    requested += 1;
                    let (runs, others) = admission.request(c, limit);
                    prop_assert!(others.is_empty());
                    if runs {
                        running.push(c.execution);
                        admitted_order.push(c.execution);
                    }
                } else {
                    let done = running.remove(0);
                    let admitted = admission.finish(workflow, done, limit);
                    running.extend(admitted.iter().copied());
                    admitted_order.extend(admitted);
                }
                prop_assert!(running.len() <= limit as usize);
            }
            while let Some(done) = running.first().copied() {
                running.remove(0);
                let admitted = admission.finish(workflow, done, limit);
                running.extend(admitted.iter().copied());
                admitted_order.extend(admitted);
            }
            let expected: Vec<ExecutionId> =
                (0..requested).map(|n| candidate(workflow, n, false).execution).collect();
            prop_assert_eq!(admitted_order, expected);
        }
    }
}
