//! A throwaway PostgreSQL cluster for the tests of the PostgreSQL ledger,
//! shared by the unit tests (`src/lib.rs` includes this file) and the
//! integration tests: `initdb` + `pg_ctl` in a temporary folder, on a free
//! loopback port, trust authentication, one per test process, started on
//! first use. The server refuses to run as root, so as root (CI) it runs
//! as the `postgres` account Debian's package creates (`runuser`).
//!
//! A watchdog shell stops the cluster and deletes its folder within a
//! second of the test process's exit (statics are never dropped).
//!
//! Without a server: [`available`] prints a visible SKIPPED line and the
//! test returns; with `CI` set it fails instead (`.ci/run` installs
//! Debian's `postgresql`).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The superuser `initdb` creates (whatever account runs the server).
pub const SUPERUSER: &str = "rnds";

/// A running cluster.
#[derive(Debug)]
pub struct PgCluster {
    pub port: u16,
    /// Its folder (data, socket, log).
    pub dir: PathBuf,
    /// `runuser -u postgres --` as root, nothing otherwise.
    run_as: Vec<String>,
    bin: PathBuf,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// The shared cluster, started on first use; `Err` says why none runs.
pub fn cluster() -> Result<&'static PgCluster, String> {
    CLUSTER.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// `true` when the cluster runs. Otherwise prints `SKIPPED <test>: <why>`
/// (or panics when `CI` is set) and returns `false`.
pub fn available() -> bool {
    match cluster() {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: no PostgreSQL server could be started: {why}"
            );
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("(test)");
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}: no PostgreSQL server could be started ({why})"
            );
            false
        }
    }
}

/// A cluster of the caller's own (for a test that restarts it), or why
/// none could be started.
pub fn start_own() -> Result<PgCluster, String> {
    start()
}

impl PgCluster {
    /// `postgres://rnds@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database with a name of its own.
    pub fn create_database(&self) -> Result<String, String> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // On a thread of its own: the blocking client panics when called
        // from a test that runs inside a tokio runtime.
        let url = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .map_err(|e| format!("connect: {e}"))?;
            client
                .batch_execute(&sql)
                .map_err(|e| format!("CREATE DATABASE: {e}"))
        })
        .join()
        .map_err(|_| "CREATE DATABASE panicked".to_owned())??;
        Ok(name)
    }

    /// Turns TLS on with this server certificate and key (PEM): written
    /// into the cluster's folder, owned by the server's account, mode 0600,
    /// then `ALTER SYSTEM` and a reload.
    #[cfg(unix)]
    pub fn enable_tls(&self, cert_pem: &str, key_pem: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.dir.join("server.crt");
        let key = self.dir.join("server.key");
        for (path, text) in [(&cert, cert_pem), (&key, key_pem)] {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if !self.run_as.is_empty() {
                run(
                    &[],
                    Path::new("chown"),
                    &["postgres".into(), path.display().to_string()],
                )?;
            }
        }
        let url = self.url("postgres");
        let statements = [
            format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert.display()),
            format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display()),
            "ALTER SYSTEM SET ssl = on".to_owned(),
            "SELECT pg_reload_conf()".to_owned(),
        ];
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .map_err(|e| format!("connect: {e}"))?;
            for sql in &statements {
                client
                    .batch_execute(sql)
                    .map_err(|e| format!("{sql}: {e}"))?;
            }
            Ok::<(), String>(())
        })
        .join()
        .map_err(|_| "enable_tls panicked".to_owned())?
    }

    /// `pg_ctl restart` (fast shutdown): every connection is cut.
    pub fn restart(&self) -> Result<(), String> {
        self.pg_ctl(&["restart", "-m", "fast"])
    }

    /// `pg_ctl stop` (fast shutdown): every connection is cut and the
    /// server stays down until [`PgCluster::start`].
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "fast"])
    }

    /// `pg_ctl start` after [`PgCluster::stop`].
    pub fn start(&self) -> Result<(), String> {
        self.pg_ctl(&["start"])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let data = self.dir.join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let mut all: Vec<String> = vec![
            "-D".into(),
            data.display().to_string(),
            "-o".into(),
            options,
            "-l".into(),
            self.dir.join("log").display().to_string(),
            "-w".into(),
            "-t".into(),
            "60".into(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        run(&self.run_as, &self.bin.join("pg_ctl"), &all)
    }
}

#[cfg(unix)]
fn start() -> Result<PgCluster, String> {
    let bin = find_bin()?;
    let root = rustix::process::geteuid().is_root();
    let run_as: Vec<String> = if root {
        let account = Command::new("id")
            .args(["-u", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !account.is_ok_and(|s| s.success()) {
            return Err("running as root and there is no `postgres` account".into());
        }
        ["runuser", "-u", "postgres", "--"]
            .map(String::from)
            .to_vec()
    } else {
        Vec::new()
    };
    let dir = std::env::temp_dir().join(format!(
        "rnds-drop-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    run(&run_as, Path::new("mkdir"), &[dir.display().to_string()])?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    let cluster = PgCluster {
        port,
        dir,
        run_as,
        bin,
    };
    watchdog(&cluster)?;
    run(
        &cluster.run_as,
        &cluster.bin.join("initdb"),
        &[
            "-D".into(),
            cluster.dir.join("data").display().to_string(),
            "-U".into(),
            SUPERUSER.into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
        ],
    )?;
    cluster.pg_ctl(&["start"])?;
    Ok(cluster)
}

#[cfg(not(unix))]
fn start() -> Result<PgCluster, String> {
    Err("the test cluster is started on unix only".into())
}

/// `initdb` and `pg_ctl`: on PATH, else Debian's /usr/lib/postgresql/<n>/bin.
fn find_bin() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    });
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (no initdb)".to_owned())?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((n, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "PostgreSQL is not installed (no initdb)".into())
}

/// Stops the cluster and removes its folder once this process is gone.
fn watchdog(cluster: &PgCluster) -> Result<(), String> {
    let prefix = cluster.run_as.join(" ");
    let script = format!(
        "while kill -0 \"$0\" 2>/dev/null; do sleep 1; done; \
         {prefix} '{bin}/pg_ctl' -D '{dir}/data' stop -m immediate >/dev/null 2>&1; \
         rm -rf '{dir}'",
        bin = cluster.bin.display(),
        dir = cluster.dir.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("watchdog: {e}"))
}

fn run(run_as: &[String], program: &Path, args: &[String]) -> Result<(), String> {
    let mut command = match run_as.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
