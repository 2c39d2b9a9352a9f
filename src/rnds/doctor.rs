//! `rnds-drop doctor`: the pre-flight a lab's IT runs before anything else.
//! Each check prints one line with ✓ or ✗ and, on failure, what to do (pt-BR);
//! a check whose prerequisite failed is shown as not verified.
//!
//! Invariant: uses only the public [`Client`]; knows nothing of rows, files
//! to send or the ledger, and never prints the password or the token.
//! (The certificate's chain and the test signature come from the loaded
//! identity, `tls::Identity`, before any client exists.)

use std::io::Write;
use std::path::Path;

mod folders;
mod tokens;

use super::tls::{ChainEnd, Identity};
use super::{Client, ClientError, Outcome};
use crate::config::{Config, Environment};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Passed,
    /// Something in the configuration, the certificate or the accreditation.
    ConfigurationProblem,
    /// RNDS (or the network to it) could not be reached.
    Unreachable,
    /// Not run because an earlier check failed.
    NotVerified,
    /// Passed, with something to act on soon (certificate near expiry,
    /// files others can read). Does not change the exit code.
    Warning,
    /// Cannot be checked without a side effect this environment forbids
    /// (nothing is ever posted to production). Does not change the exit code.
    NotCheckable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: CheckStatus,
    /// What was found (✓) or what went wrong and what to do (✗).
    pub detail: String,
}

/// The checks `doctor` ran, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// One entry per check.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    pub(crate) fn passed(&self) -> bool {
        self.checks.iter().all(|c| {
            matches!(
                c.status,
                CheckStatus::Passed | CheckStatus::Warning | CheckStatus::NotCheckable
            )
        })
    }

    /// 0 every check passed, 3 a configuration problem, 4 RNDS unreachable.
    pub fn exit_code(&self) -> i32 {
        let any = |s| self.checks.iter().any(|c| c.status == s);
        if any(CheckStatus::ConfigurationProblem) {
            3
        } else if any(CheckStatus::Unreachable) {
            4
        } else if self.passed() {
            0
        } else {
            3
        }
    }

    #[cfg(test)]
    pub(crate) fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Check names, the values of [`Check::name`].
pub(crate) mod names {
    pub(crate) const CONFIG: &str = "configuração";
    pub(crate) const FOLDERS: &str = "pastas";
    pub(crate) const TOKENS: &str = "tokens PKCS#11";
    pub(crate) const CERTIFICATE: &str = "certificado";
    pub(crate) const CHAIN: &str = "cadeia";
    pub(crate) const KEY: &str = "chave privada";
    pub(crate) const TOKEN: &str = "token";
    pub(crate) const ORGANIZATION: &str = "estabelecimento (CNES)";
    pub(crate) const LINK: &str = "vínculo do profissional";
    pub(crate) const REQUESTER: &str = "identificador do solicitante";
}

struct Printer<'a, W: Write> {
    out: &'a mut W,
    report: DoctorReport,
}

impl<W: Write> Printer<'_, W> {
    fn record(&mut self, name: &'static str, status: CheckStatus, detail: String) {
        let mark = match status {
            CheckStatus::Passed => "✓",
            CheckStatus::Warning => "!",
            CheckStatus::NotVerified | CheckStatus::NotCheckable => "–",
            _ => "✗",
        };
        // A closed stdout must not hide the exit code.
        let _ = writeln!(self.out, "{mark} {name}: {detail}");
        self.report.checks.push(Check {
            name,
            status,
            detail,
        });
    }

    fn passed(&mut self, name: &'static str, detail: String) {
        self.record(name, CheckStatus::Passed, detail);
    }

    fn failed(&mut self, name: &'static str, error: &ClientError) {
        let (status, detail) = match error {
            ClientError::Config(m) => (CheckStatus::ConfigurationProblem, m.clone()),
            ClientError::Unreachable(m) => (
                CheckStatus::Unreachable,
                format!(
                    "{m}. O que fazer: confira a conexão com a internet, o proxy e o firewall \
                     (saída HTTPS, porta 443) e tente de novo"
                ),
            ),
            ClientError::Answer { .. } | ClientError::Refused(_) => {
                (CheckStatus::ConfigurationProblem, error.to_string())
            }
        };
        self.record(name, status, detail);
    }

    fn not_verified(&mut self, names: &[&'static str]) {
        for name in names {
            self.record(
                name,
                CheckStatus::NotVerified,
                "não verificado (depende da verificação anterior)".into(),
            );
        }
    }
}

