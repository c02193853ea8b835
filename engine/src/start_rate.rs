//! How fast one workflow may start sub-workflow executions: a token bucket per
//! calling workflow, holding one second's worth of starts and refilled at the
//! configured rate. A start that finds the bucket empty is refused at once (the
//! node fails; nothing waits), so a workflow that fans out faster than the rate
//! stops there instead of flooding the store.
//!
//! The buckets live in this process: with several instances, each enforces the
//! rate on the starts it runs.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Instant,
};

use flowforge_domain::workflow::WorkflowId;

/// The default starts per second one workflow may make.
pub const DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW: u32 = 200;

/// Past this many buckets, full ones (workflows idle for a second or more)
/// are dropped: a full bucket is what a new one would be.
const PRUNE_ABOVE: usize = 10_000;

/// One token bucket per workflow.
#[derive(Debug)]
pub struct StartRate {
    per_second: u32,
    buckets: Mutex<HashMap<WorkflowId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl StartRate {
    /// Buckets of `per_second` tokens, refilled at `per_second` a second
    /// (0 counts as 1).
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The rate (and burst) per workflow.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Takes a token from `workflow`'s bucket as of `now`; false if it is empty.
    pub fn try_start(&self, workflow: WorkflowId, now: Instant) -> bool {
        let capacity = f64::from(self.per_second);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| bucket.refilled(now, capacity).tokens < capacity);
        }
        let bucket = buckets.entry(workflow).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        *bucket = bucket.refilled(now, capacity);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Bucket {
    /// The bucket at `now`: topped up for the time passed, at most full. A
    /// clock reading older than the last one adds nothing.
    fn refilled(self, now: Instant, capacity: f64) -> Self {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Self {
            tokens: (self.tokens + elapsed * capacity).min(capacity),
            at: now.max(self.at),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;

    fn workflow(n: u128) -> WorkflowId {
        WorkflowId::from_uuid(Uuid::from_u128(n))
    }

    fn starts(rate: &StartRate, id: WorkflowId, at: Instant, count: usize) -> usize {
        (0..count).filter(|_| rate.try_start(id, at)).count()
    }

    #[test]
    fn a_burst_of_one_second_s_worth_passes_and_the_next_start_is_refused() {
        let rate = StartRate::new(5);
        let now = Instant::now();
        assert_eq!(starts(&rate, workflow(1), now, 5), 5);
        assert!(!rate.try_start(workflow(1), now));
    }

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let rate = StartRate::new(10);
        let now = Instant::now();
        assert_eq!(starts(&rate, workflow(1), now, 10), 10);
        let later = now + Duration::from_millis(300);
        assert_eq!(starts(&rate, workflow(1), later, 10), 3);
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            starts(&rate, workflow(1), much_later, 20),
            10,
            "never more than one second's worth"
        );
    }

    #[test]
    fn each_workflow_has_its_own_bucket() {
        let rate = StartRate::new(2);
        let now = Instant::now();
        assert_eq!(starts(&rate, workflow(1), now, 3), 2);
        assert_eq!(starts(&rate, workflow(2), now, 3), 2);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let rate = StartRate::new(1);
        let now = Instant::now() + Duration::from_secs(5);
        assert!(rate.try_start(workflow(1), now));
        assert!(!rate.try_start(workflow(1), now - Duration::from_secs(2)));
    }

    #[test]
    fn idle_buckets_are_dropped_when_there_are_many() {
        let rate = StartRate::new(1);
        let now = Instant::now();
        for n in 0..=u128::try_from(PRUNE_ABOVE).expect("small") {
            rate.try_start(workflow(n), now);
        }
        let later = now + Duration::from_secs(2);
        assert!(rate.try_start(workflow(u128::MAX), later));
        let kept = rate
            .buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert_eq!(kept, 1, "only the bucket just used is kept");
    }
}
