//! `rnds-drop simulate`: the simulator's command-line arguments and a
//! blocking runner that prints how to reach it and serves until Ctrl-C.
//!
//! Invariant: argument parsing and printing only; the simulator is `super`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Faults, ServerCapacity, SimError, SimOptions};

/// Roda uma RNDS local (TLS mútuo, regras reais, falhas simuladas).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Endereço e porta em que escuta.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Pasta dos certificados, do trecho de configuração e dos documentos recebidos.
    #[arg(long, default_value = "./rnds-simulador")]
    pub dir: PathBuf,
    /// Atraso fixo em cada resposta, em milissegundos (com --capacity, o
    /// tempo que cada requisição ocupa um atendente).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requisições FHIR atendidas ao mesmo tempo (0: sem limite). As demais
    /// esperam na fila; com a fila cheia, a resposta é 429 com Retry-After.
    /// A latência cresce com a carga (o tempo na fila).
    #[arg(long, default_value_t = 0)]
    pub capacity: usize,
    /// Requisições que podem esperar na fila com --capacity (padrão: o
    /// mesmo número de --capacity).
    #[arg(long, requires = "capacity")]
    pub queue: Option<usize>,
    /// Atraso aleatório extra, até tantos milissegundos.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Fração (0.0–1.0) dos envios respondidos com 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_5xx_rate: f64,
    /// Fração (0.0–1.0) dos envios respondidos com 429.
    #[arg(long = "rate-429", default_value_t = 0.0)]
    pub rate_429: f64,
    /// Fração (0.0–1.0) dos envios respondidos com 503 (nada gravado).
    #[arg(long = "rate-503", default_value_t = 0.0)]
    pub rate_503: f64,
    /// `Retry-After` das respostas 429, em segundos.
    #[arg(long, default_value_t = 1)]
    pub retry_after_s: u64,
    /// Fração (0.0–1.0) dos envios aceitos cuja resposta se perde (gravado, conexão cortada).
    #[arg(long, default_value_t = 0.0)]
    pub lost_answer_rate: f64,
    /// Responde a todo envio com este código de erro da RNDS (ex.: ERR880;
    /// os códigos de schemas/rnds_errors.toml). Um bundle cujo identificador
    /// é SIMULAR-<código> recebe essa resposta sem esta opção.
    #[arg(long, value_parser = known_code)]
    pub answer_code: Option<String>,
    /// Fração (0.0–1.0) dos envios retidos por --stall-ms antes de serem tratados (tempo esgotado).
    #[arg(long, default_value_t = 0.0)]
    pub stall_rate: f64,
    /// Quanto tempo um envio retido fica parado, em milissegundos.
    #[arg(long, default_value_t = 0)]
    pub stall_ms: u64,
    /// Fração (0.0–1.0) dos envios respondidos com 302 para uma página que diz 200 (nada gravado).
    #[arg(long, default_value_t = 0.0)]
    pub redirect_rate: f64,
    /// Validade do token em segundos (RNDS: 1800).
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
                rate_503: self.rate_503,
                retry_after_s: self.retry_after_s,
                lost_answer_rate: self.lost_answer_rate,
                answer_code: self.answer_code.clone(),
                stall_rate: self.stall_rate,
                stall_ms: self.stall_ms,
                redirect_rate: self.redirect_rate,
            },
            token_lifetime: Duration::from_secs(self.token_lifetime_s),
            capacity: (self.capacity > 0).then(|| ServerCapacity {
                workers: self.capacity,
                queue: self.queue.unwrap_or(self.capacity),
            }),
        }
    }
}

/// A code of the RNDS error table, as RNDS writes it (`ERR880`, `EHR-ERR880`).
fn known_code(code: &str) -> Result<String, String> {
    crate::rnds_errors::catalogue()
        .get(code)
        .map(|entry| entry.code.clone())
        .ok_or_else(|| format!("\"{code}\" não está em schemas/rnds_errors.toml"))
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
            "--rate-503",
            "0.25",
            "--capacity",
            "16",
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
            "--answer-code",
            "EHR-ERR880",
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
                rate_503: 0.25,
                retry_after_s: 3,
                lost_answer_rate: 0.05,
                answer_code: Some("ERR880".into()),
                stall_rate: 0.3,
                stall_ms: 1500,
                redirect_rate: 0.4,
            }
        );
        assert_eq!(o.token_lifetime, Duration::from_secs(60));
        // The queue defaults to as many as the workers.
        assert_eq!(
            o.capacity,
            Some(ServerCapacity {
                workers: 16,
                queue: 16
            })
        );
        let queued = Cli::try_parse_from(["simulate", "--capacity", "4", "--queue", "0"]).unwrap();
        assert_eq!(
            queued.args.options().capacity,
            Some(ServerCapacity {
                workers: 4,
                queue: 0
            })
        );
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
        assert_eq!(defaults.capacity, None);
    }

    #[test]
    fn an_answer_code_outside_the_table_is_refused() {
        let error = Cli::try_parse_from(["simulate", "--answer-code", "ERR871"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("schemas/rnds_errors.toml"), "{error}");
    }
}
