//! Several instances on one inbox (`[ledger] instance`), the real binary
//! against the simulator, one PostgreSQL ledger: the files of a killed
//! instance are taken over by another after their lease; a file held by
//! a live instance is never taken (its heartbeat renews the lease);
//! every row reaches RNDS once and every file gets one report set.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, Faults, SimOptions};

use crate::daemon::{export, json, stored, summaries};
use crate::pg_cluster;

/// A copy of `base` as instance `name` on `url`, leases of `lease_s`
/// renewed every second; `rnds` keys added to `[rnds]`; `/metrics` and
/// `/healthz` on `metrics` when given.
fn instance_config(
    base: &Path,
    url: &str,
    name: &str,
    lease_s: i64,
    rnds: &[(&str, i64)],
    metrics: Option<SocketAddr>,
) -> PathBuf {
    let mut table: toml::Table = std::fs::read_to_string(base).unwrap().parse().unwrap();
    let mut ledger = toml::Table::new();
    ledger.insert("url".into(), toml::Value::String(url.into()));
    ledger.insert("instance".into(), toml::Value::String(name.into()));
    ledger.insert("heartbeat_s".into(), toml::Value::Integer(1));
    ledger.insert("lease_s".into(), toml::Value::Integer(lease_s));
    table.insert("ledger".into(), toml::Value::Table(ledger));
    if let (Some(addr), Some(toml::Value::Table(service))) = (metrics, table.get_mut("service")) {
        service.insert(
            "metrics_listen".into(),
            toml::Value::String(addr.to_string()),
        );
    }
    if let Some(toml::Value::Table(section)) = table.get_mut("rnds") {
        for (key, value) in rnds {
            section.insert((*key).into(), toml::Value::Integer(*value));
        }
    }
    let path = base.with_file_name(format!("rnds-drop-{name}.toml"));
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

/// The service as instance `config`, its log in `log` (a file: a pipe
/// nobody reads would fill and block it).
fn start(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the rnds-drop binary starts")
}

/// Rows of `sql` as text (`NULL` as empty), on a thread of its own: the
/// blocking client may not run on a runtime thread.
fn query(url: &str, sql: &str) -> Vec<Vec<String>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) else {
            return Vec::new();
        };
        let Ok(messages) = client.simple_query(&sql) else {
            return Vec::new();
        };
        messages
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("").to_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    })
    .join()
    .unwrap()
}

