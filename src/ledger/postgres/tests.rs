//! What only the PostgreSQL backend does: its identity row, its process
//! lock, calls from inside a tokio runtime, a server restart.

use super::super::{FileId, Ledger, LedgerError, NewFile};
use super::{PgProcessLock, PgTarget};
use crate::test_pg;

fn new_target() -> PgTarget {
    let cluster = test_pg::cluster().unwrap();
    PgTarget::new(&cluster.url(&cluster.create_database().unwrap()), None).unwrap()
}

fn a_file(ledger: &mut Ledger) -> FileId {
    ledger
        .record_file(&NewFile {
            sha256: "aa",
            name: "exames.csv",
            inbox: std::path::Path::new("/srv/entrada"),
            work_path: std::path::Path::new("/srv/entrada/.rnds-drop/processando/exames.csv"),
        })
        .unwrap()
}

#[test]
fn a_database_whose_identity_row_was_deleted_is_refused_not_recreated() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    a_file(&mut ledger);
    ledger.execute_sql("DELETE FROM rnds_drop_ledger");
    drop(ledger);
    let err = Ledger::open_postgres(&target).err().unwrap();
    assert!(
        matches!(err, LedgerError::PostgresIncomplete { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("não renumere"), "{err}");
    assert!(super::ledger_exists(&target).unwrap());
}

/// `run` and `send` open with `open_postgres_existing`: an empty database
/// is refused and left empty (only `init-ledger` creates the ledger).
#[test]
fn an_empty_database_is_not_made_a_ledger_by_open_existing() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let err = Ledger::open_postgres_existing(&target).err().unwrap();
    assert!(
        matches!(err, LedgerError::PostgresNotCreated { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(target.shown()), "{err}");
    assert!(!super::ledger_exists(&target).unwrap());
    drop(Ledger::open_postgres(&target).unwrap());
    assert!(Ledger::open_postgres_existing(&target).is_ok());
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    ledger.execute_sql("UPDATE rnds_drop_ledger SET schema_version = schema_version + 1");
    drop(ledger);
    let err = Ledger::open_postgres(&target).err().unwrap();
    assert!(
        matches!(err, LedgerError::PostgresNewerSchema { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("atualize o rnds-drop"), "{err}");
}

#[test]
fn the_key_of_the_patient_hashes_is_kept_across_openings() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let first = Ledger::open_postgres(&target)
        .unwrap()
        .identity("786570704999622", "94309-2");
    let again = Ledger::open_postgres(&target)
        .unwrap()
        .identity("786570704999622", "94309-2");
    let other = Ledger::open_postgres(&new_target())
        .unwrap()
        .identity("786570704999622", "94309-2");
    assert_eq!(first, again);
    assert_ne!(first.subject_hash, other.subject_hash);
}

#[test]
fn a_second_process_lock_on_the_same_database_is_refused_until_the_first_ends() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let first = PgProcessLock::take(&target).unwrap();
    assert!(first.is_some());
    assert!(PgProcessLock::take(&target).unwrap().is_none());
    drop(first);
    assert!(PgProcessLock::take(&target).unwrap().is_some());
}

/// The blocking client panics when called on a runtime thread; the
/// service calls the ledger from async code (through `service::blocking`,
/// and directly between awaits).
#[test]
fn the_ledger_is_usable_from_inside_both_kinds_of_tokio_runtime() {
    if !test_pg::available() {
        return;
    }
    let target = new_target();
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut ledger = current.block_on(async { Ledger::open_postgres(&target).unwrap() });
    let file = current.block_on(async { a_file(&mut ledger) });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (ledger, found) = multi.block_on(async move {
        tokio::spawn(async move {
            let found = crate::service::blocking(|| ledger.file(file).unwrap());
            (ledger, found)
        })
        .await
        .unwrap()
    });
    assert_eq!(found.unwrap().name, "exames.csv");
    // Dropped on a runtime thread too.
    current.block_on(async move { drop(ledger) });
}

/// `pg_ctl restart` cuts every connection: the call that meets the cut
/// fails (nothing of it is kept), the next one connects again.
#[test]
fn after_a_server_restart_the_next_call_connects_again() {
    if !test_pg::available() {
        return;
    }
    let cluster = test_pg::start_own().unwrap();
    let target = PgTarget::new(&cluster.url(&cluster.create_database().unwrap()), None).unwrap();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    let file = a_file(&mut ledger);
    cluster.restart().unwrap();
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(ledger.file(file).map(|f| f.map(|f| f.name)));
    }
    assert_eq!(
        results.last().unwrap().as_ref().unwrap().as_deref(),
        Some("exames.csv"),
        "{results:?}"
    );
}

/// A stopped server is a lost connection (the service backs off as in an
/// RNDS outage), for the call that meets the cut and for those that
/// cannot connect; once it is back the next call works.
#[test]
fn a_stopped_server_is_a_lost_connection_until_it_is_back() {
    if !test_pg::available() {
        return;
    }
    let cluster = test_pg::start_own().unwrap();
    let target = PgTarget::new(&cluster.url(&cluster.create_database().unwrap()), None).unwrap();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    let file = a_file(&mut ledger);
    cluster.stop().unwrap();
    for _ in 0..2 {
        let err = ledger.file(file).err().unwrap();
        assert!(err.is_connection_lost(), "{err:?}");
    }
    cluster.start().unwrap();
    assert!(ledger.file(file).unwrap().is_some());
}

/// Review 2 item 1: the process lock lives on the ledger's own
/// connection, so a restart that cuts it cannot leave the ledger
/// connected without it: the reconnect takes it again, and a second
/// process is refused before and after.
#[test]
fn after_a_server_restart_the_ledger_still_holds_the_process_lock() {
    if !test_pg::available() {
        return;
    }
    let cluster = test_pg::start_own().unwrap();
    let target = PgTarget::new(&cluster.url(&cluster.create_database().unwrap()), None).unwrap();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    let file = a_file(&mut ledger);
    assert!(
        PgProcessLock::take(&target).unwrap().is_none(),
        "a second process took the ledger while the first runs"
    );
    cluster.restart().unwrap();
    for _ in 0..2 {
        let _ = ledger.file(file);
    }
    assert!(ledger.file(file).is_ok());
    assert!(
        PgProcessLock::take(&target).unwrap().is_none(),
        "a second process took the ledger after the restart while the first still runs"
    );
    let second = Ledger::open_postgres(&target).err();
    assert!(
        matches!(second, Some(LedgerError::PostgresBusy { .. })),
        "{second:?}"
    );
}

/// When another process took the lock while the connection was cut, the
/// reconnected ledger refuses every call (busy) instead of using the
/// ledger beside it: nothing is recorded, so nothing is sent.
#[test]
fn a_ledger_whose_lock_was_taken_during_a_restart_refuses_every_call() {
    if !test_pg::available() {
        return;
    }
    let cluster = test_pg::start_own().unwrap();
    let target = PgTarget::new(&cluster.url(&cluster.create_database().unwrap()), None).unwrap();
    let mut ledger = Ledger::open_postgres(&target).unwrap();
    let file = a_file(&mut ledger);
    cluster.restart().unwrap();
    let other = PgProcessLock::take(&target).unwrap();
    assert!(other.is_some());
    for _ in 0..2 {
        let err = ledger.file(file).err();
        assert!(
            matches!(
                err,
                Some(LedgerError::PostgresBusy { .. } | LedgerError::Postgres(_))
            ),
            "{err:?}"
        );
    }
    let err = ledger.file(file).err();
    assert!(
        matches!(err, Some(LedgerError::PostgresBusy { .. })),
        "{err:?}"
    );
    // Busy is not an outage: the service does not hurry back to it.
    assert!(!err.unwrap().is_connection_lost());
    drop(other);
    assert!(ledger.file(file).is_ok(), "the lock is free again");
}

#[test]
fn a_password_in_the_url_is_refused_without_repeating_it() {
    let err = PgTarget::new("postgres://rnds:s3nh4-do-lab@db.local:5432/rnds", None)
        .err()
        .unwrap();
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains("s3nh4"), "{err}");
    let target = PgTarget::new("postgres://rnds@db.local:5433/rnds", Some("s3nh4".into())).unwrap();
    assert_eq!(target.shown(), "postgres://rnds@db.local:5433/rnds");
    assert!(!format!("{target:?}").contains("s3nh4"));
}