/// Runs every check against the RNDS of `config_path`, printing as it goes.
/// A check that fails leaves the ones that depend on it "not verified".
pub async fn run_doctor(config_path: &Path, out: &mut impl Write) -> DoctorReport {
    use names::{CERTIFICATE, CHAIN, FOLDERS, KEY, LINK, ORGANIZATION, REQUESTER, TOKEN};
    let mut p = Printer {
        out,
        report: DoctorReport::default(),
    };
    let Some(config) = load_config(&mut p, config_path) else {
        p.not_verified(&[
            FOLDERS,
            CERTIFICATE,
            CHAIN,
            KEY,
            TOKEN,
            ORGANIZATION,
            LINK,
            REQUESTER,
        ]);
        return p.report;
    };
    let (status, detail) = folders::check_folders(&config);
    p.record(FOLDERS, status, detail);
    if let Some((status, detail)) = tokens::check_tokens(&config) {
        p.record(names::TOKENS, status, detail);
    }
    let Some(client) = certificate(&mut p, &config) else {
        p.not_verified(&[TOKEN, ORGANIZATION, LINK, REQUESTER]);
        return p.report;
    };
    if !token(&mut p, &client).await {
        p.not_verified(&[ORGANIZATION, LINK, REQUESTER]);
        return p.report;
    }
    organization(&mut p, &client, &config).await;
    practitioner_link(&mut p, &client, &config).await;
    if config.rnds.environment == Environment::Producao {
        requester_in_production(&mut p, &client, &config).await;
    } else {
        requester_probe(&mut p, &client, &config).await;
    }
    p.report
}

fn load_config<W: Write>(p: &mut Printer<'_, W>, config_path: &Path) -> Option<Config> {
    use names::CONFIG;
    match Config::load(config_path) {
        Ok(config) => {
            p.passed(CONFIG, format!("{} lida e válida", config_path.display()));
            Some(config)
        }
        Err(e) => {
            p.record(
                CONFIG,
                CheckStatus::ConfigurationProblem,
                match e.to_string() {
                    text if text.contains("O que fazer") => text,
                    text => {
                        format!("{text}. O que fazer: corrija o arquivo e rode o doctor de novo")
                    }
                },
            );
            None
        }
    }
}

/// The client's identity loads; its certificate is shown with its
/// warnings, then the chain it carries and a test signature with its key
/// (the proof that the key is the certificate's and signs); the client is
/// built only when the key signs.
fn certificate<W: Write>(p: &mut Printer<'_, W>, config: &Config) -> Option<Client> {
    use names::{CERTIFICATE, CHAIN, KEY};
    let identity =
        match Identity::load_for_inspection(&config.rnds, super::tls::SigningFailures::default()) {
            Ok(identity) => identity,
            Err(e) => {
                p.failed(CERTIFICATE, &e);
                p.not_verified(&[CHAIN, KEY]);
                return None;
            }
        };
    let signature = identity.test_signature();
    let client = match (Client::new(config), &signature) {
        (Ok(client), _) => Some(client),
        // A key that does not sign says so on its own line below.
        (Err(_), Err(_)) => None,
        (Err(e), Ok(_)) => {
            p.failed(CERTIFICATE, &e);
            p.not_verified(&[CHAIN, KEY]);
            return None;
        }
    };
    let simulator = config.rnds.environment == Environment::Simulador;
    certificate_line(p, config, &identity);
    chain_line(p, &identity, simulator);
    match signature {
        Ok(scheme) => p.passed(
            KEY,
            format!(
                "a chave privada assina (assinatura de teste verificada com a chave pública do \
                 certificado; {scheme:?})"
            ),
        ),
        Err(message) => {
            p.record(KEY, CheckStatus::ConfigurationProblem, message);
            return None;
        }
    }
    client
}

