//! The wait before a retry: fixed and exponential backoff, the cap, jitter,
//! no delay once the tries are used up, and no overflow.

use std::time::Duration;

use flowforge_domain::execution::{retry_delay, RETRY_JITTER_SPREAD};
use flowforge_domain::workflow::{Backoff, RetryPolicy};
use proptest::prelude::*;

fn policy(backoff: Backoff, max_wait_ms: Option<u64>) -> RetryPolicy {
    RetryPolicy {
        max_tries: 5,
        wait_ms: 1_000,
        backoff,
        max_wait_ms,
    }
}

fn millis(ms: u64) -> Option<Duration> {
    Some(Duration::from_millis(ms))
}

#[test]
fn fixed_backoff_waits_the_same_each_time() {
    let fixed = policy(Backoff::Fixed, None);
    for attempt in 1..5 {
        assert_eq!(retry_delay(&fixed, attempt, 0.0), millis(1_000));
    }
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let exponential = policy(Backoff::Exponential, None);
    let waits: Vec<_> = (1..5).map(|a| retry_delay(&exponential, a, 0.0)).collect();
    assert_eq!(
        waits,
        [millis(1_000), millis(2_000), millis(4_000), millis(8_000)]
    );
    let capped = policy(Backoff::Exponential, Some(3_000));
    assert_eq!(retry_delay(&capped, 3, 0.0), millis(3_000));
    assert_eq!(retry_delay(&capped, 4, 0.0), millis(3_000));
}

#[test]
fn no_delay_once_the_tries_are_used_up() {
    let fixed = policy(Backoff::Fixed, None);
    assert_eq!(retry_delay(&fixed, 5, 0.0), None);
    assert_eq!(retry_delay(&fixed, 6, 0.0), None);
    assert_eq!(
        retry_delay(
            &RetryPolicy {
                max_tries: 1,
                ..fixed
            },
            1,
            0.0
        ),
        None
    );
}

#[test]
fn jitter_takes_away_up_to_half_of_the_wait() {
    let fixed = policy(Backoff::Fixed, None);
    assert_eq!(RETRY_JITTER_SPREAD, 0.5);
    assert_eq!(retry_delay(&fixed, 1, 1.0), millis(500));
    assert_eq!(retry_delay(&fixed, 1, 0.5), millis(750));
    assert_eq!(retry_delay(&fixed, 1, 7.0), millis(500), "clamped to 1");
    assert_eq!(retry_delay(&fixed, 1, -1.0), millis(1_000), "clamped to 0");
    assert_eq!(retry_delay(&fixed, 1, f64::NAN), millis(1_000));
}

#[test]
fn huge_exponents_saturate_instead_of_overflowing() {
    let huge = RetryPolicy {
        max_tries: u32::MAX,
        wait_ms: u64::MAX / 2,
        backoff: Backoff::Exponential,
        max_wait_ms: None,
    };
    assert!(retry_delay(&huge, 200, 0.0).is_some());
    let capped = RetryPolicy {
        max_wait_ms: Some(60_000),
        ..huge
    };
    assert_eq!(retry_delay(&capped, 1_000, 0.0), millis(60_000));
}

proptest! {
    #[test]
    fn exponential_waits_never_shrink_and_respect_the_cap(
        wait_ms in 0u64..100_000,
        attempt in 1u32..20,
        jitters in (0.0f64..=1.0, 0.0f64..=1.0),
        cap in proptest::option::of(0u64..1_000_000),
    ) {
        let uncapped = RetryPolicy { max_tries: 30, wait_ms, backoff: Backoff::Exponential, max_wait_ms: None };
        let this = retry_delay(&uncapped, attempt, jitters.0).expect("tries left");
        let next = retry_delay(&uncapped, attempt + 1, jitters.1).expect("tries left");
        prop_assert!(next >= this, "{next:?} < {this:?}");
        let capped = RetryPolicy { max_wait_ms: cap, ..uncapped };
        let wait = retry_delay(&capped, attempt, jitters.0).expect("tries left");
        if let Some(cap) = cap {
            prop_assert!(wait <= Duration::from_millis(cap));
        }
    }
}
