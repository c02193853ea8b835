//! The slots node attempts run in: at most `total` attempts at once in this
//! process and at most `per_execution` for any one execution. When a slot
//! frees up it goes to the executions that wait in turn (round-robin), not to
//! whichever asked first, so one execution fanning out to thousands of nodes
//! gets its share and every other execution still gets its own.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use flowforge_domain::execution::ExecutionId;
use tokio::sync::oneshot;

/// How many node attempts may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// In the whole process.
    pub total: usize,
    /// For one execution.
    pub per_execution: usize,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self {
            total: 256,
            per_execution: 4,
        }
    }
}

/// Hands out attempt slots fairly across executions.
#[derive(Clone)]
pub(crate) struct AttemptPool {
    slots: Arc<Mutex<Slots>>,
}

/// The right to run one node attempt; dropping it frees the slot.
pub(crate) struct Slot {
    slots: Option<Arc<Mutex<Slots>>>,
    execution: ExecutionId,
}

#[derive(Default)]
struct Lane {
    running: usize,
    waiting: VecDeque<oneshot::Sender<Slot>>,
    /// Whether the lane is in `Slots::turns`.
    has_turn: bool,
}

struct Slots {
    limits: AttemptLimits,
    running: usize,
    lanes: HashMap<ExecutionId, Lane>,
    /// Executions with waiting attempts and room under their own cap, in the
    /// order they get the next free slots.
    turns: VecDeque<ExecutionId>,
}

impl AttemptPool {
    /// A pool with these limits (each at least one).
    pub fn new(limits: AttemptLimits) -> Self {
        let limits = AttemptLimits {
            total: limits.total.max(1),
            per_execution: limits.per_execution.max(1),
        };
        Self {
            slots: Arc::new(Mutex::new(Slots {
                limits,
                running: 0,
                lanes: HashMap::new(),
                turns: VecDeque::new(),
            })),
        }
    }

    /// Waits for a slot for an attempt of `execution`. Cancel-safe: a caller
    /// that stops waiting gives up its place (and any slot already granted).
    pub async fn acquire(&self, execution: ExecutionId) -> Slot {
        let granted = {
            let mut slots = lock(&self.slots);
            let limits = slots.limits;
            let under_total = slots.running < limits.total;
            let lane = slots.lanes.entry(execution).or_default();
            if under_total && lane.running < limits.per_execution && lane.waiting.is_empty() {
                lane.running += 1;
                slots.running += 1;
                return Slot {
                    slots: Some(self.slots.clone()),
                    execution,
                };
            }
            let (grant, granted) = oneshot::channel();
            lane.waiting.push_back(grant);
            if lane.running < limits.per_execution && !lane.has_turn {
                lane.has_turn = true;
                slots.turns.push_back(execution);
            }
            granted
        };
        match granted.await {
            Ok(slot) => slot,
            // The pool hands every waiting sender a slot or keeps it; it is
            // never dropped while the pool lives, and the pool outlives this.
            Err(_) => Slot {
                slots: None,
                execution,
            },
        }
    }

    /// Attempts running now.
    #[cfg(test)]
    fn running(&self) -> usize {
        lock(&self.slots).running
    }
}

impl Slots {
    /// Gives free slots to the waiting executions, one per turn.
    fn hand_out(&mut self, pool: &Arc<Mutex<Slots>>) {
        while self.running < self.limits.total {
            let Some(execution) = self.turns.pop_front() else {
                return;
            };
            let Some(lane) = self.lanes.get_mut(&execution) else {
                continue;
            };
            lane.has_turn = false;
            while let Some(grant) = lane.waiting.pop_front() {
                let slot = Slot {
                    slots: Some(pool.clone()),
                    execution,
                };
                match grant.send(slot) {
                    Ok(()) => {
                        lane.running += 1;
                        self.running += 1;
                        break;
                    }
                    // Its waiter gave up: the slot was never taken.
                    Err(mut unused) => unused.slots = None,
                }
            }
            if !lane.waiting.is_empty() && lane.running < self.limits.per_execution {
                lane.has_turn = true;
                self.turns.push_back(execution);
            } else if lane.waiting.is_empty() && lane.running == 0 {
                self.lanes.remove(&execution);
            }
        }
    }

    /// Frees a slot of `execution` and hands the free slots out again.
    fn free(&mut self, execution: ExecutionId, pool: &Arc<Mutex<Slots>>) {
        self.running = self.running.saturating_sub(1);
        if let Some(lane) = self.lanes.get_mut(&execution) {
            lane.running = lane.running.saturating_sub(1);
            if lane.waiting.is_empty() && lane.running == 0 {
                self.lanes.remove(&execution);
            } else if !lane.waiting.is_empty() && !lane.has_turn {
                lane.has_turn = true;
                self.turns.push_back(execution);
            }
        }
        self.hand_out(pool);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            lock(&slots).free(self.execution, &slots);
        }
    }
}

