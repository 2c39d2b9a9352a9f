//! Back-off between attempts of a transient failure: exponential with full
//! jitter (a uniform delay in `[0, min(max, base · 2^attempt)]`), never less
//! than the server's `Retry-After`, bounded by `max_retries`.
//!
//! Invariant: pure arithmetic plus a random draw; knows nothing of HTTP.

use std::time::Duration;

use crate::config::Rnds;

/// A `Retry-After` longer than this is cut to it, so that a misbehaving
/// server cannot park a row for hours.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_retries: u32,
}

impl Backoff {
    pub(super) fn from_config(rnds: &Rnds) -> Backoff {
        Backoff {
            base: Duration::from_millis(rnds.backoff_base_ms),
            max: Duration::from_millis(rnds.backoff_max_ms.max(rnds.backoff_base_ms)),
            max_retries: rnds.max_retries,
        }
    }

    /// Delay before retry number `attempt` (0 for the first retry), or `None`
    /// when the retries are spent. `unit` is a uniform draw in `[0, 1)`.
    pub(super) fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.max);
        let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
        let floor = retry_after.map_or(Duration::ZERO, |d| d.min(RETRY_AFTER_CAP));
        Some(jittered.max(floor))
    }

    /// [`Backoff::delay`] with a fresh random draw.
    pub(super) fn next_delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.delay(attempt, retry_after, crate::platform::random_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            max_retries: 4,
        }
    }

    #[test]
    fn ceiling_doubles_and_is_capped() {
        let b = backoff();
        let full = |attempt| b.delay(attempt, None, 0.999_999).unwrap();
        assert!(full(0) <= Duration::from_millis(200) && full(0) > Duration::from_millis(199));
        assert!(full(1) > Duration::from_millis(399) && full(1) <= Duration::from_millis(400));
        assert!(full(3) > Duration::from_millis(1599) && full(3) <= Duration::from_millis(1600));
        let b = Backoff {
            max_retries: 40,
            ..b
        };
        assert_eq!(b.delay(30, None, 1.0), Some(Duration::from_secs(5)));
    }

    #[test]
    fn full_jitter_can_be_zero() {
        assert_eq!(backoff().delay(2, None, 0.0), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let b = backoff();
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3)), 0.5),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(86_400)), 0.5),
            Some(RETRY_AFTER_CAP)
        );
    }

    #[test]
    fn retries_are_bounded() {
        let b = backoff();
        assert!(b.delay(3, None, 0.5).is_some());
        assert_eq!(b.delay(4, None, 0.5), None);
        let none = Backoff {
            max_retries: 0,
            ..b
        };
        assert_eq!(none.delay(0, Some(Duration::from_secs(1)), 0.5), None);
    }

    #[test]
    fn random_draws_stay_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| crate::platform::random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.iter().any(|u| (u - draws[0]).abs() > 1e-9));
    }
}
