//! The binary edge: parse the command line, call the library, map errors
//! to the documented exit codes (see `exit.rs`).

mod cli;
mod cli_pt;
mod exit;
mod inspect_cli;
mod progress;
mod servico;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};
use rnds_drop::check::{self, Verdict};
use rnds_drop::config::{Config, Purpose};
use rnds_drop::pipeline::FileJob;

use cli::{
    CheckArgs, Cli, Command, DemoArgs, HomologacaoArgs, LogFormat, MigrateLedgerArgs,
    NewLedgerArgs, RunArgs, StatusArgs,
};
use progress::FileBar;

fn main() -> ExitCode {
    let parsed = cli_pt::localize(Cli::command())
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            match e.kind() {
                // --help and --version are not mistakes.
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    return ExitCode::from(exit::OK as u8);
                }
                // The help (in Portuguese), then what was missing.
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                }
                _ => {}
            }
            eprintln!("✗ linha de comando inválida: {}", cli_pt::usage_error(&e));
            eprintln!("  os comandos e opções estão em `rnds-drop --help` (e `rnds-drop <comando> --help`)");
            return ExitCode::from(exit::USAGE as u8);
        }
    };
    let code = match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Inspect(args) => inspect_cli::run(&args),
        Command::Send(args) => run_send(&args),
        Command::Run(args) => run_service(&args),
        Command::Demo(args) => run_demo(&args),
        Command::Servico { command } => servico::run(command),
        Command::Doctor(args) => run_doctor(&args),
        Command::Status(args) => run_status(&args),
        Command::Homologacao(args) => run_homologacao(&args),
        Command::NewLedger(args) => run_new_ledger(&args),
        Command::InitLedger(args) => run_init_ledger(&args),
        Command::MigrateLedger(args) => run_migrate_ledger(&args),
        Command::Simulate(args) => match rnds_drop::simulator::cli::run(args) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("✗ {e}");
                exit::INTERNAL
            }
        },
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

fn load_config(path: &std::path::Path, purpose: Purpose) -> Result<Config, i32> {
    Config::load_for(path, purpose).map_err(|e| {
        eprintln!("✗ {e}");
        exit::CONFIG
    })
}

fn run_check(args: &CheckArgs) -> i32 {
    let config = match load_config(&args.config, Purpose::Offline) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = FileJob::from_config(&config, config.inbox.first(), chrono::Utc::now());
    let mut worst = Verdict::AllValid;
    let names = check::report_names(&args.files);
    for (file, name) in args.files.iter().zip(&names) {
        let progress = FileBar::new(file, name);
        match check::check_file_as(file, name, &job, &args.out, &mut |rows| {
            progress.update(rows);
        }) {
            Ok(checked) => {
                progress.finish();
                print_checked(&checked);
                worst = worst.max(checked.verdict);
            }
            Err(e) if e.is_wrong_folder() => {
                progress.finish();
                eprintln!("✗ {e}. O que fazer: indique em --out uma pasta (não um arquivo) em que você pode gravar");
                return exit::USAGE;
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
        (None, Verdict::AllValid) if s.rows_skipped == 0 => println!(
            "✓ {}: {}, {} → {}",
            s.file,
            count(s.rows_total, "linha", "linhas"),
            if s.rows_total == 1 {
                "válida"
            } else {
                "todas válidas"
            },
            checked.bundles.display()
        ),
        (None, _) if s.file_issues().next().is_some() => println!(
            "✗ {}: {}, nenhuma pode ser enviada (motivo abaixo e no início de {})",
            s.file,
            count(s.rows_total, "linha", "linhas"),
            checked.paths.errors_xlsx.display()
        ),
        (None, Verdict::AllValid) => println!(
            "✓ {}: {}, {}, {}{} → {}",
            s.file,
            count(s.rows_total, "linha", "linhas"),
            count(s.rows_valid, "válida", "válidas"),
            count(s.rows_skipped, "ignorada", "ignoradas"),
            skipped_note(s),
            checked.bundles.display()
        ),
        (None, _) => println!(
            "✗ {}: {}, {}, {} com problema{} → corrija {}",
            s.file,
            count(s.rows_total, "linha", "linhas"),
            count(s.rows_valid, "válida", "válidas"),
            rnds_drop::report::pt_number(s.rows_invalid),
            if s.rows_skipped > 0 {
                format!(
                    ", {}{}",
                    count(s.rows_skipped, "ignorada", "ignoradas"),
                    skipped_note(s)
                )
            } else {
                String::new()
            },
            checked.paths.errors_xlsx.display()
        ),
    }
    print_file_issues(s);
    println!("  resumo: {}", checked.paths.summary.display());
    for (wanted, written) in &checked.moved {
        println!(
            "  ! {} está aberto em outro programa (Excel?) e não pôde ser substituído: gravado como {}",
            wanted.display(),
            written.display()
        );
    }
}

/// `1 linha`, `2 linhas`, `30.000 linhas`: the number the Brazilian way and
/// the word agreeing with it.
fn count(n: u64, one: &str, many: &str) -> String {
    let word = if n == 1 { one } else { many };
    format!("{} {word}", rnds_drop::report::pt_number(n))
}

/// Why no row of a file can be sent, one sentence per line.
fn print_file_issues(s: &rnds_drop::report::Summary) {
    for issue in s.file_issues() {
        println!("  ✗ {}", issue.message);
    }
}

/// Why rows were skipped, most frequent reasons first: ` (não são
/// resultados a enviar: 7 outro_exame, 2 status_nao_liberado)`.
fn skipped_note(s: &rnds_drop::report::Summary) -> String {
    if s.skipped.is_empty() {
        return String::new();
    }
    let mut by_code: std::collections::BTreeMap<&str, u64> = Default::default();
    for entry in &s.skipped {
        *by_code.entry(entry.code.as_str()).or_default() += entry.rows;
    }
    let mut counts: Vec<(&str, u64)> = by_code.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
    format!(
        " (não são resultados a enviar: {}; motivos no resumo)",
        parts.join(", ")
    )
}

/// What `send` and `run` need before anything else.
fn config_and_runtime(
    path: &std::path::Path,
    purpose: Purpose,
) -> Result<(Config, tokio::runtime::Runtime), i32> {
    Ok((load_config(path, purpose)?, runtime()?))
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("✗ não foi possível iniciar: {e}");
            exit::INTERNAL
        })
}

