//! When a trigger source (the scheduler, the NATS triggers) should read the
//! active workflows again: when the workflows read model moved, at most once
//! per [`MIN_GAP`], and at least every [`SAFETY_NET`]. An idle server then
//! wakes only for due work instead of polling the read model every second.
//! Without a change feed it falls back to reading every [`MIN_GAP`].

use std::time::Duration;

use flowforge_infra::event_store::Position;
use tokio::{sync::watch, time::Instant};

/// The shortest time between two reads, however busy the read model is.
pub const MIN_GAP: Duration = Duration::from_secs(1);
/// The longest time between two reads, whatever the change feed says.
pub const SAFETY_NET: Duration = Duration::from_secs(30);

/// Decides when to read the active workflows again.
pub struct RefreshClock {
    changes: Option<watch::Receiver<Position>>,
    /// A change seen while waiting, not yet read.
    seen_change: bool,
    last: Option<Instant>,
}

impl RefreshClock {
    /// A clock woken by `changes` (the workflows projection's position), or
    /// polling every [`MIN_GAP`] without one.
    pub fn new(changes: Option<watch::Receiver<Position>>) -> Self {
        Self {
            changes,
            seen_change: false,
            last: None,
        }
    }

    fn changed(&self) -> bool {
        self.seen_change
            || self
                .changes
                .as_ref()
                .is_none_or(|changes| changes.has_changed().unwrap_or(true))
    }

    fn since_last(&self) -> Duration {
        self.last.map_or(Duration::MAX, |last| last.elapsed())
    }

    /// Whether to read now; if so, the read counts as done.
    pub fn due(&mut self) -> bool {
        let since = self.since_last();
        let due = since >= SAFETY_NET || (since >= MIN_GAP && self.changed());
        if due {
            if let Some(changes) = &mut self.changes {
                changes.mark_unchanged();
            }
            self.seen_change = false;
            self.last = Some(Instant::now());
        }
        due
    }

    /// The read failed: make the next one due after [`MIN_GAP`], changed or not.
    pub fn retry_soon(&mut self) {
        self.last = Instant::now().checked_sub(SAFETY_NET - MIN_GAP);
    }

    /// Waits until a read may be due, or at most `max_wait`.
    pub async fn wait(&mut self, max_wait: Duration) {
        let since = self.since_last();
        let pending = self.changed();
        let until_due = if pending {
            MIN_GAP.saturating_sub(since)
        } else {
            SAFETY_NET.saturating_sub(since)
        };
        let wait = until_due.min(max_wait);
        match &mut self.changes {
            Some(changes) if !pending => {
                // `changed` marks the change seen: remember it for `due`.
                if let Ok(Ok(())) = tokio::time::timeout(wait, changes.changed()).await {
                    self.seen_change = true;
                }
            }
            _ => tokio::time::sleep(wait).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reads_on_a_change_at_most_once_per_gap_and_at_least_per_safety_net() {
        let (moved, changes) = watch::channel(0);
        let mut clock = RefreshClock::new(Some(changes));
        assert!(clock.due(), "the first read is due at once");
        assert!(!clock.due());
        // Nothing changes: the wait lasts until the safety net.
        let start = Instant::now();
        clock.wait(Duration::MAX).await;
        assert_eq!(start.elapsed(), SAFETY_NET);
        assert!(clock.due());
        // A change right after a read waits out the gap, then is due.
        moved.send_replace(1);
        assert!(!clock.due(), "not twice within the gap");
        let start = Instant::now();
        clock.wait(Duration::MAX).await;
        assert_eq!(start.elapsed(), MIN_GAP);
        assert!(clock.due());
        // A change long after the last read wakes the wait at once.
        tokio::time::advance(Duration::from_secs(5)).await;
        let start = Instant::now();
        let waiting = clock.wait(Duration::MAX);
        moved.send_replace(2);
        waiting.await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(clock.due());
    }
}
