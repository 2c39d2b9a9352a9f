//! The service on a PostgreSQL ledger (`[ledger] url`), the real binary
//! against the simulator: a file is sent once; after a SIGKILL and a
//! restart, the same file dropped again is reported "already sent" and
//! nothing reaches RNDS twice. No SQLite file is created.

use std::path::Path;
use std::time::Duration;

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

use crate::daemon::{export, json, service, stored, summaries, until};
use crate::pg_cluster;

/// Points `[ledger]` of the configuration at `url`.
fn use_postgres(config: &Path, url: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    let mut ledger = toml::Table::new();
    ledger.insert("url".into(), toml::Value::String(url.into()));
    table.insert("ledger".into(), toml::Value::Table(ledger));
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

/// Points `[ledger]` at `url` with its password in the variable `var`.
fn use_postgres_with_password(config: &Path, url: &str, var: &str) {
    use_postgres(config, url);
    let text = std::fs::read_to_string(config).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    table["ledger"]
        .as_table_mut()
        .unwrap()
        .insert("password_env".into(), toml::Value::String(var.into()));
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();
}

/// `rnds-drop <args> --config <config>`, with `env` set.
fn rnds_drop(args: &[&str], config: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"));
    cmd.args(args).arg("--config").arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The explicit creation of the ledger in the empty database of a new lab
/// (`run` refuses to make one, see the test below).
pub(crate) fn init_ledger(config: &Path) {
    let out = rnds_drop(&["init-ledger", "--confirm"], config, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Review finding 2: an empty database (a mistyped url, a database
/// restored empty) is never made a ledger by the service, even with
/// empty folders; `init-ledger --confirm` is the explicit step, after
/// which the service sends. With the folders then showing sends, another
/// empty database is refused as a lost ledger, `init-ledger` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_database_is_refused_until_init_ledger_creates_the_ledger() {
    if !pg_cluster::available() {
        return;
    }
    const SECRET: &str = "senha-do-banco-nunca-mostrada";
    let env = [("RNDS_PG_SENHA", SECRET)];
    let cluster = pg_cluster::cluster().unwrap();
    let database = cluster.create_database().unwrap();
    let url = cluster.url(&database);
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    // SQLite as before: nothing to initialise, no file created by it.
    let out = rnds_drop(&["init-ledger", "--confirm"], &ws.config_path, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!ws.ledger.exists());

    use_postgres_with_password(&ws.config_path, &url, "RNDS_PG_SENHA");
    drop_file(&ws.inbox, "lote.csv", export("PI", 4, &[]).as_bytes()).unwrap();
    let out = crate::daemon::exited(service(&ws.config_path, &env), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let shown = format!("rnds@127.0.0.1:{}/{database}", cluster.port);
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(stderr.contains("init-ledger"), "{stderr}");
    assert!(stderr.contains("confira a url"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert!(stored(&sim, "PI-").is_empty());
    assert!(ws.inbox.join("lote.csv").exists(), "the file was taken");

    // So does `send`.
    let single = tmp.path().join("avulso.csv");
    std::fs::write(&single, export("PS", 2, &[])).unwrap();
    let out_dir = tmp.path().join("saida-send");
    let out = rnds_drop(
        &[
            "send",
            "--out",
            &out_dir.to_string_lossy(),
            &single.to_string_lossy(),
        ],
        &ws.config_path,
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("init-ledger"), "{stderr}");
    assert!(stored(&sim, "PS-").is_empty());

    // `status` says the same (exit 3), without the password.
    let out = rnds_drop(&["status"], &ws.config_path, &env);
    let shown_by_status = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{shown_by_status}");
    assert!(shown_by_status.contains(&shown), "{shown_by_status}");
    assert!(shown_by_status.contains("init-ledger"), "{shown_by_status}");
    assert!(!shown_by_status.contains(SECRET), "{shown_by_status}");

    // Without --confirm: where, what to check, nothing done (exit 3).
    let out = rnds_drop(&["init-ledger"], &ws.config_path, &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains(&shown), "{stdout}");
    assert!(stdout.contains("Nada foi feito"), "{stdout}");
    let out = crate::daemon::exited(service(&ws.config_path, &env), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    let out = rnds_drop(&["init-ledger", "--confirm"], &ws.config_path, &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{out:?}");
    assert!(stdout.contains(&shown), "{stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");
    let mut child = service(&ws.config_path, &env);
    until(&mut child, Duration::from_secs(60), "the report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(stored(&sim, "PI-").len(), 4);
    let out = rnds_drop(&["init-ledger", "--confirm"], &ws.config_path, &env);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("já tem"));

    // The url now names another empty database (a typo): the folders
    // show earlier sends, so neither the service nor init-ledger makes
    // it a ledger.
    let typo = cluster.create_database().unwrap();
    use_postgres_with_password(&ws.config_path, &cluster.url(&typo), "RNDS_PG_SENHA");
    drop_file(&ws.inbox, "lote.csv", export("PI", 4, &[]).as_bytes()).unwrap();
    let out = crate::daemon::exited(service(&ws.config_path, &env), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&typo), "{stderr}");
    assert!(stderr.contains("envios anteriores"), "{stderr}");
    let out = rnds_drop(&["init-ledger", "--confirm"], &ws.config_path, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("envios anteriores"), "{stderr}");
    let by_id = stored(&sim, "PI-");
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_sent_once_and_its_re_drop_after_a_kill_is_already_sent() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::cluster().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    use_postgres(&ws.config_path, &url);
    init_ledger(&ws.config_path);
    let file = export("PG", 6, &[]);

    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut first = service(&ws.config_path, &[]);
    until(&mut first, Duration::from_secs(60), "first report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(stored(&sim, "PG-").len(), 6);
    let s = json(&summaries(&ws.outbox, "lote")[0]);
    assert_eq!(s["rows_sent"], 6, "{s}");
    // `status` reads the database (no SQLite file exists).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--json", "--config"])
        .arg(&ws.config_path)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    assert_eq!(status["ledger"]["rows_accepted"], 6, "{status}");
    assert_eq!(status["ledger"]["accepted_today"], 6, "{status}");
    assert_eq!(
        status["ledger"]["recent_files"][0]["accepted"], 6,
        "{status}"
    );
    assert!(
        status["ledger_path"]
            .as_str()
            .unwrap()
            .starts_with("postgres://"),
        "{status}"
    );

    // The killed process's advisory lock went with its connection: a new
    // service starts, and the same file dropped again is not sent again.
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut second = service(&ws.config_path, &[]);
    until(
        &mut second,
        Duration::from_secs(60),
        "second report",
        || summaries(&ws.outbox, "lote").len() >= 2,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let by_id = stored(&sim, "PG-");
    assert_eq!(by_id.len(), 6);
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    let report = summaries(&ws.outbox, "lote").pop().unwrap();
    let s = json(&report);
    assert_eq!(s["rows_already_sent"], 6, "{s}");
    assert_eq!(s["rows_sent"], 0, "{s}");
    let name = report.to_string_lossy().into_owned();
    let sent = std::fs::read_to_string(name.replace(".resumo.json", ".enviados.csv")).unwrap();
    assert_eq!(sent.matches("já enviado em").count(), 6, "{sent}");
    assert!(!ws.ledger.exists(), "a SQLite ledger was created");
    sim.shutdown().await;
}

/// A second service on the same database is refused (exit 3) while the
/// first runs, as a second one on the same SQLite file is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_on_the_same_database_is_refused() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::cluster().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    use_postgres(&ws.config_path, &url);
    init_ledger(&ws.config_path);
    drop_file(&ws.inbox, "lote.csv", export("PB", 2, &[]).as_bytes()).unwrap();
    let mut first = service(&ws.config_path, &[]);
    until(&mut first, Duration::from_secs(60), "first report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    let out = crate::daemon::exited(service(&ws.config_path, &[]), Duration::from_secs(30));
    first.kill().unwrap();
    first.wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "{stderr}");
    sim.shutdown().await;
}

fn migrate(from: &Path, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["migrate-ledger", "--from"])
        .arg(from)
        .args(["--to", to])
        .output()
        .unwrap()
}

/// A SQLite ledger copied into PostgreSQL keeps what was sent: the
/// service on the copy reports the same file "already sent". A second
/// copy into the now non-empty database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_ledger_copies_a_sqlite_ledger_once_with_its_counts() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::cluster().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    let file = export("MG", 5, &[3]);
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut first = service(&ws.config_path, &[]);
    until(&mut first, Duration::from_secs(60), "first report", || {
        summaries(&ws.outbox, "lote").len() == 1
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(stored(&sim, "MG-").len(), 4);

    let out = migrate(&ws.ledger, &url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("files: 1 linhas"), "{stdout}");
    assert!(stdout.contains("results: 4 linhas"), "{stdout}");
    assert!(stdout.contains("result_history: 4 linhas"), "{stdout}");
    assert!(stdout.contains("invalid_rows: 1 linhas"), "{stdout}");

    // Review 2 item 3: the SQLite file is marked migrated in the same
    // operation; the old configuration (still `path`) is refused, never a
    // second ledger beside the PostgreSQL one.
    let mut old = service(&ws.config_path, &[]);
    let mut code = None;
    for _ in 0..300 {
        code = old.try_wait().unwrap();
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if code.is_none() {
        old.kill().unwrap();
    }
    let out = old.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    assert!(stderr.contains("[ledger] url"), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("novo"), "{stderr}");

    let again = migrate(&ws.ledger, &url);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("foi migrado"), "{stderr}");

    use_postgres(&ws.config_path, &url);
    drop_file(&ws.inbox, "lote.csv", file.as_bytes()).unwrap();
    let mut second = service(&ws.config_path, &[]);
    until(
        &mut second,
        Duration::from_secs(60),
        "second report",
        || summaries(&ws.outbox, "lote").len() >= 2,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let by_id = stored(&sim, "MG-");
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    let s = json(&summaries(&ws.outbox, "lote").pop().unwrap());
    assert_eq!(s["rows_already_sent"], 4, "{s}");
    assert_eq!(s["rows_sent"], 0, "{s}");
    sim.shutdown().await;
}

/// `pg_ctl restart` while the service sends a file: the pass that meets
/// the cut fails and is retried on a new connection; every row reaches
/// RNDS exactly once and the file gets one report set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_file_loses_nothing_and_sends_nothing_twice() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::start_own().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        faults: rnds_drop::simulator::Faults {
            latency_ms: 30,
            ..Default::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    use_postgres(&ws.config_path, &url);
    init_ledger(&ws.config_path);
    drop_file(&ws.inbox, "lote.csv", export("RS", 600, &[]).as_bytes()).unwrap();
    let mut child = service(&ws.config_path, &[]);
    until(
        &mut child,
        Duration::from_secs(60),
        "first rows stored",
        || stored(&sim, "RS-").len() >= 20,
    )
    .await;
    let before = stored(&sim, "RS-").len();
    cluster.restart().unwrap();
    until(&mut child, Duration::from_secs(180), "the report", || {
        !summaries(&ws.outbox, "lote").is_empty()
    })
    .await;
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let by_id = stored(&sim, "RS-");
    assert!(before < 600, "the restart came after the last row");
    assert_eq!(by_id.len(), 600, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    assert_eq!(summaries(&ws.outbox, "lote").len(), 1);
    sim.shutdown().await;
}

/// The service's stderr, read as it comes (a thread of its own).
fn collect_stderr(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// The database stopped (`pg_ctl stop`) while the service sends the
/// first of five files, then started again: the passes that meet it down
/// fail and send nothing (rows whose intent was committed before the cut
/// may still go: they are `sending`, settled by a lookup afterwards; no
/// row without a committed intent does), the files wait and are taken up
/// again soon after the database is back (backing off as in an RNDS
/// outage, not a flat minute); every row reaches RNDS exactly once and
/// each file gets one report set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopped_mid_file_sends_nothing_while_down_and_nothing_twice_after() {
    const FILES: usize = 5;
    const ROWS: usize = 300;
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::start_own().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        faults: rnds_drop::simulator::Faults {
            latency_ms: 30,
            ..Default::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    use_postgres(&ws.config_path, &url);
    init_ledger(&ws.config_path);
    for f in 1..=FILES {
        let rows = export(&format!("PD{f}"), ROWS, &[]);
        drop_file(&ws.inbox, &format!("lote{f}.csv"), rows.as_bytes()).unwrap();
    }
    let mut child = service(&ws.config_path, &[]);
    let stderr = collect_stderr(&mut child);
    let failed_passes = || stderr.lock().unwrap().matches("nova tentativa").count();
    until(
        &mut child,
        Duration::from_secs(60),
        "first rows stored",
        || stored(&sim, "PD").len() >= 20,
    )
    .await;
    cluster.stop().unwrap();
    until(&mut child, Duration::from_secs(30), "a failed pass", || {
        failed_passes() >= 1
    })
    .await;
    let when_down = stored(&sim, "PD").len();
    assert!(when_down < FILES * ROWS, "the stop came after the last row");
    // The service tries again while the database is down (after 1 s,
    // then 2 s): nothing sent.
    until(
        &mut child,
        Duration::from_secs(30),
        "two more failed passes",
        || failed_passes() >= 3,
    )
    .await;
    assert_eq!(stored(&sim, "PD").len(), when_down);
    cluster.start().unwrap();
    let reported = || (1..=FILES).all(|f| !summaries(&ws.outbox, &format!("lote{f}")).is_empty());
    until(&mut child, Duration::from_secs(45), "the reports", reported).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let log = stderr.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
    let by_id = stored(&sim, "PD");
    assert_eq!(by_id.len(), FILES * ROWS, "{log}");
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    for f in 1..=FILES {
        let reports = summaries(&ws.outbox, &format!("lote{f}"));
        assert_eq!(reports.len(), 1, "{log}");
        let s = json(&reports[0]);
        assert_eq!(s["rows_sent"], ROWS, "{s}");
        let name = reports[0].to_string_lossy().into_owned();
        let sent = std::fs::read_to_string(name.replace(".resumo.json", ".enviados.csv")).unwrap();
        // Rows settled after the cut kept their RNDS id (looked up).
        let without_id = sent
            .lines()
            .skip(1)
            .filter(|l| l.split(';').nth(2) == Some(""));
        assert_eq!(without_id.count(), 0, "{sent}");
    }
    sim.shutdown().await;
}