/// Waits (bounded) until `done` gives `Some`; the logs say why on failure.
async fn wait_for<T>(
    within: Duration,
    what: &str,
    logs: &[&Path],
    mut done: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = done() {
            return found;
        }
        if Instant::now() > deadline {
            let tails: Vec<String> = logs
                .iter()
                .map(|log| {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let start = text.len().saturating_sub(3000);
                    format!(
                        "--- {}:\n{}",
                        log.display(),
                        text.get(start..).unwrap_or(&text)
                    )
                })
                .collect();
            panic!("{what}: not after {within:?}\n{}", tails.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A loopback address with a port free right now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` on `addr`: the status code and the body.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// A file `instance` holds with at least `rows` rows recorded: its id.
fn held_with_rows(url: &str, instance: &str, rows: u32) -> Option<String> {
    query(
        url,
        &format!(
            "SELECT f.id FROM files f WHERE f.owner = '{instance}' AND f.state = 'processing'
               AND f.lease_until > now()
               AND (SELECT COUNT(*) FROM results r WHERE r.file_id = f.id) >= {rows}
             ORDER BY f.id LIMIT 1"
        ),
    )
    .pop()
    .map(|row| row[0].clone())
}

fn owner_of(url: &str, file_id: &str) -> String {
    query(
        url,
        &format!("SELECT owner FROM files WHERE id = {file_id}"),
    )
    .pop()
    .map(|row| row[0].clone())
    .unwrap_or_default()
}

/// 3 instances, 20 files of 500 rows, 5 % of answers lost; instance `c`
/// is SIGKILLed while it holds a file, restarted once that file was taken
/// over, and SIGKILLed again while it holds another (not restarted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_three_instances_one_killed_twice_send_every_row_once() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::cluster().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        faults: Faults {
            lost_answer_rate: 0.05,
            ..Faults::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    const FILES: usize = 20;
    const ROWS: usize = 500;
    for f in 1..=FILES {
        let file = export(&format!("MI{f:02}"), ROWS, &[]);
        drop_file(&ws.inbox, &format!("lote{f:02}.csv"), file.as_bytes()).unwrap();
    }
    let names = ["a", "b", "c"];
    let metrics: Vec<SocketAddr> = names.iter().map(|_| free_addr()).collect();
    let configs: Vec<PathBuf> = names
        .iter()
        .zip(&metrics)
        .map(|(n, addr)| instance_config(&ws.config_path, &url, n, 3, &[], Some(*addr)))
        .collect();
    let logs: Vec<PathBuf> = names
        .iter()
        .map(|n| tmp.path().join(format!("{n}.log")))
        .collect();
    let log_refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    // The ledger is created once, explicitly; the first instance is up
    // before the others join it.
    crate::postgres_ledger::init_ledger(&configs[0]);
    let mut a = start(&configs[0], &logs[0]);
    wait_for(Duration::from_secs(60), "instance a up", &log_refs, || {
        (!query(&url, "SELECT name FROM instances").is_empty()).then_some(())
    })
    .await;
    let mut b = start(&configs[1], &logs[1]);
    let mut c = start(&configs[2], &logs[2]);

    let first = wait_for(
        Duration::from_secs(120),
        "c holds a file with rows sent",
        &log_refs,
        || held_with_rows(&url, "c", 20),
    )
    .await;
    c.kill().unwrap();
    c.wait().unwrap();
    let killed_at = Instant::now();
    let taker = wait_for(
        Duration::from_secs(60),
        "c's file taken over",
        &log_refs,
        || Some(owner_of(&url, &first)).filter(|o| o != "c" && !o.is_empty()),
    )
    .await;
    // A figure for the log, never asserted (lease_s 3, heartbeat_s 1).
    eprintln!(
        "take-over of c's file by {taker} {:?} after the kill",
        killed_at.elapsed()
    );
    // Restarted only now: its file is another's, not resumed by it.
    let mut c = start(&configs[2], &logs[2]);
    let second = wait_for(
        Duration::from_secs(120),
        "c holds another file with rows sent",
        &log_refs,
        || held_with_rows(&url, "c", 20).filter(|id| *id != first),
    )
    .await;
    c.kill().unwrap();
    c.wait().unwrap();
    // c's death shows in a's `/metrics` once its lease ran out; a's
    // `/healthz` judges only a.
    let a_metrics = wait_for(
        Duration::from_secs(60),
        "c shown dead by a's /metrics",
        &log_refs,
        || {
            get(metrics[0], "/metrics")
                .map(|(_, body)| body)
                .filter(|body| body.contains("rnds_drop_instance_up{instance=\"c\"} 0"))
        },
    )
    .await;
    assert!(
        a_metrics.contains("rnds_drop_instance_up{instance=\"a\"} 1"),
        "{a_metrics}"
    );
    assert!(
        a_metrics.contains("rnds_drop_instance_heartbeat_age_seconds{instance=\"b\"}"),
        "{a_metrics}"
    );
    let (code, body) = get(metrics[0], "/healthz").unwrap();
    assert_eq!(code, 200, "{body}");
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--json", "--config"])
        .arg(&configs[0])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let instances = status["ledger"]["instances"].as_array().unwrap();
    let shown: Vec<(&str, bool)> = instances
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["alive"].as_bool().unwrap()))
        .collect();
    assert_eq!(shown, [("a", true), ("b", true), ("c", false)], "{status}");
    let text = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["status", "--config"])
        .arg(&configs[1])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("c · sem sinal de vida"), "{text}");
    assert!(text.contains("a · ativa"), "{text}");

    let stems: Vec<String> = (1..=FILES).map(|f| format!("lote{f:02}")).collect();
    wait_for(
        Duration::from_secs(300),
        "a report set for every file",
        &log_refs,
        || {
            assert!(a.try_wait().unwrap().is_none(), "instance a exited");
            assert!(b.try_wait().unwrap().is_none(), "instance b exited");
            stems
                .iter()
                .all(|s| !summaries(&ws.outbox, s).is_empty())
                .then_some(())
        },
    )
    .await;
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();

    let by_id = stored(&sim, "MI");
    assert_eq!(by_id.len(), FILES * ROWS, "rows missing at RNDS");
    let twice: Vec<_> = by_id.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    for stem in &stems {
        let sets = summaries(&ws.outbox, stem);
        assert_eq!(sets.len(), 1, "{stem}: {sets:?}");
        let s = json(&sets[0]);
        let sent = s["rows_sent"].as_u64().unwrap() + s["rows_already_sent"].as_u64().unwrap();
        assert_eq!(sent, ROWS as u64, "{stem}: {s}");
    }
    for id in [&first, &second] {
        let row = query(
            &url,
            &format!("SELECT owner, state FROM files WHERE id = {id}"),
        );
        assert_eq!(row[0][1], "processed", "file {id}: {row:?}");
        assert_ne!(row[0][0], "c", "file {id} never taken over: {row:?}");
    }
    assert_ne!(taker, "c");
    let takeovers: usize = logs
        .iter()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap_or_default()
                .matches("arquivo assumido de uma instância")
                .count()
        })
        .sum();
    assert!(takeovers >= 2, "{takeovers} take-overs logged");
    sim.shutdown().await;
}

/// A file held by a live instance is never taken by another: its
/// heartbeat renews the lease well past `lease_s` while the file is slow
/// (one request at a time, 250 ms each). A second process with the
/// same instance name is refused, and so is a lone `send`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_live_instance_keeps_its_file_past_the_lease() {
    if !pg_cluster::available() {
        return;
    }
    let cluster = pg_cluster::cluster().unwrap();
    let url = cluster.url(&cluster.create_database().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        faults: Faults {
            latency_ms: 250,
            ..Faults::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, _) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    drop_file(&ws.inbox, "lento.csv", export("LV", 60, &[]).as_bytes()).unwrap();
    let slow = [("fixed_in_flight", 1)];
    let a_config = instance_config(&ws.config_path, &url, "a", 3, &slow, None);
    let b_config = instance_config(&ws.config_path, &url, "b", 3, &slow, None);
    let (a_log, b_log) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
    let logs = [a_log.as_path(), b_log.as_path()];
    crate::postgres_ledger::init_ledger(&a_config);
    let mut a = start(&a_config, &a_log);
    let held = wait_for(Duration::from_secs(60), "a holds the file", &logs, || {
        query(
            &url,
            "SELECT id FROM files WHERE owner = 'a' AND state = 'processing'",
        )
        .pop()
        .map(|row| row[0].clone())
    })
    .await;
    let mut b = start(&b_config, &b_log);
    // A second process with a's name is refused (its name's lock).
    let twin = crate::daemon::exited(
        crate::daemon::service(&a_config, &[]),
        Duration::from_secs(60),
    );
    assert_eq!(
        twin.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&twin.stderr)
    );
    // So is a lone process (`send`, no instance name) on the same database.
    let mut lone: toml::Table = std::fs::read_to_string(&ws.config_path)
        .unwrap()
        .parse()
        .unwrap();
    let mut ledger = toml::Table::new();
    ledger.insert("url".into(), toml::Value::String(url.clone()));
    lone.insert("ledger".into(), toml::Value::Table(ledger));
    let lone_config = tmp.path().join("sozinho.toml");
    std::fs::write(&lone_config, toml::to_string(&lone).unwrap()).unwrap();
    let lone_dir = tmp.path().join("avulso");
    std::fs::create_dir_all(&lone_dir).unwrap();
    let lone_file = lone_dir.join("avulso.csv");
    std::fs::write(&lone_file, export("SN", 2, &[])).unwrap();
    let sent = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["send", "--config"])
        .arg(&lone_config)
        .arg("--out")
        .arg(&lone_dir)
        .arg(&lone_file)
        .output()
        .unwrap();
    assert_eq!(
        sent.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(stored(&sim, "SN-").is_empty());
    let lease = |id: &str| -> f64 {
        query(
            &url,
            &format!(
                "SELECT EXTRACT(EPOCH FROM lease_until) FROM files
                 WHERE id = {id} AND state = 'processing'"
            ),
        )
        .pop()
        .and_then(|row| row[0].parse().ok())
        .unwrap_or(0.0)
    };
    let first_lease = lease(&held);
    // Still being sent when the first lease has long run out (the
    // database's clock): renewed, never taken.
    wait_for(
        Duration::from_secs(60),
        "the lease renewed past its first expiry",
        &logs,
        || {
            let now: f64 = query(&url, "SELECT EXTRACT(EPOCH FROM now())")[0][0]
                .parse()
                .unwrap();
            (now > first_lease + 3.0).then_some(())
        },
    )
    .await;
    assert_eq!(owner_of(&url, &held), "a", "taken from a live instance");
    assert!(
        lease(&held) > first_lease + 3.0,
        "the file was finished before its first lease ran out: the test proves nothing"
    );
    wait_for(Duration::from_secs(120), "the report", &logs, || {
        assert!(a.try_wait().unwrap().is_none(), "instance a exited");
        assert!(b.try_wait().unwrap().is_none(), "instance b exited");
        (!summaries(&ws.outbox, "lento").is_empty()).then_some(())
    })
    .await;
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    assert_eq!(owner_of(&url, &held), "a", "taken from a live instance");
    let by_id = stored(&sim, "LV-");
    assert_eq!(by_id.len(), 60);
    assert!(by_id.values().all(|n| *n == 1), "stored twice: {by_id:?}");
    assert_eq!(summaries(&ws.outbox, "lento").len(), 1);
    let b_text = std::fs::read_to_string(&b_log).unwrap();
    assert!(!b_text.contains("arquivo assumido"), "{b_text}");
    sim.shutdown().await;
}
