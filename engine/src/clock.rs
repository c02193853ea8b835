//! The orchestrator's clock: where it reads the time and sleeps until a time
//! (retry backoff, timed waits, execution time limits, node timeouts). The
//! system clock in production; a manual one in tests, moved on by hand, so a
//! test of a five-minute backoff takes no five minutes. Tokio's paused time
//! cannot stand in: the embedded store's worker thread lives outside it.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// A source of the current time that can also wait for a time to come.
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Returns once the clock reads `at` or later (at once if it already does).
    /// Cancel-safe: dropping the future stops the wait.
    async fn sleep_until(&self, at: DateTime<Utc>);
}

/// The wall clock, with tokio's timers for sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
    }
}

/// A clock that stands still until a test moves it with
/// [`advance`](Self::advance); sleepers whose time has come then wake.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock that reads the current wall-clock time and stands still there.
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `start` and stands still there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            now: watch::Sender::new(start),
        }
    }

    /// Moves the clock on by `by` and wakes every sleeper whose time is due.
    pub fn advance(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        self.now
            .send_modify(|now| *now = now.checked_add_signed(by).unwrap_or(*now));
    }

    /// How many callers are waiting in [`Clock::sleep_until`] right now, so a
    /// test can tell that something is waiting for the clock before moving it.
    pub fn sleepers(&self) -> usize {
        self.now.receiver_count()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut now = self.now.subscribe();
        // The sender lives as long as `self`, so this only returns once due.
        let _ = now.wait_for(|now| *now >= at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_wakes_only_once_the_manual_clock_passes_its_time() {
        // Given a manual clock and a sleeper due in ten seconds
        let clock = std::sync::Arc::new(ManualClock::new());
        let due = clock.now() + TimeDelta::seconds(10);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due).await }
        });
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }

        // When the clock moves on by less than that
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;

        // Then the sleeper still sleeps
        assert!(!sleeper.is_finished());
        assert_eq!(clock.sleepers(), 1);

        // When it passes the due time
        clock.advance(Duration::from_secs(1));

        // Then the sleeper wakes
        tokio::time::timeout(Duration::from_secs(1), sleeper)
            .await
            .expect("the sleeper wakes")
            .expect("the sleeper does not panic");
        assert_eq!(clock.sleepers(), 0);
    }

    #[tokio::test]
    async fn a_time_already_past_does_not_wait() {
        // Given a manual clock
        let clock = ManualClock::new();

        // When something sleeps until a time already past
        let past = clock.now() - TimeDelta::seconds(1);

        // Then it returns at once
        tokio::time::timeout(Duration::from_secs(1), clock.sleep_until(past))
            .await
            .expect("no wait for a past time");
    }
}
