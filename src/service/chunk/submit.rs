//! The POSTs of one round, at most `max_in_flight` at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::report::wording;
use crate::rnds::{Client, Outcome};

use super::Submission;

/// Unknown outcomes (502/504, time-outs, lost answers) in a row, with no
/// definite answer between them, that stop the round: an answer storm.
/// Each costs a lookup (with back-offs) and maybe a re-POST to settle, and
/// at a 30 s time-out a chunk of them would hold every file for hours.
/// Five in a row is an outage, not the odd lost answer (at 5 % lost
/// answers, 3 in 10 million) — counted beyond the requests in flight: one
/// dropped HTTP/2 connection fails every request on it at once, which is
/// one lost answer, not a storm (see [`unknowns_that_halt`]).
pub(super) const UNKNOWN_STREAK_TO_HALT: usize = 5;

/// Unknown outcomes in a row that halt a round sending `in_flight` at
/// once: a whole connection's worth may fail together from one loss.
fn unknowns_that_halt(in_flight: usize) -> usize {
    in_flight + UNKNOWN_STREAK_TO_HALT
}

/// Submits every bundle, at most `max_in_flight` at once. After a
/// configuration error, a transient failure that outlived the client's
/// retries (RNDS is down: do not spend hours retrying row by row), an
/// answer storm ([`unknowns_that_halt`] unknown outcomes in a row) or a
/// stop request, the rest are not sent (they come back `Transient`,
/// which leaves them pending).
pub(super) async fn submit_all(
    client: &Client,
    stop: &watch::Receiver<bool>,
    sends: &[Submission],
) -> Vec<Outcome> {
    let in_flight = client.max_in_flight().max(1);
    let limit = Arc::new(Semaphore::new(in_flight));
    let halt_after = unknowns_that_halt(in_flight);
    let halted = Arc::new(AtomicBool::new(false));
    let unknown_streak = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    let mut answers: Vec<Option<Outcome>> = vec![None; sends.len()];
    for (k, send) in sends.iter().enumerate() {
        let permit = limit.clone().acquire_owned().await;
        if halted.load(Ordering::SeqCst) || super::super::stopping(stop) {
            answers[k] = Some(Outcome::Transient {
                message: wording::NOT_SENT_THIS_TIME.into(),
            });
            continue;
        }
        let client = client.clone();
        let bundle = send.bundle.clone();
        let halted = halted.clone();
        let unknown_streak = unknown_streak.clone();
        set.spawn(async move {
            let _permit = permit;
            let outcome = client.submit(bundle).await;
            match outcome {
                Outcome::ConfigurationError { .. } | Outcome::Transient { .. } => {
                    halted.store(true, Ordering::SeqCst);
                }
                Outcome::Unknown { .. } => {
                    if unknown_streak.fetch_add(1, Ordering::SeqCst) + 1 >= halt_after {
                        halted.store(true, Ordering::SeqCst);
                    }
                }
                _ => unknown_streak.store(0, Ordering::SeqCst),
            }
            (k, outcome)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((k, outcome)) = joined {
            answers[k] = Some(outcome);
        }
    }
    answers
        .into_iter()
        .map(|a| {
            // A task that panicked never answered: the POST may have
            // happened, so the row must be resolved, not resent.
            a.unwrap_or(Outcome::Unknown {
                message: wording::SEND_INTERRUPTED.into(),
            })
        })
        .collect()
}