/// Subject, CNPJ/CPF, issuer and validity; ✗ outside the simulator when
/// the issuer is no ICP-Brasil authority.
fn certificate_line<W: Write>(p: &mut Printer<'_, W>, config: &Config, identity: &Identity) {
    use names::CERTIFICATE;
    let info = identity.info();
    let number = info
        .cnpj_or_cpf
        .as_deref()
        .map(|n| match n.len() {
            14 => format!(" · CNPJ {n}"),
            _ => format!(" · CPF {n}"),
        })
        .unwrap_or_default();
    let detail = format!(
        "{}{number} · emitido por {} · {}",
        info.subject,
        info.issuer,
        info.validity_text()
    );
    if !info.icp_brasil && config.rnds.environment != Environment::Simulador {
        p.record(
            CERTIFICATE,
            CheckStatus::ConfigurationProblem,
            format!(
                "{detail}. O certificado não é da ICP-Brasil (o emissor não é uma autoridade \
                 certificadora ICP-Brasil) e a RNDS de {} o recusará. O que fazer: use em \
                 [rnds] certificate o certificado e-CNPJ (ou e-CPF) A1 ICP-Brasil do \
                 laboratório, exportado com a chave privada e a cadeia",
                match config.rnds.environment {
                    Environment::Producao => "produção",
                    _ => "homologação",
                }
            ),
        );
        return;
    }
    let mut warnings: Vec<String> = info
        .expiry_warning(chrono::Utc::now())
        .into_iter()
        .collect();
    warnings.extend(identity.file_warnings().iter().cloned());
    if warnings.is_empty() {
        p.passed(CERTIFICATE, detail);
    } else {
        p.record(
            CERTIFICATE,
            CheckStatus::Warning,
            format!("{detail}. Atenção: {}", warnings.join(". Atenção: ")),
        );
    }
}

/// Each certificate of the chain, leaf first (subject → issuer), and
/// whether it ends at an AC Raiz da ICP-Brasil.
fn chain_line<W: Write>(p: &mut Printer<'_, W>, identity: &Identity, simulator: bool) {
    use names::CHAIN;
    let view = match identity.chain_view() {
        Ok(view) => view,
        Err(message) => {
            p.record(CHAIN, CheckStatus::ConfigurationProblem, message);
            return;
        }
    };
    let mut detail = view.names.join(" → ");
    if view.unrelated > 0 {
        detail.push_str(&format!(
            " (e {} certificado(s) fora desse caminho)",
            view.unrelated
        ));
    }
    let (status, text) = match view.end {
        ChainEnd::IcpBrasilRoot => (
            CheckStatus::Passed,
            "termina numa AC Raiz da ICP-Brasil".to_string(),
        ),
        _ if simulator => (
            CheckStatus::Passed,
            "não termina numa AC Raiz da ICP-Brasil (aceito só no simulador)".to_string(),
        ),
        ChainEnd::Incomplete => (
            CheckStatus::Warning,
            "a cadeia no certificado para antes da AC Raiz da ICP-Brasil (faltam as ACs \
             intermediárias). O que fazer: se a RNDS recusar o certificado, exporte-o de novo \
             marcando \"Incluir todos os certificados no caminho de certificação\""
                .to_string(),
        ),
        ChainEnd::OtherRoot => (
            CheckStatus::ConfigurationProblem,
            "termina numa raiz que não é uma AC Raiz da ICP-Brasil: a RNDS recusará o \
             certificado. O que fazer: use o certificado ICP-Brasil do laboratório"
                .to_string(),
        ),
    };
    p.record(CHAIN, status, format!("{detail} · {text}"));
}

async fn token<W: Write>(p: &mut Printer<'_, W>, client: &Client) -> bool {
    use names::TOKEN;
    match client.token().await {
        Ok(lifetime) => {
            p.passed(
                TOKEN,
                format!(
                    "obtido em {} (válido por {})",
                    client.endpoints().auth,
                    match lifetime.as_secs() {
                        s if s >= 120 => format!("{} min", s / 60),
                        s => format!("{s} s"),
                    }
                ),
            );
            true
        }
        Err(e) => {
            p.failed(TOKEN, &e);
            false
        }
    }
}

