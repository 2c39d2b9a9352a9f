//! Opening the ledger for `run` and `send`, and starting a new one on
//! purpose. A missing SQLite file is created only where nothing shows
//! earlier sends: a lock file that says a ledger was in use, files already
//! taken from an inbox, or `enviados.csv` reports in an outbox. Otherwise
//! the process stops (exit 3) instead of re-sending everything RNDS holds.
//! A PostgreSQL database without the ledger is never made one by `run` or
//! `send`, whatever the folders show: only `init-ledger` creates it (an
//! empty database is as likely a mistyped url as a new lab).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::ledger::postgres::{ledger_exists, PgTarget};
use crate::ledger::{Ledger, LedgerError, LedgerLock};

use super::{prepare_ledger_dir, ServiceError};

/// What keeps a second process off the ledger while this one runs.
pub(crate) enum LedgerHold {
    /// `<ledger>.lock` beside the SQLite file.
    File(#[allow(dead_code)] LedgerLock),
    /// A session advisory lock in the PostgreSQL database, held by the
    /// ledger's own connection (and taken again by its reconnects).
    InPostgresLedger,
}

/// The PostgreSQL ledger busy as the SQLite file's busy lock says it.
fn busy_as_service(error: LedgerError) -> ServiceError {
    match error {
        LedgerError::PostgresBusy { target } => ServiceError::LedgerBusy {
            path: PathBuf::from(target),
        },
        other => other.into(),
    }
}

/// Takes the ledger lock and opens the ledger, refusing to create one
/// where earlier sends are visible.
pub(crate) fn open_ledger(config: &Config) -> Result<(LedgerHold, Ledger), ServiceError> {
    if let Some(settings) = &config.ledger.postgres {
        return open_postgres(config, &PgTarget::from_config(settings)?, None);
    }
    let (lock, ledger) = open_sqlite(config)?;
    Ok((LedgerHold::File(lock), ledger))
}

/// [`open_ledger`] for the service: with `[ledger] instance`, as one of
/// several instances on one inbox (`send` stays a lone process: it is
/// refused while instances run).
pub(crate) fn open_service_ledger(config: &Config) -> Result<(LedgerHold, Ledger), ServiceError> {
    if let Some(settings) = &config.ledger.postgres {
        let target = PgTarget::from_config(settings)?;
        return open_postgres(config, &target, settings.instance.as_ref());
    }
    let (lock, ledger) = open_sqlite(config)?;
    Ok((LedgerHold::File(lock), ledger))
}

/// The PostgreSQL ledger, opened with its advisory lock (another process
/// on the same database is refused like one on the same file; an instance
/// of several on one inbox takes its name's lock). A database without the
/// ledger is refused: as a lost ledger where earlier sends show, else as
/// one `init-ledger` has not created yet.
fn open_postgres(
    config: &Config,
    target: &PgTarget,
    instance: Option<&crate::config::InstanceSettings>,
) -> Result<(LedgerHold, Ledger), ServiceError> {
    if !database_has_ledger(config, target)? {
        return Err(LedgerError::PostgresNotCreated {
            target: target.shown().to_owned(),
        }
        .into());
    }
    let ledger = match instance {
        Some(instance) => Ledger::open_postgres_instance(target, instance),
        None => Ledger::open_postgres_existing(target),
    }
    .map_err(busy_as_service)?;
    Ok((LedgerHold::InPostgresLedger, ledger))
}

/// Whether the database holds the ledger; [`LedgerError::PostgresMissing`]
/// when it does not and the folders show earlier sends (restore, never
/// create).
fn database_has_ledger(config: &Config, target: &PgTarget) -> Result<bool, ServiceError> {
    if ledger_exists(target)? {
        return Ok(true);
    }
    match earlier_sends(config, None) {
        Some(evidence) => Err(LedgerError::PostgresMissing {
            target: target.shown().to_owned(),
            evidence,
        }
        .into()),
        None => Ok(false),
    }
}

fn open_sqlite(config: &Config) -> Result<(LedgerLock, Ledger), ServiceError> {
    let path = &config.ledger.path;
    let mut lock = prepare_ledger_dir(path)?;
    if !Ledger::file_exists(path) {
        if let Some(evidence) = earlier_sends(config, Some(&lock)) {
            return Err(LedgerError::Missing {
                path: path.clone(),
                evidence,
            }
            .into());
        }
    }
    let ledger = Ledger::open(path)?;
    mark(&mut lock, path)?;
    Ok((lock, ledger))
}

fn mark(lock: &mut LedgerLock, ledger: &Path) -> Result<(), ServiceError> {
    lock.mark().map_err(|source| ServiceError::Output {
        path: ledger.to_path_buf(),
        source,
    })
}

/// pt-BR description of the first trace of earlier sends, if any: the
/// facts come from `ledger` (the lock's mark), `watch` (files taken from
/// an inbox) and `report` (`enviados.csv` in an outbox).
fn earlier_sends(config: &Config, lock: Option<&LedgerLock>) -> Option<String> {
    if let Some(lock) = lock.filter(|lock| lock.was_marked()) {
        return Some(format!(
            "o arquivo {} (criado junto com o registro)",
            lock.path().display()
        ));
    }
    for inbox in &config.inbox {
        if let Some((dir, file)) = crate::watch::any_taken_file(&inbox.path) {
            return Some(format!(
                "a pasta {} (arquivo {})",
                dir.display(),
                file.display()
            ));
        }
        if let Some(report) = crate::report::any_sent_report(&inbox.outbox) {
            return Some(format!(
                "a pasta de relatórios {} (arquivo {})",
                inbox.outbox.display(),
                report.display()
            ));
        }
    }
    None
}

/// `rnds-drop new-ledger`: the explicit fresh start. Takes the lock (the
/// service must be stopped), keeps whatever ledger files exist aside as
/// `<ledger>.descartado-<AAAAMMDDTHHMMSS>`, creates an empty ledger and
/// returns where the old one went.
pub fn start_new_ledger(config: &Config) -> Result<Option<PathBuf>, ServiceError> {
    if let Some(settings) = &config.ledger.postgres {
        return Err(LedgerError::PostgresNoFreshStart {
            target: settings.shown.clone(),
        }
        .into());
    }
    let path = &config.ledger.path;
    let mut lock = prepare_ledger_dir(path)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let aside = Ledger::start_fresh(path, &stamp)?;
    mark(&mut lock, path)?;
    Ok(aside)
}

/// What `init-ledger` found or did.
#[derive(Debug)]
pub enum LedgerInit {
    /// The configuration names a SQLite file: `run` creates it.
    Sqlite(PathBuf),
    /// The database already holds a ledger; nothing was changed.
    AlreadyThere(String),
    /// The ledger was created in this database (`user@host:port/db`).
    Created(String),
    /// Without `--confirm`: where it would be created, nothing done.
    WouldCreate(String),
}

/// `rnds-drop init-ledger`: the explicit creation of a PostgreSQL ledger
/// in an empty database (a new lab's first start). Refused, like `run`,
/// where the folders show earlier sends; `confirm` false only says where.
pub fn init_ledger(config: &Config, confirm: bool) -> Result<LedgerInit, ServiceError> {
    let Some(settings) = &config.ledger.postgres else {
        return Ok(LedgerInit::Sqlite(config.ledger.path.clone()));
    };
    let target = PgTarget::from_config(settings)?;
    let shown = target.shown().to_owned();
    if database_has_ledger(config, &target)? {
        return Ok(LedgerInit::AlreadyThere(shown));
    }
    if !confirm {
        return Ok(LedgerInit::WouldCreate(shown));
    }
    drop(Ledger::open_postgres(&target).map_err(busy_as_service)?);
    Ok(LedgerInit::Created(shown))
}

/// `rnds-drop migrate-ledger`: copies the SQLite ledger `from` into the
/// empty PostgreSQL database `to` (password from `password_env` or
/// `password_file`), holding both ledgers' locks so that no service
/// writes either meanwhile. Returns the rows copied per table.
pub fn migrate_ledger(
    from: &Path,
    to: &crate::config::PostgresLedger,
) -> Result<Vec<(&'static str, u64)>, ServiceError> {
    let target = PgTarget::from_config(to)?;
    let _sqlite_lock = prepare_ledger_dir(from)?;
    crate::ledger::migrate::sqlite_to_postgres(from, &target).map_err(busy_as_service)
}
