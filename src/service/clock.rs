//! The daemon's clock: when a waiting file is due, a file is quiet, a
//! finished file is rechecked, pending rows are reported. Production reads
//! the monotonic clock; a test moves it forward (`Clock::skip`, in test
//! builds) instead of waiting out a back-off on the wall clock, and the
//! daemon's waits wake to look again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Monotonic time plus what tests skipped. Cloned handles share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    skipped: Arc<Skipped>,
}

#[derive(Debug, Default)]
struct Skipped {
    millis: AtomicU64,
    moved: Notify,
}

impl Clock {
    fn skipped(&self) -> Duration {
        Duration::from_millis(self.skipped.millis.load(Ordering::SeqCst))
    }

    /// Now, on this clock.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.skipped()
    }

    /// The tokio deadline at which this clock reads `at` (already past
    /// when a skip went beyond it).
    pub(crate) fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let real = at.checked_sub(self.skipped()).unwrap_or(at);
        tokio::time::Instant::from_std(real)
    }

    /// Completes when the clock is moved forward (never, outside tests):
    /// deadlines computed before are stale.
    pub(crate) async fn moved(&self) {
        self.skipped.moved.notified().await;
    }

    /// Moves the clock forward by `by` and wakes the daemon's waits.
    #[cfg(test)]
    pub(crate) fn skip(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skipped.millis.fetch_add(millis, Ordering::SeqCst);
        self.skipped.moved.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_skip_brings_deadlines_forward_and_wakes_waiters() {
        let clock = Clock::default();
        let due = clock.now() + Duration::from_secs(60);
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.moved().await })
        };
        tokio::task::yield_now().await;
        clock.skip(Duration::from_secs(61));
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiter woke")
            .expect("the waiter ran");
        assert!(clock.now() >= due);
        assert!(clock.deadline(due) <= tokio::time::Instant::now());
    }
}
