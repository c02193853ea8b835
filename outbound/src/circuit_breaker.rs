//! One circuit breaker per outbound host: after a number of failures in a
//! row (no answer, or a 5xx), calls to that host fail at once for a
//! cool-down instead of each waiting out its timeout and piling attempts on
//! a service that is down; after the cool-down one call goes through as a
//! probe, and its outcome closes the circuit again or reopens it.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// A call the breaker did not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calls to {host} are paused for {retry_after_secs} more s after {failures} failures in a row (circuit open)")]
pub struct CircuitOpen {
    /// The host.
    pub host: String,
    /// The failures in a row that opened it.
    pub failures: u32,
    /// Seconds until a probe may go through.
    pub retry_after_secs: u64,
}

/// When circuits open, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitSettings {
    /// Failures in a row that open a host's circuit; 0 turns breakers off.
    pub failures: u32,
    /// How long an open circuit refuses calls before a probe.
    pub cool_down: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct HostCircuit {
    failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

/// An open circuit, as readiness reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCircuit {
    /// The host.
    pub host: String,
    /// Failures in a row.
    pub failures: u32,
    /// Seconds until a probe may go through (0: one may now).
    pub retry_after_secs: u64,
}

/// The breakers of every host this process called.
#[derive(Debug, Default)]
pub struct CircuitBreakers {
    settings: CircuitSettings,
    hosts: Mutex<HashMap<String, HostCircuit>>,
}

impl CircuitBreakers {
    /// Breakers with `settings`.
    pub fn new(settings: CircuitSettings) -> Self {
        Self {
            settings,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a call to `host` may go now: always while its circuit is
    /// closed; while it is open, only once the cool-down has passed, and
    /// then one call (the probe) at a time.
    ///
    /// # Errors
    /// [`CircuitOpen`] saying for how long.
    pub fn admit(&self, host: &str) -> Result<(), CircuitOpen> {
        if self.settings.failures == 0 {
            return Ok(());
        }
        let Ok(mut hosts) = self.hosts.lock() else {
            return Ok(());
        };
        let Some(circuit) = hosts.get_mut(host) else {
            return Ok(());
        };
        let Some(opened_at) = circuit.opened_at else {
            return Ok(());
        };
        let waited = opened_at.elapsed();
        if waited >= self.settings.cool_down && !circuit.probing {
            circuit.probing = true;
            return Ok(());
        }
        Err(CircuitOpen {
            host: host.to_owned(),
            failures: circuit.failures,
            retry_after_secs: self
                .settings
                .cool_down
                .saturating_sub(waited)
                .as_secs()
                .max(1),
        })
    }

    /// Records how a call to `host` that was let through ended: a success
    /// closes its circuit, a failure counts (and opens it at the threshold,
    /// or at once when it was the probe).
    pub fn record(&self, host: &str, succeeded: bool) {
        if self.settings.failures == 0 {
            return;
        }
        let Ok(mut hosts) = self.hosts.lock() else {
            return;
        };
        if succeeded {
            hosts.remove(host);
            return;
        }
        let circuit = hosts.entry(host.to_owned()).or_default();
        circuit.failures = circuit.failures.saturating_add(1);
        if circuit.probing || circuit.failures >= self.settings.failures {
            circuit.opened_at = Some(Instant::now());
            circuit.probing = false;
        }
    }

    /// The circuits open now, by host.
    pub fn open(&self) -> Vec<OpenCircuit> {
        let Ok(hosts) = self.hosts.lock() else {
            return Vec::new();
        };
        let mut open: Vec<OpenCircuit> = hosts
            .iter()
            .filter_map(|(host, circuit)| {
                let opened_at = circuit.opened_at?;
                Some(OpenCircuit {
                    host: host.clone(),
                    failures: circuit.failures,
                    retry_after_secs: self
                        .settings
                        .cool_down
                        .saturating_sub(opened_at.elapsed())
                        .as_secs(),
                })
            })
            .collect();
        open.sort_by(|a, b| a.host.cmp(&b.host));
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(cool_down_ms: u64) -> CircuitBreakers {
        CircuitBreakers::new(CircuitSettings {
            failures: 3,
            cool_down: Duration::from_millis(cool_down_ms),
        })
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_and_a_success_resets_the_count() {
        let b = breakers(60_000);
        for _ in 0..2 {
            b.admit("a").expect("closed");
            b.record("a", false);
        }
        b.record("a", true);
        for _ in 0..2 {
            b.record("a", false);
        }
        assert!(b.admit("a").is_ok(), "two in a row after a success");
        b.record("a", false);
        let open = b.admit("a").expect_err("open after three");
        assert_eq!(open.failures, 3);
        assert!(open.retry_after_secs >= 59, "{open}");
        assert!(b.admit("b").is_ok(), "other hosts are not affected");
        assert_eq!(b.open().len(), 1);
    }

    #[test]
    fn after_the_cool_down_one_probe_decides() {
        let b = breakers(20);
        for _ in 0..3 {
            b.record("a", false);
        }
        assert!(b.admit("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.admit("a").is_ok(), "the probe");
        assert!(b.admit("a").is_err(), "one probe at a time");
        b.record("a", false);
        assert!(b.admit("a").is_err(), "a failed probe reopens at once");
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.admit("a").is_ok());
        b.record("a", true);
        assert!(b.admit("a").is_ok() && b.admit("a").is_ok(), "closed again");
        assert!(b.open().is_empty());
    }

    #[test]
    fn zero_failures_turns_breakers_off() {
        let b = CircuitBreakers::new(CircuitSettings {
            failures: 0,
            cool_down: Duration::from_secs(30),
        });
        for _ in 0..100 {
            b.record("a", false);
        }
        assert!(b.admit("a").is_ok());
    }
}
