//! The state every connection shares: the lab's identity, faults, tokens,
//! the document store, request counts and the outage clock. Its own file
//! so the listener (`server`) and the request handlers both use it without
//! importing each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::capacity::Capacity;
use super::store::Store;
use super::{Faults, LabIdentity, ServerCapacity, StoredDocument};

/// Requests answered, by HTTP status and by RNDS error code.
#[derive(Debug, Default, serde::Serialize)]
pub(super) struct Stats {
    pub requests: u64,
    /// Requests received, by HTTP method (`doctor` in production: no POST).
    pub by_method: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_error_code: BTreeMap<String, u64>,
    /// `/api/` requests by `User-Agent` (empty when none was sent).
    pub by_user_agent: BTreeMap<String, u64>,
    /// Tokens issued, by the subject of the client certificate that asked
    /// (a renewed certificate shows up as a new subject).
    pub tokens_by_subject: BTreeMap<String, u64>,
}

/// State every connection shares.
pub(super) struct Shared {
    pub identity: LabIdentity,
    faults: Mutex<Faults>,
    pub token_lifetime: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    store: Mutex<Store>,
    stats: Mutex<Stats>,
    outage_until: Mutex<Option<Instant>>,
    /// The capacity model of the FHIR API, when one was asked for.
    pub(super) capacity: Option<std::sync::Arc<Capacity>>,
    /// Bumped to close every live connection (outage, shutdown).
    pub(super) epoch: watch::Sender<u64>,
}

/// A poisoned lock only means another request panicked mid-update; the
/// simulator keeps serving with what is there.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(
        identity: LabIdentity,
        faults: Faults,
        token_lifetime: Duration,
        store: Store,
        capacity: Option<ServerCapacity>,
    ) -> Shared {
        Shared {
            identity,
            faults: Mutex::new(faults),
            token_lifetime,
            tokens: Mutex::new(HashMap::new()),
            store: Mutex::new(store),
            stats: Mutex::new(Stats::default()),
            outage_until: Mutex::new(None),
            capacity: capacity.map(|c| Capacity::new(c.workers, c.queue)),
            epoch: watch::channel(0).0,
        }
    }

    pub(super) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub(super) fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    pub(super) fn begin_outage(&self, until: Instant) {
        *lock(&self.outage_until) = Some(until);
        self.epoch.send_modify(|e| *e += 1);
    }

    pub(super) fn in_outage(&self) -> bool {
        lock(&self.outage_until).is_some_and(|until| Instant::now() < until)
    }

    /// Counts a token issued to the client certificate with `subject`.
    pub(super) fn count_token_subject(&self, subject: &str) {
        *lock(&self.stats)
            .tokens_by_subject
            .entry(subject.to_string())
            .or_default() += 1;
    }

    /// Issues a token valid for the configured lifetime.
    pub(super) fn issue_token(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        if tokens.len() > 10_000 {
            tokens.retain(|_, expiry| *expiry > now);
        }
        tokens.insert(token.clone(), now + self.token_lifetime);
        token
    }

    /// Zero clock skew: a token is valid strictly before its expiry.
    pub(super) fn token_is_valid(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }

    pub(super) fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(&self.store))
    }

    pub(super) fn documents(&self) -> Vec<StoredDocument> {
        lock(&self.store).documents()
    }

    pub(super) fn documents_json(&self) -> String {
        lock(&self.store).documents_json()
    }

    pub(super) fn count(&self, status: &str, code: Option<&str>) {
        let mut stats = lock(&self.stats);
        stats.requests += 1;
        *stats.by_status.entry(status.to_string()).or_default() += 1;
        if let Some(code) = code {
            *stats.by_error_code.entry(code.to_string()).or_default() += 1;
        }
    }

    pub(super) fn count_method(&self, method: &hyper::Method, user_agent: &str) {
        let mut stats = lock(&self.stats);
        *stats
            .by_method
            .entry(method.as_str().to_string())
            .or_default() += 1;
        *stats
            .by_user_agent
            .entry(user_agent.to_string())
            .or_default() += 1;
    }

    pub(super) fn stats_json(&self) -> serde_json::Value {
        let mut stats = serde_json::to_value(&*lock(&self.stats)).unwrap_or_default();
        if let (Some(capacity), Some(fields)) = (&self.capacity, stats.as_object_mut()) {
            let mut load = serde_json::to_value(capacity.load()).unwrap_or_default();
            if let Some(load) = load.as_object_mut() {
                load.insert("workers".into(), capacity.workers().into());
                load.insert("queue".into(), capacity.queue().into());
            }
            fields.insert("capacity".into(), load);
        }
        stats
    }
}
