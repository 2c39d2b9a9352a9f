//! `rnds-drop demo`: the whole product on one machine with no configuration
//! and no network: the simulator in-process, a workspace (inbox, outbox,
//! ledger, config), the example files dropped in the inbox, the service
//! until their reports appear, and a summary of where to look.
//!
//! Invariant: builds a workspace and drives the public pieces (simulator,
//! `service::run`); no logic of its own about rows or sending.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::simulator::{self, SimFiles, SimOptions};

use crate::service::{InternalFailure, ServiceError};

/// The example export shipped with the binary (so the demo works anywhere).
const EXAMPLE_CSV: &[u8] = include_bytes!("../examples/exames.csv");

/// How long the demo waits for the reports before giving up.
const DEMO_DEADLINE: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
/// Why the demo could not run; messages are pt-BR.
pub enum DemoError {
    #[error("não foi possível preparar {path}: {}", crate::io_text::reason(source))]
    /// A workspace file or folder could not be prepared.
    Io {
        /// The file or folder.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error("o simulador não iniciou: {0}")]
    /// The simulator did not start.
    Simulator(#[from] simulator::SimError),
    #[error("configuração gerada inválida: {0}")]
    /// The generated configuration did not load (a defect).
    Config(#[from] ConfigError),
    #[error("configuração gerada inválida: {0}")]
    /// The generated configuration is not valid TOML (a defect).
    Toml(String),
    #[error("não foi possível criar a planilha de exemplo: {0}")]
    /// The sample workbook could not be written.
    Xlsx(String),
    #[error(transparent)]
    /// The service stopped with an error.
    Service(#[from] ServiceError),
    #[error("os relatórios não apareceram em {0} s; veja os registros acima")]
    /// The reports did not appear within this many seconds.
    Timeout(u64),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_path_buf();
    move |source| DemoError::Io { path, source }
}

/// The folders and files of a workspace pointed at a simulator.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace folder.
    pub root: PathBuf,
    /// Where exports are dropped.
    pub inbox: PathBuf,
    /// Where reports appear.
    pub outbox: PathBuf,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The generated configuration.
    pub config_path: PathBuf,
}

/// What the demo did, for the closing message.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// The workspace the demo used.
    pub workspace: Workspace,
    /// The simulator's folder (its stored documents and credentials).
    pub simulator_dir: PathBuf,
    /// `resumo.json` files written, by input file.
    pub summaries: Vec<PathBuf>,
    /// Every report file in the outbox.
    pub reports: Vec<PathBuf>,
    /// Documents the simulator holds.
    pub documents: usize,
    /// Data rows read across the sample files.
    pub rows_total: u64,
    /// Rows the simulator stored.
    pub rows_sent: u64,
    /// Rows listed as invalid in the reports.
    pub rows_invalid: u64,
}

/// Writes `<root>/rnds-drop.toml`: the simulator's generated config (with
/// its credential paths made absolute) plus one inbox (`entrada/` →
/// `saida/`), the ledger and short service timings. Returns the loaded
/// config.
pub fn write_workspace_config(
    sim: &SimFiles,
    root: &Path,
    settle_ms: u64,
    mode: &str,
) -> Result<(Workspace, Config), DemoError> {
    let ws = Workspace {
        root: root.to_path_buf(),
        inbox: root.join("entrada"),
        outbox: root.join("saida"),
        ledger: root.join("rnds-drop.sqlite"),
        config_path: root.join("rnds-drop.toml"),
    };
    for dir in [&ws.inbox, &ws.outbox] {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let snippet = std::fs::read_to_string(&sim.config_toml).map_err(io_err(&sim.config_toml))?;
    let mut table: toml::Table =
        toml::from_str(&snippet).map_err(|e| DemoError::Toml(e.to_string()))?;
    let text = |p: &Path| toml::Value::String(p.to_string_lossy().into_owned());
    if let Some(toml::Value::Table(rnds)) = table.get_mut("rnds") {
        rnds.insert("certificate".into(), text(&sim.lab_pfx));
        rnds.insert(
            "certificate_password_file".into(),
            text(&sim.lab_pfx_password_file),
        );
        rnds.insert("extra_ca".into(), text(&sim.ca_pem));
    }
    let mut inbox = toml::Table::new();
    inbox.insert("path".into(), text(&ws.inbox));
    inbox.insert("outbox".into(), text(&ws.outbox));
    inbox.insert("mode".into(), toml::Value::String(mode.into()));
    inbox.insert(
        "settle_ms".into(),
        toml::Value::Integer(i64::try_from(settle_ms).unwrap_or(i64::MAX)),
    );
    table.insert(
        "inbox".into(),
        toml::Value::Array(vec![toml::Value::Table(inbox)]),
    );
    let mut ledger = toml::Table::new();
    ledger.insert("path".into(), text(&ws.ledger));
    table.insert("ledger".into(), toml::Value::Table(ledger));
    let mut service = toml::Table::new();
    service.insert("scan_interval_s".into(), toml::Value::Integer(2));
    service.insert("pending_report_after_s".into(), toml::Value::Integer(30));
    service.insert("shutdown_grace_s".into(), toml::Value::Integer(5));
    table.insert("service".into(), toml::Value::Table(service));
    let body = toml::to_string(&table).map_err(|e| DemoError::Toml(e.to_string()))?;
    let content = format!(
        "# Gerado por `rnds-drop demo`: laboratório de teste apontado para o simulador local.\n\n{body}"
    );
    std::fs::write(&ws.config_path, content).map_err(io_err(&ws.config_path))?;
    let config = Config::load(&ws.config_path)?;
    Ok((ws, config))
}

/// A small workbook with three more example rows (other lab ids).
pub fn example_xlsx() -> Result<Vec<u8>, DemoError> {
    let rows: [[&str; 9]; 3] = [
        [
            "2026-000201",
            "BEATRIZ COSTA",
            "759010928159013",
            "05/11/2026 08:00",
            "05/11/2026 14:10",
            "94309-2",
            "Detectável",
            "Swab nasofaríngeo",
            "RT-PCR",
        ],
        [
            "2026-000202",
            "RAFAEL GOMES",
            "939548620579868",
            "05/11/2026 08:05",
            "05/11/2026 14:10",
            "94309-2",
            "Não detectável",
            "Swab nasofaríngeo",
            "RT-PCR",
        ],
        [
            "2026-000203",
            "SEM CARTAO",
            "",
            "05/11/2026 08:10",
            "05/11/2026 14:10",
            "94309-2",
            "Não detectável",
            "Swab nasofaríngeo",
            "RT-PCR",
        ],
    ];
    let header = [
        "Nº Pedido",
        "Paciente",
        "Cartão SUS",
        "Data da Coleta",
        "Dt. Liberação",
        "Cód. Exame",
        "Resultado",
        "Material",
        "Metodologia",
    ];
    let xerr = |e: rust_xlsxwriter::XlsxError| DemoError::Xlsx(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Resultados").map_err(xerr)?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(xerr)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet
                .write_string(r as u32 + 1, c as u16, *v)
                .map_err(xerr)?;
        }
    }
    book.save_to_buffer().map_err(xerr)
}

/// Writes `bytes` as `dir/name` the way a careful exporter does: a hidden
/// temporary name, then a rename (the service ignores dot files).
pub fn drop_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, DemoError> {
    let temp = dir.join(format!(".{name}.part"));
    let target = dir.join(name);
    std::fs::write(&temp, bytes).map_err(io_err(&temp))?;
    std::fs::rename(&temp, &target).map_err(io_err(&target))?;
    Ok(target)
}

/// Runs the demo in `dir` (or a new folder under the system's temp folder).
pub async fn run_demo(dir: Option<PathBuf>) -> Result<DemoSummary, DemoError> {
    let root = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "rnds-drop-demo-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        )),
    };
    std::fs::create_dir_all(&root).map_err(io_err(&root))?;
    let root = std::path::absolute(&root).map_err(io_err(&root))?;
    let sim_dir = root.join("simulador");
    let sim = simulator::start(SimOptions::new(&sim_dir)).await?;
    let (ws, config) = write_workspace_config(sim.files(), &root, 300, "watch")?;

    let inputs = [
        ("exames.csv".to_string(), EXAMPLE_CSV.to_vec()),
        ("exames-planilha.xlsx".to_string(), example_xlsx()?),
    ];
    let started = std::time::SystemTime::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(crate::service::run(config, async move {
        let _ = stopped.await;
    }));
    for (name, bytes) in &inputs {
        drop_file(&ws.inbox, name, bytes)?;
    }
    let stems: Vec<String> = inputs
        .iter()
        .map(|(n, _)| crate::check::stem(Path::new(n)))
        .collect();
    let deadline = Instant::now() + DEMO_DEADLINE;
    let summaries = loop {
        let found = new_summaries(&ws.outbox, &stems, started);
        if found.len() == stems.len() {
            break found;
        }
        if service.is_finished() || Instant::now() > deadline {
            let _ = stop.send(());
            if let Ok(Err(e)) = service.await {
                return Err(e.into());
            }
            sim.shutdown().await;
            return Err(DemoError::Timeout(DEMO_DEADLINE.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    match service.await {
        Ok(result) => result?,
        Err(e) => return Err(ServiceError::from(InternalFailure::ServiceTask(e)).into()),
    }
    let documents = sim.documents().len();
    sim.shutdown().await;

    let (mut rows_total, mut rows_sent, mut rows_invalid) = (0, 0, 0);
    for path in &summaries {
        if let Ok(v) = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
            })
        {
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            rows_total += n("rows_total");
            rows_sent += n("rows_sent") + n("rows_replaced") + n("rows_already_sent");
            rows_invalid += n("rows_invalid");
        }
    }
    let mut reports: Vec<PathBuf> = std::fs::read_dir(&ws.outbox)
        .map_err(io_err(&ws.outbox))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    reports.sort();
    Ok(DemoSummary {
        workspace: ws,
        simulator_dir: sim_dir,
        summaries,
        reports,
        documents,
        rows_total,
        rows_sent,
        rows_invalid,
    })
}

/// The newest `<stem>.*.resumo.json` of each stem written after `since`.
fn new_summaries(outbox: &Path, stems: &[String], since: std::time::SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(outbox) else {
        return Vec::new();
    };
    let files: Vec<(String, PathBuf, std::time::SystemTime)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((name, e.path(), modified))
        })
        .filter(|(name, _, modified)| name.ends_with(".resumo.json") && *modified >= since)
        .collect();
    stems
        .iter()
        .filter_map(|stem| {
            files
                .iter()
                .filter(|(name, _, _)| report_of(name, stem))
                .max_by_key(|(_, _, m)| *m)
                .map(|(_, p, _)| p.clone())
        })
        .collect()
}

/// Whether report `name` (`<stem>.<AAAAMMDDTHHMMSS>[_n].resumo.json`)
/// belongs to input `stem`.
pub fn report_of(name: &str, stem: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".resumo.json"))
        .is_some_and(|instant| {
            instant.len() >= 15 && instant.as_bytes()[8] == b'T' && !instant.contains('.')
        })
}
