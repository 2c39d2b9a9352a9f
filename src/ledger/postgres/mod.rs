//! The ledger in a PostgreSQL database (`[ledger] url`), for labs whose
//! ledger must outlive one machine. Same tables, same statements and same
//! invariants as the SQLite file (see the parent module); what differs:
//!
//! - A new ledger is all its tables plus one identity row
//!   (`rnds_drop_ledger`: a random id, the schema version and the key of
//!   the patient hashes), created in one transaction: a database has the
//!   whole ledger or none of it. Tables without that row are an emptied
//!   or damaged ledger and are refused ([`LedgerError::PostgresIncomplete`]),
//!   the way an empty SQLite file is. The SQLite file guards (`-wal` lost,
//!   `.in-use` mark) have no equivalent: PostgreSQL's own WAL is the
//!   server's business.
//! - One process per ledger is a session advisory lock held by the
//!   ledger's own connection instead of `<ledger>.lock`; the server
//!   releases it when that connection ends, also after a SIGKILL. A
//!   reconnect takes it again before any statement and fails busy when
//!   another process took it meanwhile (never two senders on one ledger).
//! - The client is the blocking `postgres` crate. It runs its own small
//!   runtime and panics when called on a thread inside a tokio runtime, so
//!   every call made from such a thread runs on a scoped helper thread
//!   ([`off_runtime`]); the caller blocks as it would on a SQLite commit.
//! - A connection found closed (server restarted) is opened again on the
//!   next call; a call that fails returns the error and nothing of its
//!   transaction is kept, so no intent is lost or half-written.

mod lease;
mod queries;
mod schema;
mod snapshot;
#[cfg(test)]
mod tests;
mod tls;

pub(crate) use lease::{Heartbeat, Instance};
pub(crate) use snapshot::snapshot;

use std::cell::RefCell;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::LedgerError;

/// How long a connection attempt waits for the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of the advisory lock that makes one process per ledger.
const PROCESS_LOCK_KEY: i64 = 0x726e_6473_6472_6f70; // "rndsdrop"

/// Where a PostgreSQL ledger is, with the password already read.
#[derive(Clone)]
pub(crate) struct PgTarget {
    config: postgres::Config,
    /// TLS with the lab's CA (`[ledger] ca_file`); plain TCP without it.
    tls: Option<tls::RustlsMakeConnect>,
    /// `user@host:port/database`: what messages show (never the password).
    shown: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PgTarget {
    /// Parses `url` (`postgres://user@host:port/database`); the password
    /// comes apart (`password_env`/`password_file`) and may not be in it.
    pub(crate) fn new(url: &str, password: Option<String>) -> Result<PgTarget, String> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| format!("url do registro de envios inválida: {e}"))?;
        if config.get_password().is_some() {
            return Err(
                "a url do registro de envios não pode conter a senha: use password_env ou \
                 password_file"
                    .into(),
            );
        }
        if let Some(password) = password {
            config.password(password);
        }
        // A connection cut without a FIN (a NAT or firewall dropping it)
        // must fail in seconds, not after the kernel's retransmissions: the
        // heartbeat thread would otherwise hang in a read while the
        // instance's leases lapse, and a stop would wait for it (review
        // finding 4).
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(10))
            .keepalives_interval(std::time::Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(std::time::Duration::from_secs(20))
            .application_name("rnds-drop");
        let shown = shown(&config);
        Ok(PgTarget {
            config,
            tls: None,
            shown,
        })
    }

    /// Requires TLS, verified against the CA certificates of `ca_file`.
    pub(crate) fn with_ca(mut self, ca_file: &std::path::Path) -> Result<PgTarget, String> {
        self.tls = Some(tls::RustlsMakeConnect::with_ca(ca_file)?);
        self.config.ssl_mode(postgres::config::SslMode::Require);
        Ok(self)
    }

    /// The target `[ledger] url` names, with the password read from
    /// `password_env` or the first line of `password_file`.
    pub(crate) fn from_config(
        config: &crate::config::PostgresLedger,
    ) -> Result<PgTarget, LedgerError> {
        let password = match (&config.password_env, &config.password_file) {
            (Some(var), _) => Some(std::env::var(var).map_err(|_| {
                LedgerError::PostgresSettings(format!(
                    "a variável de ambiente {var} ([ledger] password_env) não está definida"
                ))
            })?),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Io {
                    path: path.clone(),
                    source,
                })?;
                Some(text.lines().next().unwrap_or("").to_owned())
            }
            (None, None) => None,
        };
        let target = PgTarget::new(&config.url, password).map_err(LedgerError::PostgresSettings)?;
        match &config.ca_file {
            Some(ca_file) => target
                .with_ca(ca_file)
                .map_err(LedgerError::PostgresSettings),
            None => Ok(target),
        }
    }

    /// `user@host:port/database`.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    pub(super) fn connect(&self) -> Result<Client, LedgerError> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        connected.map_err(|source| LedgerError::PostgresConnect {
            target: self.shown.clone(),
            source,
        })
    }
}