const NEW_LEDGER_CONSEQUENCES: &str = "\
Um registro de envios novo não sabe nada do que já foi enviado à RNDS. Consequências:
  - um arquivo já enviado e deixado de novo na pasta de entrada é enviado outra vez;
    a RNDS recusa cada exame que já tem (EHR-ERR866) e o relatório diz \"já estava
    na RNDS\": nenhum documento em dobro, mas também nenhum número RNDS nos relatórios;
  - a correção de um resultado enviado antes não pode mais ser feita automaticamente
    (o número RNDS a substituir se perdeu com o registro antigo): peça ao suporte;
  - nunca renumere os exames para \"passar\" na RNDS: isso notificaria o mesmo exame
    duas vezes.
Antes disso, tente restaurar o registro de uma cópia de segurança (o arquivo e o -wal)
e apague o <registro>.in-use da execução interrompida, se existir.
O registro atual (se houver) não é apagado: fica ao lado, renomeado para
<registro>.descartado-<data>.";

fn run_migrate_ledger(args: &MigrateLedgerArgs) -> i32 {
    let to = rnds_drop::config::PostgresLedger::new(
        args.to.clone(),
        args.password_env.clone(),
        args.password_file.clone(),
        args.ca_file.clone(),
    );
    match rnds_drop::service::migrate_ledger(&args.from, &to) {
        Ok(copied) => {
            println!(
                "✓ registro de envios copiado de {} para {}",
                args.from.display(),
                args.to
            );
            for (table, rows) in copied {
                println!("  {table}: {rows} linhas (conferidas)");
            }
            println!(
                "  Agora troque em [ledger] path por url = \"{}\" e guarde o arquivo {} como \
                 cópia de segurança: ele foi marcado como migrado e o rnds-drop não o usa mais.",
                args.to,
                args.from.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("✗ {e}");
            if e.is_configuration() {
                exit::CONFIG
            } else {
                exit::INTERNAL
            }
        }
    }
}

fn run_init_ledger(args: &NewLedgerArgs) -> i32 {
    use rnds_drop::service::LedgerInit;
    let config = match load_config(&args.config, Purpose::Offline) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match rnds_drop::service::init_ledger(&config, args.confirm) {
        Ok(LedgerInit::Sqlite(path)) => {
            println!(
                "Nada a fazer: o registro de envios {} é um arquivo SQLite, criado pelo próprio \
                 serviço na primeira execução. O init-ledger é para [ledger] url (PostgreSQL).",
                path.display()
            );
            exit::OK
        }
        Ok(LedgerInit::AlreadyThere(target)) => {
            println!("✓ o banco {target} já tem o registro de envios; nada foi alterado.");
            exit::OK
        }
        Ok(LedgerInit::Created(target)) => {
            println!(
                "✓ registro de envios criado no banco {target}. Agora inicie o serviço \
                 (faça cópias de segurança do banco: pg_dump)."
            );
            exit::OK
        }
        Ok(LedgerInit::WouldCreate(target)) => {
            println!(
                "O registro de envios seria criado no banco {target}, hoje sem registro.\n\
                 Confira antes:\n\
                 \x20 - é o primeiro uso do rnds-drop com PostgreSQL neste laboratório. Se o \
                 laboratório já enviou exames, o registro existe: restaure o banco de uma cópia \
                 de segurança ou, se ele é um arquivo SQLite, copie-o com `rnds-drop \
                 migrate-ledger`;\n\
                 \x20 - a url em [ledger] aponta para o banco certo (servidor, porta, nome do \
                 banco): um registro novo no banco errado reenviaria exames que já estão na \
                 RNDS.\n\
                 Nada foi feito. Para criar o registro, rode de novo com --confirm."
            );
            exit::CONFIG
        }
        Err(e) => {
            eprintln!("✗ {e}");
            if e.is_configuration() {
                exit::CONFIG
            } else {
                exit::INTERNAL
            }
        }
    }
}

fn run_new_ledger(args: &NewLedgerArgs) -> i32 {
    let config = match load_config(&args.config, Purpose::Offline) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.ledger.postgres.is_some() {
        // Refused whatever --confirm says, naming the database (its
        // `path` is unused): the consequences and the SQLite advice below
        // are about a file.
        if let Err(e) = rnds_drop::service::start_new_ledger(&config) {
            eprintln!("✗ {e}");
        }
        return exit::CONFIG;
    }
    println!("{NEW_LEDGER_CONSEQUENCES}");
    println!();
    if !args.confirm {
        println!(
            "Nada foi feito. Para começar um registro novo em {}, pare o serviço e rode de novo com --confirm.",
            config.ledger.path.display()
        );
        return exit::CONFIG;
    }
    match rnds_drop::service::start_new_ledger(&config) {
        Ok(aside) => {
            println!(
                "✓ registro de envios novo criado em {}",
                config.ledger.path.display()
            );
            if let Some(aside) = aside {
                println!("  o registro anterior foi guardado em {}", aside.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("✗ {e}");
            if e.is_configuration() {
                exit::CONFIG
            } else {
                exit::INTERNAL
            }
        }
    }
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

/// Logs on stderr (and `[service] log_file`) at `level`, in the lab's time
/// zone, CNS/CPF masked; `RUST_LOG` overrides the level.
fn init_logs(format: LogFormat, level: &str, config: Option<&Config>) -> Result<(), i32> {
    use rnds_drop::ops::logging::{subscriber, LogFile, LogSettings};
    let settings = LogSettings {
        json: matches!(format, LogFormat::Json),
        level: level.to_string(),
        timezone: config.map_or(chrono_tz::UTC, Config::timezone),
        ansi: std::io::stderr().is_terminal(),
        file: config.and_then(|c| {
            let s = &c.service;
            s.log_file.as_ref().map(|path| LogFile {
                path: path.clone(),
                max_bytes: s.log_file_max_mb.saturating_mul(1024 * 1024),
                keep: s.log_file_keep,
            })
        }),
    };
    match subscriber(&settings, std::io::stderr) {
        Ok(subscriber) => {
            let _ = tracing::subscriber::set_global_default(subscriber);
            Ok(())
        }
        Err(e) => {
            eprintln!("✗ não foi possível abrir o arquivo de log ([service] log_file): {e}");
            Err(exit::CONFIG)
        }
    }
}

fn run_homologacao(args: &HomologacaoArgs) -> i32 {
    use rnds_drop::homologation::{self, HomologationError};
    let (config, runtime) = match config_and_runtime(&args.config, Purpose::Network) {
        Ok(both) => both,
        Err(code) => return code,
    };
    if let Err(code) = init_logs(LogFormat::Text, "warn", Some(&config)) {
        return code;
    }
    match runtime.block_on(homologation::run(&config, &args.out)) {
        Ok(report) => {
            if let Some(notice) = report.rehearsal_notice() {
                println!("⚠ {notice}");
            }
            for e in &report.evidences {
                let mark = if e.passed { "✓" } else { "✗" };
                println!("{mark} {} · {} · {}", e.key, e.title, e.outcome);
            }
            println!("  evidências: {}", report.folder.display());
            println!(
                "  relatório:  {}",
                report.folder.join("relatorio.html").display()
            );
            if report.all_passed {
                exit::OK
            } else {
                exit::ROWS_INVALID
            }
        }
        Err(e) => {
            eprintln!("✗ {e}");
            match e {
                HomologationError::Production | HomologationError::Client(_) => exit::CONFIG,
                _ => exit::INTERNAL,
            }
        }
    }
}

fn run_status(args: &StatusArgs) -> i32 {
    use rnds_drop::ops::status;
    let config = match load_config(&args.config, Purpose::Network) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = status::gather(&config, chrono::Utc::now());
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("✗ {e}");
                return exit::INTERNAL;
            }
        }
    } else {
        print!("{}", status::render_text(&report, config.timezone()));
    }
    report.exit_code
}

/// One file's result line, its issues and where its reports are.
fn print_sent_file(f: &rnds_drop::service::SentFile) {
    let s = &f.summary;
    if let Some(error) = &s.error {
        println!("✗ {}: não foi possível ler o arquivo: {error}", s.file);
    } else {
        println!(
            "{} {}: {} · {} · {} · {} · {} · {} pela RNDS · {}{}",
            if s.rows_invalid + s.rows_rejected.unwrap_or(0) + s.rows_pending.unwrap_or(0) == 0 {
                "✓"
            } else {
                "✗"
            },
            s.file,
            count(s.rows_total, "linha", "linhas"),
            count(s.rows_sent.unwrap_or(0), "enviada", "enviadas"),
            count(s.rows_replaced.unwrap_or(0), "substituída", "substituídas"),
            count(
                s.rows_already_sent.unwrap_or(0),
                "já enviada",
                "já enviadas"
            ),
            count(s.rows_invalid, "inválida", "inválidas"),
            count(s.rows_rejected.unwrap_or(0), "recusada", "recusadas"),
            count(s.rows_pending.unwrap_or(0), "pendente", "pendentes"),
            if s.rows_skipped > 0 {
                format!(
                    " · {}{}",
                    count(s.rows_skipped, "ignorada", "ignoradas"),
                    skipped_note(s)
                )
            } else {
                String::new()
            },
        );
        print_file_issues(s);
        println!("  enviados: {}", f.paths.sent_csv.display());
        if s.rows_invalid + s.rows_rejected.unwrap_or(0) > 0 {
            println!("  corrija: {}", f.paths.errors_xlsx.display());
        }
    }
    println!("  resumo: {}", f.paths.summary.display());
    if let Some(message) = &f.config_error {
        eprintln!("✗ erro de configuração informado pela RNDS: {message}");
        eprintln!("  rode `rnds-drop doctor` e corrija a configuração; as linhas não enviadas ficaram pendentes");
    }
}

fn run_send(args: &CheckArgs) -> i32 {
    let (config, runtime) = match config_and_runtime(&args.config, Purpose::Network) {
        Ok(both) => both,
        Err(code) => return code,
    };
    if let Err(code) = init_logs(LogFormat::Text, "warn", Some(&config)) {
        return code;
    }
    let progress: Vec<FileBar> = args
        .files
        .iter()
        .map(|f| FileBar::new(f, &check::stem(f)))
        .collect();
    let mut last = 0;
    let mut report = |index: usize, rows: u64| {
        // Each file's bar ends when the next one starts.
        if index != last {
            if let Some(p) = progress.get(last) {
                p.finish();
            }
            last = index;
        }
        if let Some(p) = progress.get(index) {
            p.update(rows);
        }
    };
    let sent = runtime.block_on(rnds_drop::service::send_files(
        &config,
        &args.files,
        &args.out,
        &mut report,
    ));
    for p in &progress {
        p.finish();
    }
    let files = match sent {
        Ok(files) => files,
        Err(e) => {
            eprintln!("✗ {e}");
            return if e.is_configuration() {
                exit::CONFIG
            } else if e.is_temporary() {
                eprintln!(
                    "! nada foi enviado: conecte o token e rode o mesmo comando de novo; nada \
                     será enviado duas vezes"
                );
                exit::PENDING
            } else {
                exit::INTERNAL
            };
        }
    };
    let (mut config_error, mut pending, mut unreadable, mut failed) = (false, false, false, false);
    for f in &files {
        print_sent_file(f);
        let s = &f.summary;
        config_error |= f.config_error.is_some();
        pending |= !f.pending.is_empty();
        unreadable |= f.unreadable;
        failed |= s.rows_invalid > 0 || s.rows_rejected.unwrap_or(0) > 0;
    }
    if config_error {
        exit::CONFIG
    } else if pending {
        eprintln!("! há linhas pendentes (RNDS inacessível): rode o mesmo comando de novo mais tarde; nada será enviado duas vezes");
        exit::PENDING
    } else if unreadable {
        exit::UNREADABLE
    } else if failed {
        exit::ROWS_INVALID
    } else {
        exit::OK
    }
}

fn run_service(args: &RunArgs) -> i32 {
    let (config, runtime) = match config_and_runtime(&args.config, Purpose::Service) {
        Ok(both) => both,
        Err(code) => return code,
    };
    if let Err(code) = init_logs(args.log_format, "info", Some(&config)) {
        return code;
    }
    let result = runtime.block_on(rnds_drop::service::run(config, shutdown_signal()));
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            tracing::error!("{e}");
            if e.is_configuration() {
                exit::CONFIG
            } else if e.is_temporary() {
                tracing::error!(
                    "o serviço para e é iniciado de novo pelo gerenciador de serviços; conecte o \
                     token para que os envios comecem. Os exames ficam aguardando e nada será \
                     enviado duas vezes"
                );
                exit::PENDING
            } else {
                exit::INTERNAL
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM (Unix), or on Ctrl+C, Ctrl+Break or the
/// console closing (Windows; the service manager's stop arrives through
/// `servico`): the same graceful stop everywhere.
async fn shutdown_signal() {
    stop_requested().await;
    tracing::info!("sinal de parada recebido: terminando os envios em andamento");
}

#[cfg(unix)]
async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(windows)]
async fn stop_requested() {
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_shutdown};
    let (Ok(mut brk), Ok(mut close), Ok(mut shutdown)) =
        (ctrl_break(), ctrl_close(), ctrl_shutdown())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
        _ = shutdown.recv() => {}
    }
}

