//! Seconds since the Unix epoch: the clock TOTP time steps and OAuth 2.0
//! grant expiries are counted in.

use chrono::Utc;

/// Now, in seconds since the Unix epoch (0 before it).
pub(crate) fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}