fn shown(config: &postgres::Config) -> String {
    crate::config::postgres_shown(config)
}

/// Runs `work` where the blocking client may run: here when this thread
/// is outside any tokio runtime, else on a scoped thread (the client's
/// `block_on` panics inside a runtime, `block_in_place` included).
pub(super) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A client that is dropped off any runtime thread: closing it runs the
/// client's own runtime, which panics on a runtime thread.
struct Conn(Option<Client>);

#[cfg(test)]
impl Conn {
    fn client(&mut self) -> Result<&mut Client, LedgerError> {
        self.0
            .as_mut()
            .ok_or_else(|| LedgerError::Corrupt("conexão com o PostgreSQL já fechada".into()))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// An open PostgreSQL ledger.
pub(crate) struct PgLedger {
    target: PgTarget,
    /// `RefCell`: reads take `&self` like the SQLite ledger's; the client
    /// needs `&mut` for every statement.
    conn: RefCell<Conn>,
    /// Whether this handle holds the process lock (always, outside tests).
    locked: bool,
    /// One of several instances on one inbox (`[ledger] instance`): its
    /// process lock is its name's, and its writes for a file are fenced
    /// by the file's lease (see [`lease`]).
    instance: Option<Instance>,
}

impl PgLedger {
    /// Connects, creates the ledger when the database has none of its
    /// tables, checks its identity row; returns the ledger and its key of
    /// the patient hashes. Only for the explicit creations (`init-ledger`,
    /// `migrate-ledger`) and tests: `run` and `send` use
    /// [`PgLedger::open_existing`].
    pub(super) fn open(target: &PgTarget) -> Result<(PgLedger, Vec<u8>), LedgerError> {
        PgLedger::open_with(target, true, true, None)
    }

    /// As [`PgLedger::open`], but a database without the ledger's tables
    /// is refused ([`LedgerError::PostgresNotCreated`]), never made one.
    pub(super) fn open_existing(target: &PgTarget) -> Result<(PgLedger, Vec<u8>), LedgerError> {
        PgLedger::open_with(target, true, false, None)
    }

    /// [`PgLedger::open_existing`] for one of several instances on one
    /// inbox: an empty database is refused as for a lone process.
    pub(super) fn open_instance(
        target: &PgTarget,
        instance: Instance,
    ) -> Result<(PgLedger, Vec<u8>), LedgerError> {
        let (mut ledger, key) = PgLedger::open_with(target, true, false, Some(instance))?;
        ledger.register_instance()?;
        Ok((ledger, key))
    }

    /// A second handle without the process lock, beside one that holds
    /// it: for tests that read while another handle writes, as `status`
    /// does through its own read-only snapshot.
    #[cfg(test)]
    pub(super) fn open_beside(target: &PgTarget) -> Result<(PgLedger, Vec<u8>), LedgerError> {
        PgLedger::open_with(target, false, true, None)
    }

    fn open_with(
        target: &PgTarget,
        locked: bool,
        create: bool,
        instance: Option<Instance>,
    ) -> Result<(PgLedger, Vec<u8>), LedgerError> {
        let name = instance.as_ref().map(|i| i.name.as_str());
        let (client, key) = off_runtime(|| {
            let mut client = if locked {
                connect_locked(target, name)?
            } else {
                target.connect()?
            };
            match schema::open_or_create(&mut client, target.shown(), create) {
                Ok(key) => Ok((client, key)),
                Err(e) => {
                    drop(client);
                    Err(e)
                }
            }
        })?;
        Ok((
            PgLedger {
                target: target.clone(),
                conn: RefCell::new(Conn(Some(client))),
                locked,
                instance,
            },
            key,
        ))
    }

    /// Runs `work` with a live connection, off any runtime thread. A
    /// connection the server closed is opened again and takes the
    /// process lock again before any statement: the server released it
    /// with the old session, and if another process took it meanwhile
    /// this call fails busy (the connection stays closed, so every next
    /// call tries again) instead of sharing the ledger with it.
    fn call<R: Send>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<R, LedgerError> + Send,
    ) -> Result<R, LedgerError> {
        let mut conn = self.conn.borrow_mut();
        let slot: &mut Option<Client> = &mut conn.0;
        let target = &self.target;
        let locked = self.locked;
        let name = self.instance.as_ref().map(|i| i.name.as_str());
        off_runtime(move || {
            let closed = slot.as_ref().is_none_or(Client::is_closed);
            if closed {
                *slot = Some(if locked {
                    connect_locked(target, name)?
                } else {
                    target.connect()?
                });
            }
            match slot.as_mut() {
                Some(client) => work(client),
                None => Err(LedgerError::Corrupt("sem conexão com o PostgreSQL".into())),
            }
        })
    }
}

/// Releases the process lock before the connection closes: the server
/// frees a session lock only when the backend has exited, a moment after
/// the client's goodbye, and a process started right after this one ends
/// (a service restart) must not find the ledger busy.
impl Drop for PgLedger {
    fn drop(&mut self) {
        if !self.locked {
            return;
        }
        let mut conn = self.conn.borrow_mut();
        let name = self.instance.as_ref().map(|i| i.name.as_str());
        if let Some(client) = conn.0.as_mut().filter(|c| !c.is_closed()) {
            off_runtime(|| match name {
                Some(name) => lease::release_instance_locks(client, name),
                None => {
                    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&PROCESS_LOCK_KEY]);
                }
            });
        }
    }
}

