//! Several instances on one inbox (`[ledger] instance`): who holds which
//! file, until when, fenced by the database's own clock.
//!
//! - Each instance has a row in `instances` (name, start, last
//!   heartbeat); a thread of its own ([`Heartbeat`]) renews it and the
//!   leases of the files the service holds every `heartbeat_s`, on a
//!   connection of its own, so a long pass never delays it.
//! - A file is held by the instance in `files.owner` until
//!   `files.lease_until`; all times are the server's `now()`.
//! - [`PgLedger::take_over`] takes the oldest file whose lease ran out
//!   (`FOR UPDATE SKIP LOCKED`: two instances never take the same file and
//!   neither waits for the other).
//! - [`fence`] runs inside the transactions that write for a file (the
//!   intents, the outcomes, a report set): they fail with
//!   [`LedgerError::LeaseLost`] unless this instance still holds the file.
//! - The process lock becomes two advisory locks: the ledger's key
//!   *shared* (so a lone process, which takes it exclusive, and instances
//!   exclude each other) and one per instance name, exclusive (two
//!   processes with one name are refused).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::{Client, GenericClient};

use super::super::files::{path_text, FileId, FileRecord};
use super::super::{InstanceStatus, LedgerError};
use super::{PgLedger, PgTarget, PROCESS_LOCK_KEY};

/// This process's name and lease settings, and the files it holds.
pub(crate) struct Instance {
    pub(crate) name: String,
    heartbeat: Duration,
    lease_s: i64,
    /// Files the service works on (held, waiting or being read): the
    /// heartbeat renews exactly these leases.
    in_hand: Arc<Mutex<BTreeSet<i64>>>,
}

impl Instance {
    pub(crate) fn new(settings: &crate::config::InstanceSettings) -> Instance {
        Instance {
            name: settings.name.clone(),
            heartbeat: Duration::from_secs(settings.heartbeat_s.max(1)),
            lease_s: i64::try_from(settings.lease_s).unwrap_or(i64::MAX),
            in_hand: Arc::default(),
        }
    }

    fn hold(&self, id: i64) {
        lock(&self.in_hand).insert(id);
    }

    pub(super) fn forget(&self, id: i64) {
        lock(&self.in_hand).remove(&id);
    }
}

fn lock(set: &Mutex<BTreeSet<i64>>) -> std::sync::MutexGuard<'_, BTreeSet<i64>> {
    set.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The advisory lock key of one instance name (FNV-1a, 64 bits).
fn instance_lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"rnds-drop instance ".iter().chain(name.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Takes the ledger's lock shared and the name's lock exclusive; `false`
/// (holding neither) when a lone process or another process of this name
/// holds them.
pub(super) fn try_instance_locks(client: &mut Client, name: &str) -> Result<bool, LedgerError> {
    let shared: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock_shared($1)",
            &[&PROCESS_LOCK_KEY],
        )?
        .try_get(0)?;
    if !shared {
        return Ok(false);
    }
    let own: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&instance_lock_key(name)],
        )?
        .try_get(0)?;
    if !own {
        client.execute("SELECT pg_advisory_unlock_shared($1)", &[&PROCESS_LOCK_KEY])?;
    }
    Ok(own)
}

/// Releases what [`try_instance_locks`] took.
pub(super) fn release_instance_locks(client: &mut Client, name: &str) {
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&instance_lock_key(name)]);
    let _ = client.execute("SELECT pg_advisory_unlock_shared($1)", &[&PROCESS_LOCK_KEY]);
}

/// Fails with [`LedgerError::LeaseLost`] unless `me` holds every file of
/// `file_ids` that is still `processing` with a lease not run out, and
/// locks those rows until the transaction ends (a take-over skips them).
/// Without an instance (a lone process) there is nothing to check.
pub(super) fn fence(
    tx: &mut impl GenericClient,
    me: Option<&str>,
    file_ids: &[i64],
) -> Result<(), LedgerError> {
    let Some(me) = me else {
        return Ok(());
    };
    let lost = tx.query(
        "SELECT id FROM files WHERE id = ANY($1) AND state = 'processing'
           AND NOT (owner IS NOT DISTINCT FROM $2 AND lease_until > now())
         FOR SHARE",
        &[&file_ids, &me],
    )?;
    if let Some(row) = lost.first() {
        return Err(LedgerError::LeaseLost {
            file_id: row.try_get(0)?,
        });
    }
    tx.execute(
        "SELECT 1 FROM files WHERE id = ANY($1) FOR SHARE",
        &[&file_ids],
    )?;
    Ok(())
}

