//! Command-line arguments (clap). Each subcommand's arguments resolve into
//! library calls in `main.rs`.
//!
//! Invariant: knows nothing of file contents, FHIR or the network.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exemplos / examples:
  rnds-drop demo                                   # tudo local: simulador, pasta, relatórios
  rnds-drop inspecionar exportacao.csv              # o que o rnds-drop entende do arquivo
  rnds-drop check --config rnds-drop.toml exames.csv
  rnds-drop check --out relatorios planilha.xlsx outro.csv
  rnds-drop doctor --config /etc/rnds-drop/rnds-drop.toml
  rnds-drop send --config rnds-drop.toml exames.csv
  rnds-drop run --config /etc/rnds-drop/rnds-drop.toml --log-format json
  rnds-drop homologacao --config rnds-drop-hmg.toml --out evidencias
  rnds-drop status --config /etc/rnds-drop/rnds-drop.toml --json
  rnds-drop simulate --listen 127.0.0.1:8443 --dir ./rnds-simulador
  rnds-drop servico instalar --config C:\\ProgramData\\rnds-drop\\rnds-drop.toml   # Windows
  rnds-drop new-ledger --config rnds-drop.toml     # explica as consequências; --confirm executa

Códigos de saída / exit codes:
  0 tudo certo · 1 linhas inválidas ou recusadas · 2 arquivo ilegível
  3 erro de configuração · 4 linhas pendentes (RNDS inacessível) · 5 falha interna
  64 linha de comando inválida (opção desconhecida, argumento faltando)
  status: 0 nada precisa de atenção · 1 exames recusados ou arquivo ilegível hoje
  3 certificado (vencido ou < 30 dias), registro ou pasta · 4 exames aguardando há muito";

/// rnds-drop: planilhas de laboratório → RNDS, cada resultado enviado uma única vez.
#[derive(Debug, Parser)]
#[command(name = "rnds-drop", version, about, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate files and write bundles and reports, offline (no network).
    Check(CheckArgs),
    /// Show how each file is read and mapped, what it lacks, and a config
    /// snippet; writes nothing, no network, no config needed.
    #[command(name = "inspecionar", alias = "inspect")]
    Inspect(crate::inspect_cli::InspectArgs),
    /// Check, then submit the valid rows to RNDS once (no service needed).
    Send(CheckArgs),
    /// Pre-flight: configuration, certificate, token, CNES, requester link.
    Doctor(ConfigArg),
    /// Run the service: watch the inboxes, send, write reports.
    Run(RunArgs),
    /// Homologation evidence (RNDS guide step 7): fixed scenarios against
    /// the configured RNDS (never production), evidence folder and report.
    Homologacao(HomologacaoArgs),
    /// How the service is doing, read-only (works while it runs).
    Status(StatusArgs),
    /// Run the local RNDS simulator (HTTPS with mutual TLS).
    Simulate(rnds_drop::simulator::cli::SimulateArgs),
    /// Local demonstration: simulator, inbox, example files, reports.
    Demo(DemoArgs),
    /// Windows service: `servico instalar`, `servico remover`.
    Servico {
        #[command(subcommand)]
        command: crate::servico::ServicoCommand,
    },
    /// Start a new, empty ledger on purpose (the old one is kept aside).
    /// Without --confirm only explains the consequences.
    NewLedger(NewLedgerArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct NewLedgerArgs {
    /// Configuration file.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Really start the new ledger (after reading the consequences).
    #[arg(long)]
    pub confirm: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// Configuration file.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Configuration file.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Folder for the outputs (created if missing).
    #[arg(long, short, default_value = "saida")]
    pub out: PathBuf,
    /// CSV or XLSX files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Configuration file.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct HomologacaoArgs {
    /// Configuration file (environment `homologacao` or `simulador`).
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Folder where the evidence folder `homologacao-<instant>` is created.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Configuration file.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Workspace folder (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