fn run_demo(args: &DemoArgs) -> i32 {
    let _ = init_logs(LogFormat::Text, "warn", None);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    println!("rnds-drop demo: simulador local da RNDS, pasta de entrada e relatórios (sem rede)…");
    match runtime.block_on(rnds_drop::demo::run_demo(args.dir.clone())) {
        Ok(d) => {
            let ws = &d.workspace;
            println!();
            println!("✓ Demonstração concluída.");
            println!(
                "  {} linhas lidas · {} chegaram à RNDS simulada · {} com problema (veja os relatórios)",
                d.rows_total, d.rows_sent, d.rows_invalid
            );
            println!("  documentos no simulador: {}", d.documents);
            println!();
            println!("  Pasta de trabalho:   {}", ws.root.display());
            println!("  Entrada (já lida):   {}", ws.inbox.display());
            println!("  Relatórios:          {}", ws.outbox.display());
            for r in &d.reports {
                println!(
                    "    - {}",
                    r.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                );
            }
            println!("  Configuração:        {}", ws.config_path.display());
            println!("  Registro de envios:  {}", ws.ledger.display());
            println!();
            println!("Os arquivos *.erros.xlsx mostram o que corrigir (corrija no Excel); *.enviados.csv traz o número RNDS de cada exame.");
            println!("A demonstração terminou: nada vigia mais a pasta de entrada. Para continuar, com o simulador");
            println!(
                "(`rnds-drop simulate`, em outro terminal) ou a RNDS de verdade, rode o serviço:"
            );
            println!("  rnds-drop run --config {}", ws.config_path.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("✗ a demonstração falhou: {e}");
            exit::INTERNAL
        }
    }
}

// glibc malloc spends a fifth of `check`'s time consolidating chunks freed on
// rayon threads that the reader thread allocated; mimalloc's per-thread heaps
// don't.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
