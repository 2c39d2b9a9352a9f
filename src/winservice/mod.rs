//! rnds-drop as a Windows service: what the Service Control Manager (SCM)
//! is told at install time, where things live by default
//! (`%ProgramData%\rnds-drop`), and the log file that replaces journald
//! there (the same size-rotated, masked file as `[service] log_file`). The SCM calls themselves (`scm`, Windows only, through
//! the `windows-service` crate) are thin; everything they need is decided
//! here, in plain functions tested on every OS.
//!
//! Stopping the service from the SCM (or a system shutdown) completes the
//! same shutdown future that SIGTERM completes on Linux: claiming stops,
//! in-flight requests get `shutdown_grace_s`, the ledger stays consistent.
//!
//! Invariant: knows service names, paths and arguments, not files, rows or
//! RNDS; the work is `service::run`, unchanged.

#[cfg(windows)]
pub mod scm;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::ops::logging::{LogFile, LogSettings};

/// The service's key name (`sc.exe query rnds-drop`).
pub const SERVICE_NAME: &str = "rnds-drop";
/// The name shown in `services.msc`.
pub const DISPLAY_NAME: &str = "rnds-drop (envio de exames à RNDS)";
/// The description shown in `services.msc`.
pub const DESCRIPTION: &str = "Envia à RNDS, uma única vez, cada resultado de exame deixado na \
     pasta de entrada e escreve os relatórios na pasta de saída.";
/// Used when `%ProgramData%` is not set (it always is on a real Windows).
pub const FALLBACK_PROGRAM_DATA: &str = r"C:\ProgramData";
/// The service's log file in `logs\` when `[service] log_file` is unset.
pub const LOG_FILE_NAME: &str = "rnds-drop.log";

/// Where the service's files live by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPaths {
    /// `%ProgramData%\rnds-drop`.
    pub root: PathBuf,
    /// `%ProgramData%\rnds-drop\rnds-drop.toml`; relative paths in it (inbox,
    /// outbox, ledger, certificate) resolve against `root`.
    pub config: PathBuf,
    /// `%ProgramData%\rnds-drop\logs`.
    pub logs: PathBuf,
}

impl DefaultPaths {
    /// Under `program_data` (the value of `%ProgramData%`, if set).
    pub fn under(program_data: Option<OsString>) -> DefaultPaths {
        let base = program_data
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from(FALLBACK_PROGRAM_DATA), PathBuf::from);
        let root = base.join("rnds-drop");
        DefaultPaths {
            config: root.join("rnds-drop.toml"),
            logs: root.join("logs"),
            root,
        }
    }

    /// Under this process's `%ProgramData%`.
    pub fn from_env() -> DefaultPaths {
        DefaultPaths::under(std::env::var_os("ProgramData"))
    }

    /// The log folder for a service run with `config`: `logs\` beside it.
    pub fn logs_for(config: &Path) -> PathBuf {
        config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("logs")
    }
}

/// What `servico instalar` registers with the SCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// Service name in the SCM.
    pub name: &'static str,
    /// Name shown in the Services console.
    pub display_name: &'static str,
    /// Description shown in the Services console.
    pub description: &'static str,
    /// The `.exe` the SCM starts (absolute).
    pub executable: PathBuf,
    /// Its arguments: `servico executar --config <absolute config>`.
    pub arguments: Vec<OsString>,
    /// The configuration, absolute: the SCM starts services in
    /// `C:\Windows\System32`, where a relative path means nothing.
    pub config: PathBuf,
    /// After a crash the SCM restarts the service after this delay (the
    /// ledger makes a restart safe: nothing is sent twice).
    pub restart_after: Duration,
    /// How long the SCM is told to wait for a stop: the configured grace
    /// for in-flight requests plus time to write reports.
    pub stop_wait: Duration,
}

/// Why the service cannot be installed, removed or run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    /// The configuration could not be loaded.
    Config(#[from] ConfigError),
    #[error("caminho inválido {path}: {source}")]
    /// A path could not be made absolute or a folder created.
    Path {
        /// The path.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error(
        "o gerenciador de serviços do Windows recusou: {0} \
         (rode o Prompt de Comando ou PowerShell como Administrador)"
    )]
    /// The Service Control Manager refused.
    Manager(String),
    #[error("o serviço {SERVICE_NAME} não está instalado")]
    /// `servico remover` found no installed service.
    NotInstalled,
    #[error("o serviço {SERVICE_NAME} já está instalado; para trocar a configuração, remova-o e instale de novo")]
    /// `servico instalar` found one already installed.
    AlreadyInstalled,
}

/// The arguments the SCM passes to the `.exe` when it starts the service.
pub fn service_arguments(config: &Path) -> Vec<OsString> {
    vec![
        "servico".into(),
        "executar".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
    ]
}

/// Checks `config` loads (a broken configuration is refused at install
/// time, not discovered by a service that stops right after starting) and
/// builds what the SCM is told. `executable` is normally
/// `std::env::current_exe()`.
pub fn install_plan(executable: &Path, config: &Path) -> Result<InstallPlan, SetupError> {
    let absolute = |path: &Path| {
        std::path::absolute(path).map_err(|source| SetupError::Path {
            path: path.to_path_buf(),
            source,
        })
    };
    let config = absolute(config)?;
    let loaded = Config::load(&config)?;
    Ok(InstallPlan {
        name: SERVICE_NAME,
        display_name: DISPLAY_NAME,
        description: DESCRIPTION,
        executable: absolute(executable)?,
        arguments: service_arguments(&config),
        config,
        restart_after: Duration::from_secs(60),
        stop_wait: stop_wait(&loaded),
    })
}

/// How long a stop may take: the grace for in-flight requests plus 20 s
/// for the reports and the ledger.
pub fn stop_wait(config: &Config) -> Duration {
    Duration::from_secs(config.service.shutdown_grace_s.saturating_add(20))
}

/// How the service logs: as `run` does in a console (lab time, CNS/CPF
/// masked, the file rotated by size at `log_file_max_mb`, `log_file_keep`
/// kept), into `[service] log_file` when set, else [`LOG_FILE_NAME`] in
/// `logs\` beside the configuration: Windows has no journald, and rotation
/// keeps the folder bounded. Without a loaded configuration (it failed to
/// load, and that error must reach the file): UTC and the default sizes.
pub fn log_settings(config_path: &Path, config: Option<&Config>) -> LogSettings {
    let defaults = crate::config::Service::default();
    let service = config.map_or(&defaults, |c| &c.service);
    let path = service
        .log_file
        .clone()
        .unwrap_or_else(|| DefaultPaths::logs_for(config_path).join(LOG_FILE_NAME));
    LogSettings {
        json: false,
        level: "info".into(),
        timezone: config.map_or(chrono_tz::UTC, Config::timezone),
        ansi: false,
        file: Some(LogFile {
            path,
            max_bytes: service.log_file_max_mb.saturating_mul(1024 * 1024),
            keep: service.log_file_keep,
        }),
    }
}

#[cfg(test)]
mod tests;
