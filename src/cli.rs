//! Command-line arguments (clap). Each subcommand's arguments resolve into
//! library calls in `main.rs`. The doc comments of commands and arguments
//! are the help lab staff read, hence in Portuguese (see `cli_pt.rs` for
//! the headings and usage errors).
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
  rnds-drop init-ledger --config rnds-drop.toml    # PostgreSQL: cria o registro no banco vazio (--confirm)

Códigos de saída / exit codes:
  0 tudo certo · 1 linhas inválidas ou recusadas · 2 arquivo ilegível
  3 erro de configuração · 4 linhas pendentes (RNDS inacessível ou token desconectado) · 5 falha interna
  64 linha de comando inválida (opção desconhecida, argumento faltando)
  status: 0 nada precisa de atenção · 1 exames recusados ou arquivo ilegível hoje
  3 certificado (vencido ou < 30 dias), registro ou pasta · 4 exames aguardando há muito";

/// rnds-drop: planilhas de laboratório → RNDS, cada resultado enviado uma única vez.
#[derive(Debug, Parser)]
#[command(name = "rnds-drop", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Confere arquivos e grava os bundles e relatórios, sem rede.
    Check(CheckArgs),
    /// Mostra como cada arquivo é lido e mapeado, o que falta e um trecho de
    /// configuração; não grava nada, sem rede, sem configuração.
    #[command(name = "inspecionar", alias = "inspect")]
    Inspect(crate::inspect_cli::InspectArgs),
    /// Confere e envia as linhas válidas à RNDS uma única vez (sem serviço).
    Send(CheckArgs),
    /// Verificação antes de produzir: configuração, certificado, token, CNES, solicitante.
    Doctor(ConfigArg),
    /// Roda o serviço: vigia as pastas de entrada, envia, grava os relatórios.
    Run(RunArgs),
    /// Evidências de homologação (passo 7 do guia da RNDS): cenários fixos contra
    /// a RNDS configurada (nunca produção), pasta de evidências e relatório.
    Homologacao(HomologacaoArgs),
    /// Como está o serviço, só leitura (funciona com ele rodando).
    Status(StatusArgs),
    /// Roda o simulador local da RNDS (HTTPS com certificado de cliente).
    Simulate(rnds_drop::simulator::cli::SimulateArgs),
    /// Demonstração local: simulador, pasta de entrada, arquivos de exemplo, relatórios.
    Demo(DemoArgs),
    /// Serviço do Windows: `servico instalar`, `servico remover`.
    Servico {
        #[command(subcommand)]
        command: crate::servico::ServicoCommand,
    },
    /// Começa de propósito um registro de envios novo e vazio (o antigo fica
    /// guardado). Sem --confirm só explica as consequências.
    NewLedger(NewLedgerArgs),
    /// Cria o registro de envios num banco PostgreSQL vazio, no primeiro uso
    /// (o serviço não cria um sozinho). Sem --confirm só diz onde e o que conferir.
    InitLedger(NewLedgerArgs),
    /// Copia um registro de envios SQLite para um banco PostgreSQL vazio
    /// (contagens conferidas; recusa um banco que já tem registro).
    MigrateLedger(MigrateLedgerArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct MigrateLedgerArgs {
    /// O registro SQLite de origem (o `path` de [ledger]).
    #[arg(long)]
    pub from: PathBuf,
    /// O banco de destino: postgres://usuario@servidor:porta/banco (sem a senha).
    #[arg(long)]
    pub to: String,
    /// Variável de ambiente com a senha do PostgreSQL.
    #[arg(long)]
    pub password_env: Option<String>,
    /// Arquivo cuja primeira linha é a senha do PostgreSQL.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Certificado (PEM) da CA do laboratório: conexão com TLS, verificada.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct NewLedgerArgs {
    /// Arquivo de configuração.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Começa de fato o registro novo (depois de ler as consequências).
    #[arg(long)]
    pub confirm: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// Arquivo de configuração.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Arquivo de configuração.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Pasta dos relatórios (criada se não existir).
    #[arg(long, short, default_value = "saida")]
    pub out: PathBuf,
    /// Arquivos CSV ou XLSX.
    #[arg(required = true, value_name = "ARQUIVOS")]
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
    /// Arquivo de configuração.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Formato do log na saída de erros.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct HomologacaoArgs {
    /// Arquivo de configuração (ambiente `homologacao` ou `simulador`).
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// Pasta onde é criada a pasta de evidências `homologacao-<instante>`.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Arquivo de configuração.
    #[arg(long, short, default_value = "rnds-drop.toml")]
    pub config: PathBuf,
    /// JSON para programas em vez de texto.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Pasta de trabalho (padrão: uma pasta temporária nova).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