/// Like [`fence`], for the files of the latest attempts of `lab_ids`.
pub(super) fn fence_rows(
    tx: &mut impl GenericClient,
    me: Option<&str>,
    lab_ids: &[String],
) -> Result<(), LedgerError> {
    if me.is_none() {
        return Ok(());
    }
    let files: Vec<i64> = tx
        .query(
            "SELECT DISTINCT file_id FROM results WHERE lab_id = ANY($1)",
            &[&lab_ids],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    fence(tx, me, &files)
}

/// Every instance that ran on this ledger, by name (none before schema 3).
pub(super) fn instances(
    client: &mut impl GenericClient,
) -> Result<Vec<InstanceStatus>, LedgerError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('instances') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client.query(
        "SELECT i.name,
                to_char(i.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                floor(EXTRACT(EPOCH FROM now() - i.heartbeat_at))::bigint,
                i.heartbeat_at + make_interval(secs => i.lease_s) > now(),
                COALESCE((SELECT array_agg(f.name ORDER BY f.id) FROM files f
                          WHERE f.owner = i.name AND f.state = 'processing'
                            AND f.lease_until > now()), '{}')
         FROM instances i ORDER BY i.name",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(InstanceStatus {
                name: r.try_get(0)?,
                heartbeat_at: r.try_get(1)?,
                heartbeat_age_s: r.try_get::<_, i64>(2)?.max(0),
                alive: r.try_get(3)?,
                files_in_hand: r.try_get(4)?,
            })
        })
        .collect()
}

/// Leases.
impl PgLedger {
    pub(crate) fn instance_name(&self) -> Option<&str> {
        self.instance.as_ref().map(|i| i.name.as_str())
    }

    /// The owner and lease (seconds) of a file this process claims now:
    /// `None`s for a lone process.
    pub(super) fn owner_and_lease(&self) -> (Option<String>, Option<f64>) {
        match &self.instance {
            Some(i) => (Some(i.name.clone()), Some(i.lease_s as f64)),
            None => (None, None),
        }
    }

    /// From now on the heartbeat renews the lease of file `id`.
    pub(super) fn hold(&self, id: FileId) {
        if let Some(instance) = &self.instance {
            instance.hold(id.0);
        }
    }

    /// Records this instance as started (its heartbeat now).
    pub(crate) fn register_instance(&mut self) -> Result<(), LedgerError> {
        let Some(instance) = &self.instance else {
            return Ok(());
        };
        let (name, lease_s) = (instance.name.clone(), instance.lease_s);
        self.call(|c| {
            c.execute(
                "INSERT INTO instances (name, started_at, heartbeat_at, lease_s)
                 VALUES ($1, now(), now(), $2)
                 ON CONFLICT (name) DO UPDATE SET started_at = now(), heartbeat_at = now(),
                                                  lease_s = excluded.lease_s",
                &[&name, &lease_s],
            )?;
            Ok(())
        })
    }

    /// A file found in this instance's own `processando/` folder at start:
    /// `true` when it is still this instance's (its lease renewed and held
    /// from now on), `false` when another instance took it over meanwhile.
    pub(crate) fn renew_own(&mut self, id: FileId) -> Result<bool, LedgerError> {
        let Some(instance) = &self.instance else {
            return Ok(true);
        };
        let (name, lease_s) = (instance.name.clone(), instance.lease_s);
        let renewed = self.call(|c| {
            Ok(c.execute(
                "UPDATE files SET lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1 AND state = 'processing' AND owner IS NOT DISTINCT FROM $2",
                &[&id.0, &name, &(lease_s as f64)],
            )? > 0)
        })?;
        if renewed {
            instance.hold(id.0);
        }
        Ok(renewed)
    }