/// A CA and a server certificate for 127.0.0.1 it signed: (CA, cert, key) PEM.
#[cfg(unix)]
fn server_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[cfg(unix)]
fn uses_tls(target: &PgTarget) -> Result<bool, LedgerError> {
    let mut client = target.connect()?;
    let row = client.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )?;
    Ok(row.try_get(0)?)
}

/// With `ca_file` the connection is TLS, verified: the lab's CA is
/// accepted, another CA is refused (nothing falls back to plain TCP).
#[cfg(unix)]
#[test]
fn with_the_labs_ca_the_connection_is_tls_and_another_ca_is_refused() {
    if !test_pg::available() {
        return;
    }
    let cluster = test_pg::start_own().unwrap();
    let (ca, cert, key) = server_pki();
    cluster.enable_tls(&cert, &key).unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let other_ca_file = dir.path().join("outra-ca.pem");
    std::fs::write(&other_ca_file, server_pki().0).unwrap();

    let plain = PgTarget::new(&url, None).unwrap();
    assert!(!uses_tls(&plain).unwrap());
    let tls = PgTarget::new(&url, None)
        .unwrap()
        .with_ca(&ca_file)
        .unwrap();
    assert!(uses_tls(&tls).unwrap());
    let mut ledger = Ledger::open_postgres(&tls).unwrap();
    a_file(&mut ledger);
    let wrong = PgTarget::new(&url, None)
        .unwrap()
        .with_ca(&other_ca_file)
        .unwrap();
    let err = uses_tls(&wrong).err().unwrap();
    assert!(matches!(err, LedgerError::PostgresConnect { .. }), "{err}");
}