#[cfg(test)]
impl PgLedger {
    pub(crate) fn target(&self) -> &PgTarget {
        &self.target
    }

    pub(crate) fn execute_sql(&mut self, sql: &str) {
        self.call(|c| Ok(c.batch_execute(sql)?)).unwrap();
    }
}

/// Whether `error` is the connection's loss rather than a statement's
/// failure: the client saw it closed or its socket fail, or the server
/// ended the session (SQLSTATE class 08, connection exception; 57P,
/// operator intervention: a shutdown or restart).
pub(super) fn connection_lost(error: &postgres::Error) -> bool {
    let sqlstate = error.code().map(postgres::error::SqlState::code);
    error.is_closed()
        || sqlstate.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
        || std::error::Error::source(error)
            .is_some_and(<dyn std::error::Error>::is::<std::io::Error>)
}

/// Whether the database already holds a ledger (any of its tables): for
/// the caller that must refuse to create one where earlier sends show.
pub(crate) fn ledger_exists(target: &PgTarget) -> Result<bool, LedgerError> {
    off_runtime(|| {
        let mut client = target.connect()?;
        schema::any_table(&mut client)
    })
}

/// A new connection holding the process lock (a session advisory lock:
/// the server releases it when this connection ends, also after a
/// SIGKILL or a restart); busy when another process holds it. An
/// instance (`name`) takes its name's lock instead (see [`lease`]).
fn connect_locked(target: &PgTarget, name: Option<&str>) -> Result<Client, LedgerError> {
    let mut client = target.connect()?;
    let taken = match name {
        Some(name) => lease::try_instance_locks(&mut client, name),
        None => try_process_lock(&mut client),
    };
    match taken {
        Ok(true) => Ok(client),
        Ok(false) => {
            drop(client);
            Err(LedgerError::PostgresBusy {
                target: target.shown().to_owned(),
            })
        }
        Err(e) => {
            drop(client);
            Err(e)
        }
    }
}

fn try_process_lock(client: &mut Client) -> Result<bool, LedgerError> {
    let row = client.query_one("SELECT pg_try_advisory_lock($1)", &[&PROCESS_LOCK_KEY])?;
    Ok(row.try_get(0)?)
}

/// The process lock on a connection of its own: another process, as tests
/// see it (the ledger holds the lock on its own connection).
#[cfg(test)]
pub(crate) struct PgProcessLock {
    _conn: Conn,
}

#[cfg(test)]
impl PgProcessLock {
    /// `None` when another process holds it.
    pub(crate) fn take(target: &PgTarget) -> Result<Option<PgProcessLock>, LedgerError> {
        let mut conn = Conn(Some(off_runtime(|| target.connect())?));
        let client = conn.client()?;
        let taken = off_runtime(|| try_process_lock(client))?;
        Ok(taken.then_some(PgProcessLock { _conn: conn }))
    }
}
