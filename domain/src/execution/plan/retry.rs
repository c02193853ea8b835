//! Retry timing: how long to wait before the next attempt of a failed node,
//! from its retry policy and a jitter fraction the caller draws. A pure
//! function, apart from the plan: the plan says a retry is needed, the
//! orchestrator asks here when.

use std::time::Duration;

use crate::workflow::{Backoff, RetryPolicy};

/// How much of a retry wait jitter may take away: with a jitter fraction `j`, the
/// wait is `(1 - RETRY_JITTER_SPREAD * j)` times the backoff. At one half, an
/// exponential backoff's waits never shrink from one retry to the next.
pub const RETRY_JITTER_SPREAD: f64 = 0.5;

/// The wait before retrying after attempt `failed_attempt` failed, or `None` when
/// the policy's `max_tries` are used up. The backoff is `wait_ms` (fixed) or
/// `wait_ms * 2^(failed_attempt - 1)` (exponential), capped at `max_wait_ms`; jitter
/// then takes away up to [`RETRY_JITTER_SPREAD`] of it: `jitter_fraction` is a
/// number in `0..=1` the caller draws (clamped; NaN counts as 0). Milliseconds, rounded.
pub fn retry_delay(
    policy: &RetryPolicy,
    failed_attempt: u32,
    jitter_fraction: f64,
) -> Option<Duration> {
    if failed_attempt >= policy.max_tries {
        return None;
    }
    let backoff = match policy.backoff {
        Backoff::Fixed => policy.wait_ms,
        Backoff::Exponential => {
            let doublings = failed_attempt.saturating_sub(1);
            let factor = 1_u64.checked_shl(doublings).unwrap_or(u64::MAX);
            policy.wait_ms.saturating_mul(factor)
        }
    };
    let capped = policy.max_wait_ms.map_or(backoff, |max| backoff.min(max));
    let jitter = if jitter_fraction.is_nan() {
        0.0
    } else {
        jitter_fraction.clamp(0.0, 1.0)
    };
    // f64 has 53 bits of mantissa; a wait beyond 2^53 ms (285,000 years) rounds.
    let millis = (capped as f64 * (1.0 - RETRY_JITTER_SPREAD * jitter)).round();
    Some(Duration::from_millis(millis as u64))
}