/// The pool's state; a panic elsewhere while it was held leaves numbers
/// that are still consistent, so a poisoned lock is used as is.
fn lock(slots: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn execution(n: u128) -> ExecutionId {
        ExecutionId::from_uuid(uuid::Uuid::from_u128(n + 1))
    }

    fn pool(total: usize, per_execution: usize) -> AttemptPool {
        AttemptPool::new(AttemptLimits {
            total,
            per_execution,
        })
    }

    /// Starts `count` attempts of `of` that each hold their slot until told,
    /// recording the order in which they got it.
    fn start(
        pool: &AttemptPool,
        of: u128,
        count: usize,
        order: &Arc<Mutex<Vec<u128>>>,
    ) -> Vec<oneshot::Sender<()>> {
        (0..count)
            .map(|_| {
                let (finish, finished) = oneshot::channel::<()>();
                let (pool, order) = (pool.clone(), order.clone());
                tokio::spawn(async move {
                    let _slot = pool.acquire(execution(of)).await;
                    order.lock().expect("order").push(of);
                    let _ = finished.await;
                });
                finish
            })
            .collect()
    }

    /// Lets every spawned task run until it blocks again.
    async fn settle() {
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn given_a_huge_fan_out_when_another_execution_asks_then_it_gets_the_next_free_slot() {
        let pool = pool(4, 4);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut fan_out = start(&pool, 1, 1000, &order);
        settle().await;
        let mut other = start(&pool, 2, 1, &order);
        settle().await;
        assert_eq!(pool.running(), 4);

        // The fan-out's first attempts finish one by one; the other
        // execution is served at the first free slot, not after 996 more.
        fan_out.remove(0).send(()).ok();
        settle().await;
        assert_eq!(order.lock().expect("order").last(), Some(&2));
        other.remove(0).send(()).ok();
        settle().await;
        assert_eq!(pool.running(), 4);
    }

    #[tokio::test]
    async fn given_a_per_execution_cap_when_an_execution_fans_out_then_it_runs_at_most_that_many() {
        let pool = pool(10, 3);
        let order = Arc::new(Mutex::new(Vec::new()));
        let _fan_out = start(&pool, 1, 50, &order);
        settle().await;
        assert_eq!(pool.running(), 3);
        let _other = start(&pool, 2, 2, &order);
        settle().await;
        assert_eq!(pool.running(), 5);
    }

    #[tokio::test]
    async fn given_a_waiter_that_gives_up_then_its_place_is_not_lost() {
        let pool = pool(1, 1);
        let held = pool.acquire(execution(1)).await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), pool.acquire(execution(2))).await;
        assert!(gave_up.is_err());
        drop(held);
        let next = tokio::time::timeout(Duration::from_secs(1), pool.acquire(execution(3))).await;
        assert!(next.is_ok(), "the slot of the waiter that gave up went on");
        assert_eq!(pool.running(), 1);
    }

    proptest! {
        /// Whatever executions ask and finish in whatever order: never more
        /// than the limits run, no slot is lost, and while an execution with
        /// room under its cap waits, the pool is full.
        #[test]
        fn limits_hold_and_no_slot_is_lost(
            total in 1usize..6,
            per_execution in 1usize..4,
            steps in proptest::collection::vec((0u128..4, any::<bool>()), 1..80),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            runtime.block_on(async {
                let pool = pool(total, per_execution);
                let order = Arc::new(Mutex::new(Vec::new()));
                let mut running: Vec<Vec<oneshot::Sender<()>>> = (0..4).map(|_| Vec::new()).collect();
                for (of, finish) in steps {
                    let lane = &mut running[of as usize];
                    if finish && !lane.is_empty() {
                        lane.remove(0).send(()).ok();
                    } else {
                        lane.extend(start(&pool, of, 1, &order));
                    }
                    settle().await;
                    let slots = lock(&pool.slots);
                    prop_assert!(slots.running <= total);
                    for lane in slots.lanes.values() {
                        prop_assert!(lane.running <= per_execution);
                    }
                    let starved = slots
                        .lanes
                        .values()
                        .any(|lane| !lane.waiting.is_empty() && lane.running < per_execution);
                    prop_assert!(!starved || slots.running == total);
                }
                for lane in running {
                    for finish in lane {
                        finish.send(()).ok();
                    }
                }
                settle().await;
                prop_assert_eq!(pool.running(), 0);
                Ok(())
            })?;
        }
    }
}
