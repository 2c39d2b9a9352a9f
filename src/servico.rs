//! `rnds-drop servico instalar|remover|executar`: the Windows service
//! commands (pt-BR names, as lab IT types them). The decisions live in
//! `rnds_drop::winservice`; this is the command-line edge. On other
//! systems the commands explain that Linux uses the `.deb` and systemd.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit;

#[derive(Debug, Subcommand)]
pub(crate) enum ServicoCommand {
    /// Registra o rnds-drop como serviço do Windows (início automático). Rode como Administrador.
    Instalar {
        /// Arquivo de configuração (padrão: %ProgramData%\rnds-drop\rnds-drop.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Para e remove o serviço do Windows (configuração, registro de envios e logs ficam).
    Remover,
    /// Roda como serviço (iniciado pelo Windows, não à mão).
    #[command(hide = true)]
    Executar {
        /// Arquivo de configuração.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[cfg(windows)]
pub(crate) fn run(command: ServicoCommand) -> i32 {
    use rnds_drop::winservice::{self, scm, DefaultPaths, SetupError};
    let config_or_default =
        |config: Option<PathBuf>| config.unwrap_or_else(|| DefaultPaths::from_env().config);
    let fail = |e: SetupError| {
        eprintln!("✗ {e}");
        match e {
            SetupError::Config(_) | SetupError::Path { .. } => exit::CONFIG,
            _ => exit::INTERNAL,
        }
    };
    match command {
        ServicoCommand::Instalar { config } => {
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => {
                    eprintln!("✗ não foi possível saber onde está o rnds-drop.exe: {e}");
                    return exit::INTERNAL;
                }
            };
            let plan = match winservice::install_plan(&exe, &config_or_default(config)) {
                Ok(plan) => plan,
                Err(e) => return fail(e),
            };
            match scm::install(&plan) {
                Ok(()) => {
                    println!("✓ serviço \"{}\" instalado (início automático).", plan.name);
                    println!("  configuração: {}", plan.config.display());
                    println!(
                        "  registros (log): {}",
                        DefaultPaths::logs_for(&plan.config).display()
                    );
                    println!("  inicie agora com: sc.exe start {}", plan.name);
                    exit::OK
                }
                Err(e) => fail(e),
            }
        }
        ServicoCommand::Remover => match scm::remove(std::time::Duration::from_secs(60)) {
            Ok(()) => {
                println!("✓ serviço \"{}\" removido. Configuração, registro de envios e logs foram mantidos.", winservice::SERVICE_NAME);
                exit::OK
            }
            Err(e) => fail(e),
        },
        ServicoCommand::Executar { config } => match scm::run(&config_or_default(config)) {
            Ok(code) => code,
            Err(e) => fail(e),
        },
    }
}

#[cfg(not(windows))]
pub(crate) fn run(_command: ServicoCommand) -> i32 {
    eprintln!(
        "✗ `rnds-drop servico` é para o Windows. No Linux, instale o pacote .deb: \
         ele traz o serviço systemd (systemctl enable --now rnds-drop)."
    );
    exit::CONFIG
}