async fn organization<W: Write>(p: &mut Printer<'_, W>, client: &Client, config: &Config) {
    use names::ORGANIZATION;
    let cnes = &config.lab.cnes;
    match client.organization(cnes).await {
        Ok(Some(name)) if name.is_empty() => {
            p.passed(ORGANIZATION, format!("Organization/{cnes} existe"))
        }
        Ok(Some(name)) => p.passed(ORGANIZATION, format!("Organization/{cnes} existe ({name})")),
        Ok(None) => p.record(
            ORGANIZATION,
            CheckStatus::ConfigurationProblem,
            format!(
                "o CNES {cnes} não existe na RNDS. O que fazer: confira [lab] cnes (7 dígitos, \
                 o do estabelecimento credenciado)"
            ),
        ),
        Err(e) => p.failed(ORGANIZATION, &e),
    }
}

async fn practitioner_link<W: Write>(p: &mut Printer<'_, W>, client: &Client, config: &Config) {
    use names::LINK;
    let cnes = &config.lab.cnes;
    let cns = &config.lab.requester_cns;
    match client.practitioner_role(cns, cnes).await {
        Ok(true) => p.passed(
            LINK,
            format!("o profissional {cns} tem vínculo com o CNES {cnes}"),
        ),
        Ok(false) => p.record(
            LINK,
            CheckStatus::ConfigurationProblem,
            format!(
                "o profissional {cns} ([lab] requester_cns) não tem vínculo com o CNES {cnes}; \
                 a RNDS recusaria os envios (EHR-ERR906). O que fazer: peça ao gestor que \
                 cadastre o vínculo no SCNES ou informe o CNS de um profissional vinculado"
            ),
        ),
        Err(e) => p.failed(LINK, &e),
    }
}

/// Nothing may be posted to production: a read-only lookup with the
/// requester's identifier system is the most that can be asked.
async fn requester_in_production<W: Write>(
    p: &mut Printer<'_, W>,
    client: &Client,
    config: &Config,
) {
    use names::REQUESTER;
    match client
        .find_document(&format!("rnds-drop-doctor-{}", uuid::Uuid::new_v4()))
        .await
    {
        Err(ClientError::Config(message)) => {
            p.record(REQUESTER, CheckStatus::ConfigurationProblem, message)
        }
        Err(e @ ClientError::Unreachable(_)) => p.failed(REQUESTER, &e),
        Ok(_) | Err(_) => p.record(
            REQUESTER,
            CheckStatus::NotCheckable,
            format!(
                "não verificável em produção sem enviar um documento, e o doctor nunca envia \
                 nada à produção: BRRNDS-{} é confirmado no primeiro envio (se a RNDS o \
                 recusar, EHR-ERR881, o serviço para com o código 3 e nada é gravado)",
                config.lab.requester_id
            ),
        ),
    }
}

/// An empty probe under the requester's system: refused for its content
/// (nothing stored) means the system itself was accepted.
async fn requester_probe<W: Write>(p: &mut Printer<'_, W>, client: &Client, config: &Config) {
    use names::REQUESTER;
    match client.probe_requester().await {
        Outcome::Rejected { .. } | Outcome::DuplicateIdentifier { .. } => p.passed(
            REQUESTER,
            format!(
                "BRRNDS-{} não foi recusado numa sonda sem conteúdo (nada foi gravado); a \
                 confirmação definitiva vem com o primeiro envio",
                config.lab.requester_id
            ),
        ),
        Outcome::Accepted { rnds_id } => p.record(
            REQUESTER,
            CheckStatus::ConfigurationProblem,
            format!(
                "a RNDS aceitou a sonda vazia (id {rnds_id}), o que não deveria acontecer; \
                 informe o suporte da RNDS"
            ),
        ),
        Outcome::ConfigurationError { message } => {
            p.record(REQUESTER, CheckStatus::ConfigurationProblem, message)
        }
        Outcome::Transient { message } | Outcome::Unknown { message } => {
            p.failed(REQUESTER, &ClientError::Unreachable(message))
        }
    }
}
