//! Token-bucket rate limits (GCRA, from `governor`): API requests per caller
//! (account or API key), webhook calls per path, and sign-in, registration
//! and refresh attempts per source address. A request over its limit answers
//! 429 `rate_limited` with `Retry-After`, and is counted in
//! `flowforge_rate_limited_total`. The limits are per instance.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};

use crate::{authentication::Caller, config::RateLimitArgs, error::ApiError, state::AppState};

/// How many checks pass between two sweeps of buckets that are full again.
const SWEEP_EVERY: u64 = 10_000;

/// The routes limited per source address.
pub const SIGN_IN_ROUTES: [&str; 3] = [
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/refresh",
];

/// The three limiters (each absent when turned off).
pub struct RateLimits {
    api: Option<DefaultKeyedRateLimiter<String>>,
    webhook: Option<DefaultKeyedRateLimiter<String>>,
    sign_in: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    quota: impl Fn(NonZeroU32) -> Quota,
    rate: u32,
    burst: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(quota(rate).allow_burst(burst)))
}

impl RateLimits {
    /// The limits `args` configures.
    pub fn new(args: &RateLimitArgs) -> Self {
        Self {
            api: limiter(Quota::per_second, args.api_rate, args.api_burst),
            webhook: limiter(Quota::per_second, args.webhook_rate, args.webhook_burst),
            sign_in: limiter(
                Quota::per_minute,
                args.sign_in_per_minute,
                args.sign_in_burst,
            ),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one token for `key`; the error says how long until one is there.
    fn take<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<K>>,
        key: &K,
        name: &'static str,
    ) -> Result<(), ApiError> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(key).map_err(|not_until| {
            flowforge_monitoring::metrics()
                .rate_limited
                .with_label_values(&[name])
                .inc();
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                limit: name,
                retry_after_secs: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX).max(0) + 1,
            }
        })
    }
}

/// Applies the limit that fits the request, after the access check (so an
/// authenticated caller is known).
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.rate_limits;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let verdict = if let Some(caller) = request.extensions().get::<Caller>() {
        limits.take(limits.api.as_ref(), &caller.actor.recorded_as(), "api")
    } else if super::webhooks::WEBHOOK_ROUTES.contains(&route.as_str()) {
        let path = request.uri().path().to_owned();
        limits.take(limits.webhook.as_ref(), &path, "webhook")
    } else if SIGN_IN_ROUTES.contains(&route.as_str()) {
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(address)) => {
                limits.take(limits.sign_in.as_ref(), &address.ip(), "sign_in")
            }
            None => Ok(()),
        }
    } else {
        Ok(())
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}