    /// Takes over the oldest file whose lease ran out (its instance died or
    /// lost the database), with its record; `None` when there is none.
    pub(crate) fn take_over(&mut self) -> Result<Option<FileRecord>, LedgerError> {
        let Some(instance) = &self.instance else {
            return Ok(None);
        };
        let (name, lease_s) = (instance.name.clone(), instance.lease_s);
        // Never a file this instance already works on: after the database
        // was down past the lease, its own files look expired until the
        // heartbeat renews them (review finding 5: two `Active`s).
        let in_hand: Vec<i64> = lock(&instance.in_hand).iter().copied().collect();
        let taken: Option<i64> = self.call(|c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "SELECT id FROM files WHERE state = 'processing'
                   AND (lease_until IS NULL OR lease_until < now())
                   AND NOT (id = ANY($1))
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&in_hand],
            )?
            else {
                return Ok(None);
            };
            let id: i64 = row.try_get(0)?;
            tx.execute(
                "UPDATE files SET owner = $2, lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1",
                &[&id, &name, &(lease_s as f64)],
            )?;
            tx.commit()?;
            Ok(Some(id))
        })?;
        let Some(id) = taken else {
            return Ok(None);
        };
        instance.hold(id);
        self.file(FileId(id))
    }

    /// The service no longer works on file `id` (lost to another
    /// instance, or gone): its lease is no longer renewed.
    pub(crate) fn release(&mut self, id: FileId) {
        if let Some(instance) = &self.instance {
            instance.forget(id.0);
        }
    }

    /// Where a file taken over will be (recorded before it is moved there),
    /// fenced like every write for a file.
    pub(crate) fn set_work_path(
        &mut self,
        id: FileId,
        work_path: &std::path::Path,
    ) -> Result<(), LedgerError> {
        let me = self.instance_name().map(str::to_owned);
        self.call(|c| {
            let mut tx = c.transaction()?;
            fence(&mut tx, me.as_deref(), &[id.0])?;
            tx.execute(
                "UPDATE files SET work_path = $2 WHERE id = $1",
                &[&id.0, &path_text(work_path)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Starts renewing this instance's heartbeat and leases (`None` for a
    /// lone process).
    pub(crate) fn start_heartbeat(&self) -> Option<Heartbeat> {
        let instance = self.instance.as_ref()?;
        Some(Heartbeat::start(
            self.target.clone(),
            instance.name.clone(),
            instance.heartbeat,
            instance.lease_s,
            Arc::clone(&instance.in_hand),
        ))
    }
}

/// The heartbeat thread; stopped (and its connection closed) when dropped.
pub(crate) struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(
        target: PgTarget,
        name: String,
        every: Duration,
        lease_s: i64,
        in_hand: Arc<Mutex<BTreeSet<i64>>>,
    ) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                let mut client: Option<Client> = None;
                let mut failing = false;
                while !stopped.load(Ordering::Relaxed) {
                    let held: Vec<i64> = lock(&in_hand).iter().copied().collect();
                    match beat(&target, &mut client, &name, lease_s, &held) {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("sinal de vida da instância {name} no registro de envios restabelecido");
                        }
                        Ok(()) => {}
                        Err(e) => {
                            client = None;
                            if !failing {
                                failing = true;
                                tracing::warn!(
                                    "o sinal de vida da instância {name} não chegou ao registro de \
                                     envios ({e}); se ficar assim por lease_s, outra instância \
                                     assume os arquivos dela"
                                );
                            }
                        }
                    }
                    let mut slept = Duration::ZERO;
                    while slept < every && !stopped.load(Ordering::Relaxed) {
                        let step = Duration::from_millis(100).min(every.saturating_sub(slept));
                        std::thread::sleep(step);
                        slept += step;
                    }
                }
            })
            .ok();
        Heartbeat { stop, thread }
    }
}

fn beat(
    target: &PgTarget,
    client: &mut Option<Client>,
    name: &str,
    lease_s: i64,
    held: &[i64],
) -> Result<(), LedgerError> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(target.connect()?);
    }
    let Some(c) = client.as_mut() else {
        return Ok(());
    };
    let mut tx = c.transaction()?;
    tx.execute(
        "UPDATE instances SET heartbeat_at = now() WHERE name = $1",
        &[&name],
    )?;
    tx.execute(
        "UPDATE files SET lease_until = now() + make_interval(secs => $3)
         WHERE owner = $1 AND state = 'processing' AND id = ANY($2)",
        &[&name, &held, &(lease_s as f64)],
    )?;
    tx.commit()?;
    Ok(())
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
