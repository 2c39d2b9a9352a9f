//! The binary edge: parse the command line, call the library, map errors
//! to the documented exit codes (see `cli::exit`).

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use rnds_drop::check::{self, Verdict};
use rnds_drop::config::Config;
use rnds_drop::pipeline::FileJob;

use cli::{exit, CheckArgs, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Doctor(args) => run_doctor(&args),
        Command::Simulate(args) => match rnds_drop::simulator::cli::run(args) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("✗ {e}");
                exit::INTERNAL
            }
        },
        Command::Send(_) | Command::Run(_) | Command::Demo(_) => {
            eprintln!("ainda não disponível nesta versão");
            exit::INTERNAL
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("✗ não foi possível iniciar o runtime: {e}");
        exit::INTERNAL
    })
}

fn run_doctor(args: &cli::ConfigArg) -> i32 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let report = rt.block_on(rnds_drop::rnds::run_doctor(
        &args.config,
        &mut std::io::stdout(),
    ));
    report.exit_code()
}

fn load_config(path: &std::path::Path) -> Result<Config, i32> {
    Config::load(path).map_err(|e| {
        eprintln!("✗ {e}");
        exit::CONFIG
    })
}

fn run_check(args: &CheckArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = FileJob::from_config(&config, config.inbox.first(), chrono::Utc::now());
    let mut worst = Verdict::AllValid;
    for file in &args.files {
        let mut progress = Progress::new(file);
        match check::check_file(file, &job, &args.out, &mut |rows| progress.update(rows)) {
            Ok(checked) => {
                progress.finish();
                print_checked(&checked);
                worst = worst.max(checked.verdict);
            }
            Err(e) => {
                progress.finish();
                eprintln!("✗ {e}");
                return exit::INTERNAL;
            }
        }
    }
    match worst {
        Verdict::AllValid => exit::OK,
        Verdict::SomeInvalid => exit::ROWS_INVALID,
        Verdict::Unreadable => exit::UNREADABLE,
    }
}

fn print_checked(checked: &check::CheckedFile) {
    let s = &checked.summary;
    match (&s.error, checked.verdict) {
        (Some(error), _) => println!("✗ {}: não foi possível ler o arquivo: {error}", s.file),
        (None, Verdict::AllValid) => println!(
            "✓ {}: {} linhas, todas válidas → {}",
            s.file,
            s.rows_total,
            checked.bundles.display()
        ),
        (None, _) => println!(
            "✗ {}: {} linhas, {} válidas, {} com problema → corrija {}",
            s.file,
            s.rows_total,
            s.rows_valid,
            s.rows_invalid,
            checked.paths.errors_csv.display()
        ),
    }
    println!("  resumo: {}", checked.paths.summary.display());
}

/// A one-line progress indicator on stderr, only when stderr is a terminal.
struct Progress {
    name: String,
    enabled: bool,
    started: std::time::Instant,
}

impl Progress {
    fn new(file: &std::path::Path) -> Progress {
        Progress {
            name: check::stem(file),
            enabled: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
        }
    }

    fn update(&mut self, rows: u64) {
        if self.enabled {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r{}: {rows} linhas ({:.0} linhas/s)   ",
                self.name,
                rows as f64 / secs
            );
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

// glibc malloc spends a fifth of `check`'s time consolidating chunks freed on
// rayon threads that the reader thread allocated; mimalloc's per-thread heaps
// don't.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
