//! The two real processes of a seed: `rnds-drop simulate` (restarted on
//! the same port for each fault phase) and `rnds-drop run` (killed and
//! restarted as the plan says), with their logs in the seed's folder.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::faults::SimFaults;

/// The release binary cargo built for this bench, or `RNDS_DROP_CHAOS_BINARY`
/// (a copy, so a long run keeps testing one build while the tree is rebuilt).
pub(crate) fn binary() -> String {
    std::env::var("RNDS_DROP_CHAOS_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_rnds-drop").to_owned())
}

/// A free loopback port (bound, read, released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub(crate) struct Simulator {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    child: Option<Child>,
    starts: u32,
}

impl Simulator {
    pub(crate) fn new(dir: PathBuf, port: u16) -> Simulator {
        Simulator {
            dir,
            port,
            child: None,
            starts: 0,
        }
    }

    /// Starts it with `faults` and waits until it accepts connections.
    pub(crate) fn start(&mut self, faults: &SimFaults) {
        self.starts += 1;
        let log = File::create(self.dir.with_extension(format!("{}.log", self.starts)))
            .expect("simulator log");
        let child = Command::new(binary())
            .arg("simulate")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--dir")
            .arg(&self.dir)
            .args(faults.args())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rnds-drop simulate starts");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "the simulator did not listen");
            sleep(Duration::from_millis(20));
        }
    }

    /// Stops it at once (its documents are on disk, line by line).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn documents_file(&self) -> PathBuf {
        self.dir.join("documents.jsonl")
    }

    /// Documents stored so far (complete lines of its store).
    pub(crate) fn document_count(&self) -> u64 {
        std::fs::read(self.documents_file())
            .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
            .unwrap_or(0)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) struct Service {
    config: PathBuf,
    logs: PathBuf,
    child: Option<Child>,
    pub(crate) starts: u32,
    started_at: Instant,
    log_path: PathBuf,
}

impl Service {
    pub(crate) fn new(config: PathBuf, logs: PathBuf) -> Service {
        Service {
            config,
            logs,
            child: None,
            starts: 0,
            started_at: Instant::now(),
            log_path: PathBuf::new(),
        }
    }

    pub(crate) fn start(&mut self) {
        self.starts += 1;
        self.log_path = self.logs.join(format!("servico-{}.log", self.starts));
        let log = File::create(&self.log_path).expect("service log");
        let child = Command::new(binary())
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rnds-drop run starts");
        self.child = Some(child);
        self.started_at = Instant::now();
    }

    pub(crate) fn uptime_ms(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    /// This start's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether it exited by itself, and how.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL, or SIGTERM and up to 20 s for a clean stop (then SIGKILL).
    /// Returns the exit status of a SIGTERM stop.
    pub(crate) fn stop(&mut self, sigkill: bool) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if sigkill {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        terminate(&child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop(true);
    }
}

fn terminate(child: &Child) {
    use rustix::process::{kill_process, Pid, Signal};
    let _ = kill_process(Pid::from_child(child), Signal::TERM);
}

/// The lab's configuration, written by the harness (not generated by the
/// code under test): the simulator's credentials, one inbox, short timings.
pub(crate) fn write_config(path: &Path, sim_dir: &Path, port: u16, settle_ms: u64) {
    let p = |name: &str| sim_dir.join(name).display().to_string();
    let text = format!(
        r#"[lab]
cnes = "2337991"
requester_id = "31415"
requester_cns = "162534432180007"
timezone = "America/Sao_Paulo"
uf = "SP"

[rnds]
environment = "simulador"
certificate = "{pfx}"
certificate_password_file = "{password}"
extra_ca = "{ca}"
auth_url = "https://127.0.0.1:{port}"
ehr_url = "https://127.0.0.1:{port}"
max_in_flight = 4
timeout_s = 1
max_retries = 2
backoff_base_ms = 50
backoff_max_ms = 400

[defaults]
category = "0202"
method = "RT-PCR em tempo real"
reference_range = "Não detectável"
exam_code = "94309-2"
specimen = "SWNAFA"

[defaults.exams."94309-2"]
method = "RT-PCR em tempo real"
reference_range = "Não detectável"
category = "0202"

[defaults.exams."94558-4"]
method = "Imunocromatografia (teste rápido de antígeno)"
reference_range = "Não reagente"
category = "0214"

[[inbox]]
path = "entrada"
outbox = "saida"
mode = "watch"
settle_ms = {settle_ms}

[ledger]
path = "rnds-drop.sqlite"

[service]
scan_interval_s = 1
pending_report_after_s = 5
shutdown_grace_s = 2
"#,
        pfx = p("lab.pfx"),
        password = p("lab.pfx.senha"),
        ca = p("ca.pem"),
    );
    std::fs::write(path, text).expect("config written");
}
