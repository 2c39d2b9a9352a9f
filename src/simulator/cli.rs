//! `rnds-drop simulate`: the simulator's command-line arguments and a
//! blocking runner that prints how to reach it and serves until Ctrl-C.
//!
//! Invariant: argument parsing and printing only; the simulator is `super`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Faults, SimError, SimOptions};

/// Runs a local RNDS (mutual TLS, real rules, fault injection).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Folder for the certificates, the config snippet and stored documents.
    #[arg(long, default_value = "./rnds-simulador")]
    pub dir: PathBuf,
    /// Fixed delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Extra random delay up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Share (0.0–1.0) of bundle POSTs answered 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_5xx_rate: f64,
    /// Share (0.0–1.0) of bundle POSTs answered 429.
    #[arg(long = "rate-429", default_value_t = 0.0)]
    pub rate_429: f64,
    /// `Retry-After` of the 429 answers, in seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after_s: u64,
    /// Share (0.0–1.0) of accepted bundles whose answer is lost (stored, connection dropped).
    #[arg(long, default_value_t = 0.0)]
    pub lost_answer_rate: f64,
    /// Share (0.0–1.0) of bundle POSTs held for --stall-ms before they are processed (time-outs).
    #[arg(long, default_value_t = 0.0)]
    pub stall_rate: f64,
    /// How long a stalled bundle POST is held, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub stall_ms: u64,
    /// Share (0.0–1.0) of bundle POSTs answered 302 to a page that says 200 (nothing stored).
    #[arg(long, default_value_t = 0.0)]
    pub redirect_rate: f64,
    /// Token lifetime in seconds (RNDS: 1800).
    #[arg(long, default_value_t = 1800)]
    pub token_lifetime_s: u64,
}

impl SimulateArgs {
    pub(crate) fn options(&self) -> SimOptions {
        SimOptions {
            dir: self.dir.clone(),
            listen: self.listen,
            faults: Faults {
                latency_ms: self.latency_ms,
                jitter_ms: self.jitter_ms,
                error_5xx_rate: self.error_5xx_rate,
                rate_429: self.rate_429,
                retry_after_s: self.retry_after_s,
                lost_answer_rate: self.lost_answer_rate,
                stall_rate: self.stall_rate,
                stall_ms: self.stall_ms,
                redirect_rate: self.redirect_rate,
            },
            token_lifetime: Duration::from_secs(self.token_lifetime_s),
        }
    }
}

/// Starts the simulator, prints its URL, files and a curl command, and
/// serves until Ctrl-C.
pub fn run(args: SimulateArgs) -> Result<(), SimError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(SimError::Runtime)?;
    runtime.block_on(async {
        let sim = super::start(args.options()).await?;
        let files = sim.files();
        println!("Simulador RNDS em {}", sim.base_url());
        println!("  CA de teste:        {}", files.ca_pem.display());
        println!("  certificado (PFX):  {}", files.lab_pfx.display());
        println!(
            "  senha do PFX em:    {}",
            files.lab_pfx_password_file.display()
        );
        println!("  configuração:       {}", files.config_toml.display());
        println!("Teste com:");
        println!(
            "  curl --cert-type P12 --cert {}:\"$(cat {})\" --cacert {} {}/api/token",
            files.lab_pfx.display(),
            files.lab_pfx_password_file.display(),
            files.ca_pem.display(),
            sim.base_url()
        );
        println!(
            "Documentos recebidos: {}/_sim/documents (Ctrl-C para encerrar)",
            sim.base_url()
        );
        let _ = tokio::signal::ctrl_c().await;
        sim.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    #[test]
    fn knobs_parse_into_options() {
        let cli = Cli::try_parse_from([
            "simulate",
            "--listen",
            "127.0.0.1:9443",
            "--dir",
            "/tmp/sim",
            "--latency-ms",
            "20",
            "--jitter-ms",
            "5",
            "--error-5xx-rate",
            "0.1",
            "--rate-429",
            "0.2",
            "--retry-after-s",
            "3",
            "--lost-answer-rate",
            "0.05",
            "--stall-rate",
            "0.3",
            "--stall-ms",
            "1500",
            "--redirect-rate",
            "0.4",
            "--token-lifetime-s",
            "60",
        ])
        .unwrap();
        let o = cli.args.options();
        assert_eq!(o.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(o.dir, PathBuf::from("/tmp/sim"));
        assert_eq!(
            o.faults,
            Faults {
                latency_ms: 20,
                jitter_ms: 5,
                error_5xx_rate: 0.1,
                rate_429: 0.2,
                retry_after_s: 3,
                lost_answer_rate: 0.05,
                stall_rate: 0.3,
                stall_ms: 1500,
                redirect_rate: 0.4,
            }
        );
        assert_eq!(o.token_lifetime, Duration::from_secs(60));
        let defaults = Cli::try_parse_from(["simulate"]).unwrap().args.options();
        assert_eq!(defaults.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(
            defaults.faults,
            Faults {
                retry_after_s: 1,
                ..Faults::default()
            }
        );
        assert_eq!(defaults.token_lifetime, Duration::from_secs(1800));
    }
}
