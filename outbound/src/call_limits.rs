//! Bounds on how many outbound calls nodes make: a total per execution (a
//! loop over a large list, or a retry storm, cannot hammer a service without
//! end) and a rate per workspace (one workspace's workflows cannot use up a
//! shared API quota or this server's sockets for everyone). Both are kept in
//! this process's memory: behind a load balancer each instance enforces
//! them for the executions it runs.

use std::{num::NonZeroU32, sync::Mutex};

use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use hashlink::LruCache;

/// The executions whose counts are remembered; the least recently active
/// beyond this start again from zero (they have long stopped calling).
const REMEMBERED_EXECUTIONS: usize = 100_000;

/// How many outbound calls are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimitSettings {
    /// Calls one execution may make over its whole run; 0: unbounded.
    pub per_execution: u32,
    /// Calls one workspace's executions may make per minute (bursting up to
    /// the same number); 0: unbounded.
    pub per_workspace_per_minute: u32,
}

impl Default for CallLimitSettings {
    fn default() -> Self {
        Self {
            per_execution: 10_000,
            per_workspace_per_minute: 60_000,
        }
    }
}

/// A call over a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitReached {
    /// The execution made as many calls as it may.
    #[error("this execution made its {limit} outbound calls, the most one execution may make (FLOWFORGE_OUTBOUND_MAX_CALLS_PER_EXECUTION)")]
    Execution {
        /// The limit.
        limit: u32,
    },
    /// The workspace's executions call faster than they may.
    #[error("this workspace's executions make more than {limit} outbound calls a minute (FLOWFORGE_OUTBOUND_MAX_CALLS_PER_WORKSPACE_PER_MINUTE); retry in {retry_after_secs} s")]
    Workspace {
        /// The limit.
        limit: u32,
        /// Seconds until a call would be let through.
        retry_after_secs: u64,
    },
}

/// The limits, with what was spent so far.
pub struct CallLimits {
    settings: CallLimitSettings,
    executions: Mutex<LruCache<String, u32>>,
    workspaces: Option<DefaultKeyedRateLimiter<String>>,
}

impl CallLimits {
    /// Limits with `settings`.
    pub fn new(settings: CallLimitSettings) -> Self {
        let workspaces = NonZeroU32::new(settings.per_workspace_per_minute)
            .map(|rate| RateLimiter::keyed(Quota::per_minute(rate)));
        Self {
            settings,
            executions: Mutex::new(LruCache::new(REMEMBERED_EXECUTIONS)),
            workspaces,
        }
    }

    /// The limits in force.
    pub fn settings(&self) -> CallLimitSettings {
        self.settings
    }

    /// Counts one call of `execution` in `workspace`, if both limits let it
    /// through; a refused call counts against neither.
    ///
    /// # Errors
    /// [`LimitReached`], naming the limit.
    pub fn spend(&self, execution: &str, workspace: &str) -> Result<(), LimitReached> {
        let limit = self.settings.per_execution;
        let mut executions = self
            .executions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let spent = executions.get(execution).copied().unwrap_or(0);
        if limit > 0 && spent >= limit {
            return Err(LimitReached::Execution { limit });
        }
        if let Some(workspaces) = &self.workspaces {
            if let Err(not_until) = workspaces.check_key(&workspace.to_owned()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(LimitReached::Workspace {
                    limit: self.settings.per_workspace_per_minute,
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
        }
        executions.insert(execution.to_owned(), spent.saturating_add(1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_may_make_up_to_its_limit_and_no_more() {
        let limits = CallLimits::new(CallLimitSettings {
            per_execution: 3,
            per_workspace_per_minute: 0,
        });
        for _ in 0..3 {
            limits.spend("e1", "w").expect("within the limit");
        }
        assert_eq!(
            limits.spend("e1", "w"),
            Err(LimitReached::Execution { limit: 3 })
        );
        limits
            .spend("e2", "w")
            .expect("another execution has its own count");
    }

    #[test]
    fn a_workspace_is_held_to_its_rate_and_others_are_not() {
        let limits = CallLimits::new(CallLimitSettings {
            per_execution: 0,
            per_workspace_per_minute: 2,
        });
        limits.spend("e1", "w1").expect("first");
        limits.spend("e2", "w1").expect("second");
        let refused = limits.spend("e3", "w1").expect_err("over the rate");
        assert!(
            matches!(refused, LimitReached::Workspace { limit: 2, retry_after_secs } if retry_after_secs >= 1),
            "{refused:?}"
        );
        limits
            .spend("e4", "w2")
            .expect("another workspace has its own rate");
    }

    #[test]
    fn a_refused_call_does_not_count() {
        let limits = CallLimits::new(CallLimitSettings {
            per_execution: 2,
            per_workspace_per_minute: 1,
        });
        limits.spend("e1", "w").expect("first");
        assert!(limits.spend("e1", "w").is_err());
        let limits_after = limits.executions.lock().expect("lock").get("e1").copied();
        assert_eq!(limits_after, Some(1));
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = CallLimits::new(CallLimitSettings {
            per_execution: 0,
            per_workspace_per_minute: 0,
        });
        for _ in 0..10_000 {
            limits.spend("e", "w").expect("unbounded");
        }
    }
}
