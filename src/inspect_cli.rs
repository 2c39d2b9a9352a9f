//! `rnds-drop inspecionar FILE…`: the binary edge of `inspect`.
//!
//! Exit codes: 0 every file can be dropped as it is (all rows would be
//! sent); 1 some file cannot, as it is (a file-level problem, no row, or
//! rows that would be refused); 2 a file could not be read at all; 3 the
//! configuration given with `--config` is invalid.

use std::path::PathBuf;

use rnds_drop::config::{Config, Purpose};
use rnds_drop::inspect;
use rnds_drop::pipeline::FileJob;

use crate::exit;

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Arquivo de configuração (opcional): as contagens usam então o primeiro
    /// `[[inbox]]`, os valores padrão e os códigos de exame, como o `check`.
    /// Basta a seção `[lab]`, como para o `check`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Arquivos CSV ou XLSX.
    #[arg(required = true, value_name = "ARQUIVOS")]
    pub files: Vec<PathBuf>,
}

pub(crate) fn run(args: &InspectArgs) -> i32 {
    let now = chrono::Utc::now();
    let (job, assumed) = match &args.config {
        Some(path) => match Config::load_for(path, Purpose::Offline) {
            Ok(config) => (
                FileJob::from_config(&config, config.inbox.first(), now),
                false,
            ),
            Err(e) => {
                eprintln!("✗ {e}");
                return exit::CONFIG;
            }
        },
        None => match inspect::job_without_config(now) {
            Ok(job) => (job, true),
            Err(e) => {
                eprintln!("✗ {e}");
                return exit::INTERNAL;
            }
        },
    };
    let mut code = exit::OK;
    for (n, file) in args.files.iter().enumerate() {
        let found = inspect::inspect_file(file, &job, assumed);
        if n > 0 {
            println!();
        }
        print!("{}", inspect::render(&found, &job, assumed));
        let this = if found.error.is_some() {
            exit::UNREADABLE
        } else if found.sendable_as_is() {
            exit::OK
        } else {
            exit::ROWS_INVALID
        };
        code = code.max(this);
    }
    code
}
