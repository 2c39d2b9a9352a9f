//! The one TOML file a lab's IT writes. Unknown keys are refused; units are
//! in key names; tuning knobs have defaults, endpoints and credentials are
//! required. Relative paths are resolved against the config file's folder.
//!
//! Invariant: this module knows nothing of clap, files' contents or the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::layout::{Analytes, Compose, LayoutSpec, Select, Target};
use crate::model::Field;

pub(crate) mod certificate_store;
#[cfg(test)]
mod layout_keys_tests;
mod messages;
#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
/// Why the configuration file could not be used; messages are pt-BR.
pub enum ConfigError {
    /// `reason` is already pt-BR (see [`crate::io_text`]).
    #[error("não foi possível ler o arquivo de configuração {path}: {reason}. O que fazer: confira o caminho dado em --config")]
    /// The configuration file could not be read.
    Read {
        /// The configuration file given in `--config`.
        path: PathBuf,
        /// The operating system's reason, in pt-BR.
        reason: String,
    },
    /// A TOML or type mistake; `message` names the section and key and
    /// never repeats the line (it may hold a password).
    #[error("configuração inválida em {}{}: {message}", path.display(), line_suffix(*line))]
    Parse {
        /// The configuration file.
        path: PathBuf,
        /// Line of the mistake, when known.
        line: Option<usize>,
        /// pt-BR text naming the section and key.
        message: String,
    },
    /// A value that parses but cannot be right.
    #[error("configuração inválida em {}{}: {message}", path.display(), line_suffix(*line))]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// Line of the mistake, when known.
        line: Option<usize>,
        /// pt-BR text naming the section and key.
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", linha {l}")).unwrap_or_default()
}

/// What the configuration is loaded for: which sections it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `check`: offline, `[rnds]` may be absent (a lab checks files before
    /// it has a certificate).
    Offline,
    /// `doctor`, `send`, `demo`: `[rnds]` required.
    Network,
    /// `run`: `[rnds]` and at least one `[[inbox]]` required.
    Service,
}

/// A validation problem and where it is: `(header, occurrence, key)`.
struct Problem {
    header: &'static str,
    occurrence: usize,
    key: Option<&'static str>,
    message: String,
}

impl Problem {
    fn at(header: &'static str, key: &'static str, message: String) -> Problem {
        Problem {
            header,
            occurrence: 0,
            key: Some(key),
            message,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who the lab is and where it is.
    pub lab: Lab,
    /// How to reach RNDS and with which credential. Optional only for
    /// `check` (see [`Purpose::Offline`]); [`Rnds::is_configured`] tells.
    #[serde(default = "Rnds::not_configured")]
    pub rnds: Rnds,
    /// Values a file lacks, globally and per exam code.
    #[serde(default)]
    pub defaults: Defaults,
    /// Watched folders; each has its own outbox and mapping tweaks.
    #[serde(default)]
    pub inbox: Vec<Inbox>,
    /// Where the durable record of what was sent lives.
    #[serde(default)]
    pub ledger: Ledger,
    /// Knobs of the long-running service (`rnds-drop run`).
    #[serde(default)]
    pub service: Service,
    /// Optional alerts (e-mail and/or a command) when something needs a person.
    #[serde(default)]
    pub alertas: Option<Alertas>,
}

/// `[alertas]`: messages when rows stay pending, a file fails, RNDS
/// refuses rows, or the certificate is about to expire; at most one
/// message per condition per `repeat_after_s`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alertas {
    /// Rows waiting for RNDS longer than this raise an alert, in seconds.
    #[serde(default = "default_alert_pending_after_s")]
    pub pending_after_s: u64,
    /// A certificate with fewer days left than this raises an alert.
    #[serde(default = "default_alert_certificate_days")]
    pub certificate_days: i64,
    /// At most one message per condition per this period, in seconds.
    #[serde(default = "default_alert_repeat_after_s")]
    pub repeat_after_s: u64,
    /// How often the conditions are checked, in seconds.
    #[serde(default = "default_alert_check_interval_s")]
    pub check_interval_s: u64,
    /// A program and its arguments run once per alert: the message on its
    /// standard input, the subject in the variable `RNDS_DROP_ALERTA`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// E-mail over SMTP with STARTTLS.
    #[serde(default)]
    pub email: Option<AlertEmail>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[alerts.email]`: who is told by e-mail when sending stops.
pub struct AlertEmail {
    /// SMTP server name; its certificate must be valid for this name.
    pub smtp_host: String,
    /// SMTP port (587: submission with STARTTLS, which is required).
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// Sender address, e.g. `rnds-drop@laboratorio.com.br`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// SMTP user, when the server requires authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the SMTP password (never in this TOML).
    #[serde(default)]
    pub password_env: Option<String>,
    /// File whose first line is the SMTP password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust for the SMTP server besides
    /// the standard roots (a corporate CA). Verification is never off.
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// Time-out of the SMTP conversation, in seconds.
    #[serde(default = "default_smtp_timeout_s")]
    pub timeout_s: u64,
}

fn default_alert_pending_after_s() -> u64 {
    7200
}
fn default_alert_certificate_days() -> i64 {
    30
}
fn default_alert_repeat_after_s() -> u64 {
    86_400
}
fn default_alert_check_interval_s() -> u64 {
    60
}
fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_timeout_s() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[lab]`: the lab that signs the results.
pub struct Lab {
    /// The lab's CNES: exactly 7 digits, as in SCNES (a shorter one is refused,
    /// never padded: a leading zero would name another establishment).
    /// Used as `Composition.author` and as the default performer.
    pub cnes: String,
    /// The requester identifier DATASUS issued at accreditation (NOT the
    /// CNES): it goes into `BRRNDS-<requester_id>`.
    pub requester_id: String,
    /// CNS (or CPF) of the health professional on whose behalf the lab
    /// sends (`Authorization` header); its check digits are checked at load.
    pub requester_cns: String,
    /// IANA zone of the lab, e.g. `America/Sao_Paulo`, `America/Manaus`.
    pub timezone: String,
    /// The lab's state (two letters), e.g. `SP`; picks the production host.
    pub uf: String,
    /// CNPJ/CPF to use as author instead of the CNES, for labs registered as
    /// `BRPessoaJuridicaProfissionalLiberal`.
    #[serde(default)]
    pub author_cnpj: Option<String>,
}

/// Which RNDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Homologation (`ehr-auth-hmg`, `ehr-services.hmg`).
    Homologacao,
    /// Production (`ehr-auth`, `<uf>-ehr-services`).
    Producao,
    /// The local simulator (`rnds-drop simulate`); needs `auth_url`/`ehr_url`.
    Simulador,
}

/// Which set of profile versions the bundles declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ProfileSet {
    /// Composition and Observation `-2.0`, Observation with `effectiveDateTime`.
    #[default]
    #[serde(rename = "2.0")]
    V2,
    /// Composition `-1.1`, Observation `-1.0`, no `effective[x]` (2020 homologation).
    #[serde(rename = "1.x")]
    V1,
}

/// Where the lab's certificate and its key live: the text of `[rnds]
/// certificate`, told apart by its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// A PKCS#12 or PEM file (A1); relative paths resolve against the
    /// configuration file's folder.
    File(PathBuf),
    /// An object on a token or smartcard (A3), as its RFC 7512 URI
    /// (`pkcs11:token=…;object=…`), signed through `pkcs11_module`.
    Pkcs11(String),
    /// A Windows certificate store (`store:LocalMachine\My`), whose
    /// certificate `certificate_thumbprint`/`certificate_cnpj` select and
    /// whose key signs through CNG.
    Store(String),
}

impl CertificateSource {
    /// `pkcs11:…` is a token URI, `store:…` a Windows certificate store;
    /// anything else is a file path.
    pub fn parse(text: &str) -> CertificateSource {
        let scheme = text.get(..7).unwrap_or_default();
        if scheme.eq_ignore_ascii_case("pkcs11:") {
            CertificateSource::Pkcs11(text.to_string())
        } else if certificate_store::is_store(Path::new(text)) {
            CertificateSource::Store(text.to_string())
        } else {
            CertificateSource::File(PathBuf::from(text))
        }
    }

    /// The file, when the certificate is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            CertificateSource::File(path) => Some(path),
            CertificateSource::Pkcs11(_) | CertificateSource::Store(_) => None,
        }
    }

    /// The text as written (a path for a file), for the `store:` checks.
    pub(crate) fn as_path(&self) -> &Path {
        match self {
            CertificateSource::File(path) => path,
            CertificateSource::Pkcs11(text) | CertificateSource::Store(text) => Path::new(text),
        }
    }

    /// How messages name it: the file's path or the URI.
    pub fn shown(&self) -> String {
        match self {
            CertificateSource::File(path) => path.display().to_string(),
            CertificateSource::Pkcs11(uri) | CertificateSource::Store(uri) => uri.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for CertificateSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| CertificateSource::parse(&text))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[rnds]`: where and how results are sent.
pub struct Rnds {
    /// `homologacao`, `producao` or `simulador`.
    pub environment: Environment,
    /// `"2.0"` (default) or `"1.x"`.
    #[serde(default)]
    pub profile: ProfileSet,
    /// The lab's ICP-Brasil certificate: a PKCS#12 file (`.pfx`/`.p12`), a
    /// PEM file with the certificate chain (then `certificate_key` too), or
    /// an A3 token's object as an RFC 7512 URI (`pkcs11:token=…;object=…`,
    /// then `pkcs11_module` and `pin_env`/`pin_file`), or on Windows a
    /// certificate store, `store:LocalMachine\My` or `store:CurrentUser\My`
    /// (then `certificate_thumbprint` or `certificate_cnpj` says which
    /// certificate).
    pub certificate: CertificateSource,
    /// With a `store:` certificate: its SHA-1 thumbprint as Windows shows
    /// it (40 hex digits; spaces, colons and case do not matter).
    #[serde(default)]
    pub certificate_thumbprint: Option<String>,
    /// With a `store:` certificate: the CNPJ (or CPF) in its subject,
    /// punctuation allowed; among several, the valid one that expires last.
    #[serde(default)]
    pub certificate_cnpj: Option<String>,
    /// PEM private key, only when `certificate` is a PEM file.
    #[serde(default)]
    pub certificate_key: Option<PathBuf>,
    /// Name of the environment variable that holds the PFX password.
    #[serde(default)]
    pub certificate_password_env: Option<String>,
    /// File whose first line is the PFX password (keep it readable only by
    /// the service account). The password never goes in this TOML.
    #[serde(default)]
    pub certificate_password_file: Option<PathBuf>,
    /// Path of the token vendor's PKCS#11 module (e.g.
    /// `/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so`), only with a
    /// `pkcs11:` certificate.
    #[serde(default)]
    pub pkcs11_module: Option<PathBuf>,
    /// Name of the environment variable that holds the token's PIN.
    #[serde(default)]
    pub pin_env: Option<String>,
    /// File whose first line is the token's PIN (readable only by the
    /// service account). The PIN never goes in this TOML.
    #[serde(default)]
    pub pin_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust besides the standard roots:
    /// the simulator's CA or a corporate proxy's. Verification is never off.
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// Override of the token (auth) base URL, e.g. `https://127.0.0.1:8443`.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Override of the EHR services base URL (the homologation host differs
    /// between sources).
    #[serde(default)]
    pub ehr_url: Option<String>,
    /// The most requests in flight to RNDS at once. Within it the number
    /// adapts (Vector's adaptive request concurrency: starts at 1, grows
    /// by one per round trip while RNDS answers near its fastest, shrinks
    /// on 429, 5xx, time-outs and rising latency). 32 by default: a busy
    /// RNDS at 200 ms then still takes 160 results/s (a 1,000,000-row
    /// backlog in under 2 hours instead of 7 at the old fixed 8), and the
    /// adaptation, not this ceiling, keeps a slower RNDS from overload.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Exactly this many requests in flight, without adapting (the
    /// behaviour before adaptive concurrency); `max_in_flight` is then
    /// not used. Unset by default.
    #[serde(default)]
    pub fixed_in_flight: Option<usize>,
    /// Time-out of one HTTP request, in seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// Retries of a transient failure (429, 5xx, connect error) before the
    /// row is left pending.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First back-off delay, in milliseconds (doubles each retry, full jitter).
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Upper bound of one back-off delay, in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// False when the file has no `[rnds]` section (allowed for `check`).
    #[serde(skip, default = "configured")]
    configured: bool,
}

fn configured() -> bool {
    true
}

impl Rnds {
    /// The most requests in flight at once: `fixed_in_flight` when set,
    /// else the adaptive ceiling `max_in_flight`.
    pub(crate) fn in_flight_ceiling(&self) -> usize {
        self.fixed_in_flight.unwrap_or(self.max_in_flight).max(1)
    }

    /// The keys that say where the certificate is, for
    /// [`certificate_store::store_source`].
    pub(crate) fn certificate_keys(&self) -> certificate_store::CertificateKeys<'_> {
        certificate_store::CertificateKeys {
            certificate: self.certificate.as_path(),
            thumbprint: self.certificate_thumbprint.as_deref(),
            cnpj: self.certificate_cnpj.as_deref(),
            file_keys: [
                ("certificate_key", self.certificate_key.is_some()),
                (
                    "certificate_password_env",
                    self.certificate_password_env.is_some(),
                ),
                (
                    "certificate_password_file",
                    self.certificate_password_file.is_some(),
                ),
            ],
        }
    }

    /// The placeholder of a file without `[rnds]`: it can build bundles
    /// (profile 2.0) but never a client ([`Rnds::is_configured`] is false).
    fn not_configured() -> Rnds {
        Rnds {
            environment: Environment::Homologacao,
            profile: ProfileSet::default(),
            certificate: CertificateSource::File(PathBuf::new()),
            certificate_thumbprint: None,
            certificate_cnpj: None,
            certificate_key: None,
            certificate_password_env: None,
            certificate_password_file: None,
            pkcs11_module: None,
            pin_env: None,
            pin_file: None,
            extra_ca: None,
            auth_url: None,
            ehr_url: None,
            max_in_flight: default_max_in_flight(),
            fixed_in_flight: None,
            timeout_s: default_timeout_s(),
            max_retries: default_max_retries(),
            backoff_base_ms: default_backoff_base_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            configured: false,
        }
    }

    /// Whether the file has an `[rnds]` section.
    pub(crate) fn is_configured(&self) -> bool {
        self.configured
    }
}

fn default_max_in_flight() -> usize {
    32
}
fn default_timeout_s() -> u64 {
    30
}
fn default_max_retries() -> u32 {
    6
}
fn default_backoff_base_ms() -> u64 {
    200
}
fn default_backoff_max_ms() -> u64 {
    30_000
}

/// Values used when a file has no column for them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// `Observation.method.text`, e.g. `RT-PCR`.
    #[serde(default)]
    pub method: Option<String>,
    /// `Observation.referenceRange.text`, e.g. `Não detectável`.
    #[serde(default)]
    pub reference_range: Option<String>,
    /// `BRSubgrupoTabelaSUS` code: `0202` clinical lab, `0214` rapid test.
    #[serde(default)]
    pub category: Option<String>,
    /// Specimen wording or code when the file has no specimen column.
    #[serde(default)]
    pub specimen: Option<String>,
    /// Exam code (LOINC) when the file has no exam column.
    #[serde(default)]
    pub exam_code: Option<String>,
    /// Per-exam defaults, keyed by LOINC (or GAL) code; they win over the
    /// global ones above.
    #[serde(default)]
    pub exams: BTreeMap<String, ExamDefaults>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// Per-exam fallback values for columns a lab's export does not have.
pub struct ExamDefaults {
    /// `Observation.method.text` for this exam.
    #[serde(default)]
    pub method: Option<String>,
    /// `Observation.referenceRange.text` for this exam.
    #[serde(default)]
    pub reference_range: Option<String>,
    /// `BRSubgrupoTabelaSUS` code for this exam.
    #[serde(default)]
    pub category: Option<String>,
    /// Specimen wording or code for this exam when the file has no
    /// specimen column (a swab for PCR, serum for antibodies).
    #[serde(default)]
    pub specimen: Option<String>,
}

impl Defaults {
    /// Per-exam value first, then the global one.
    pub(crate) fn method_for(&self, exam: &str) -> Option<&str> {
        self.exams
            .get(exam)
            .and_then(|e| e.method.as_deref())
            .or(self.method.as_deref())
    }
    pub(crate) fn reference_range_for(&self, exam: &str) -> Option<&str> {
        self.exams
            .get(exam)
            .and_then(|e| e.reference_range.as_deref())
            .or(self.reference_range.as_deref())
    }
    pub(crate) fn specimen_for(&self, exam: &str) -> Option<&str> {
        self.exams
            .get(exam)
            .and_then(|e| e.specimen.as_deref())
            .or(self.specimen.as_deref())
    }
    /// Whether `exam`'s method comes from the global `[defaults] method`
    /// (no per-exam one): that value may have been written for another kind
    /// of exam.
    pub(crate) fn method_is_global_for(&self, exam: &str) -> bool {
        self.exams
            .get(exam)
            .and_then(|e| e.method.as_ref())
            .is_none()
            && self.method.is_some()
    }
    pub(crate) fn category_for(&self, exam: &str) -> Option<&str> {
        self.exams
            .get(exam)
            .and_then(|e| e.category.as_deref())
            .or(self.category.as_deref())
    }

    /// `self` overlaid on `base`: an inbox's defaults win over the global ones.
    pub(crate) fn over(&self, base: &Defaults) -> Defaults {
        let mut exams = base.exams.clone();
        for (code, e) in &self.exams {
            let merged = exams.entry(code.clone()).or_default();
            merged.method = e.method.clone().or(merged.method.take());
            merged.reference_range = e.reference_range.clone().or(merged.reference_range.take());
            merged.category = e.category.clone().or(merged.category.take());
            merged.specimen = e.specimen.clone().or(merged.specimen.take());
        }
        Defaults {
            method: self.method.clone().or(base.method.clone()),
            reference_range: self
                .reference_range
                .clone()
                .or(base.reference_range.clone()),
            category: self.category.clone().or(base.category.clone()),
            specimen: self.specimen.clone().or(base.specimen.clone()),
            exam_code: self.exam_code.clone().or(base.exam_code.clone()),
            exams,
        }
    }
}

/// How an inbox notices files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InboxMode {
    /// File-system events (inotify) plus periodic scans.
    #[default]
    Watch,
    /// Periodic scans only: for network shares (SMB/CIFS, NFS), where
    /// events written by other machines never arrive.
    Poll,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[[inbox]]`: one folder the service watches, with its layout.
pub struct Inbox {
    /// Folder where files are dropped.
    pub path: PathBuf,
    /// Folder where reports are written.
    pub outbox: PathBuf,
    /// `watch` (default) or `poll`.
    #[serde(default)]
    pub mode: InboxMode,
    /// A file is taken only after its size and mtime stayed unchanged this
    /// long, in milliseconds. It is complete (reports, moved out of
    /// `processando/`) only after ten times this without change, and an
    /// unfinished last line is read only after ten times this without
    /// change (a writer pausing mid-row longer needs a larger value).
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// XLSX sheet to read (default: the first sheet with data).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Field → header name, for headers the built-in synonyms miss.
    #[serde(default)]
    pub columns: BTreeMap<Field, String>,
    /// Local exam code → LOINC (or GAL) code, e.g. `"2019NCOV" = "94309-2"`.
    #[serde(default)]
    pub exam_codes: BTreeMap<String, String>,
    /// Defaults for this inbox only; they win over the global `[defaults]`.
    #[serde(default)]
    pub defaults: Option<Defaults>,
    /// A preset layout shipped in `schemas/layouts/` (`gal-lote`,
    /// `gal-exportacao`, `fleury-analitos`); the layout keys of this inbox
    /// are added on top of it.
    #[serde(default)]
    pub layout: Option<String>,
    /// Field → (value as written in the file → value rnds-drop knows), e.g.
    /// `[inbox.values.result]` `"1" = "Detectável"`. Total: a value not in
    /// the table is an issue on the row, never passed through.
    #[serde(default)]
    pub values: BTreeMap<Field, BTreeMap<String, String>>,
    /// Which rows are results to send; the others are skipped and counted.
    #[serde(default)]
    pub select: Select,
    /// One column per target: the target columns that are results.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// One row per analyte: how rows are grouped into one result.
    #[serde(default)]
    pub analytes: Option<Analytes>,
    /// Field → several columns joined, e.g. a lab id made of two columns.
    #[serde(default)]
    pub compose: BTreeMap<Field, Compose>,
    /// Date fields (`collection_date`, `issued_date`) whose time part is
    /// ignored: the calendar date written in the cell is kept.
    #[serde(default)]
    pub date_only: Vec<Field>,
}

impl Inbox {
    /// The inbox's layout: its preset with its own keys on top.
    pub(crate) fn layout_spec(&self) -> Result<LayoutSpec, String> {
        crate::layout::resolve(self.layout.as_deref(), &self.own_layout())
    }

    /// The inbox's own layout keys, copied by hand (serde's `flatten` does
    /// not work with `deny_unknown_fields`); `layout_keys_tests` fails
    /// when this and `LayoutSpec` drift apart.
    fn own_layout(&self) -> LayoutSpec {
        LayoutSpec {
            description: None,
            columns: self.columns.clone(),
            exam_codes: self.exam_codes.clone(),
            values: self.values.clone(),
            select: self.select.clone(),
            targets: self.targets.clone(),
            analytes: self.analytes.clone(),
            compose: self.compose.clone(),
            date_only: self.date_only.clone(),
            preset_columns: Default::default(),
        }
    }
}

fn default_settle_ms() -> u64 {
    2000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "LedgerToml")]
/// `[ledger]`: the record that makes sending exactly-once, a SQLite file
/// (`path`, the default) or a PostgreSQL database (`url`).
pub struct Ledger {
    /// SQLite file that records every file and result sent (unused when
    /// `postgres` is set).
    pub path: PathBuf,
    /// The PostgreSQL ledger, when `url` is given instead of `path`.
    pub postgres: Option<PostgresLedger>,
    /// A contradiction between the keys as written (`path` and `url`),
    /// reported by validation with the section's line.
    mistake: Option<(&'static str, &'static str)>,
}

/// A PostgreSQL ledger (`[ledger] url`).
#[derive(Clone)]
pub struct PostgresLedger {
    /// `postgres://user@host:port/database`, without the password (a url
    /// holding one is refused when the configuration loads).
    pub url: String,
    /// `postgres://user@host:port/database` rebuilt from the parsed url:
    /// what messages show, never a password.
    pub shown: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// The lab's CA (PEM): TLS to the server, verified against it.
    pub ca_file: Option<PathBuf>,
    /// This process's name among several on one inbox (`[ledger]
    /// instance`); `None`: the only process on this ledger.
    pub instance: Option<InstanceSettings>,
}

/// One of several instances sharing one inbox and one PostgreSQL ledger
/// (`[ledger] instance`, `heartbeat_s`, `lease_s`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSettings {
    /// Unique among the instances: letters, digits, `-` and `_`.
    pub name: String,
    /// How often the instance tells the database it is alive, in seconds.
    pub heartbeat_s: u64,
    /// How long a silent instance keeps its files, in seconds.
    pub lease_s: u64,
}

/// Default of `[ledger] heartbeat_s`.
pub const DEFAULT_HEARTBEAT_S: u64 = 5;
/// Default of `[ledger] lease_s`.
pub const DEFAULT_LEASE_S: u64 = 30;

impl PostgresLedger {
    /// The ledger at `url` (e.g. `migrate-ledger --to`), its shown form
    /// computed as when loaded from `[ledger]`.
    #[must_use]
    pub fn new(
        url: String,
        password_env: Option<String>,
        password_file: Option<PathBuf>,
        ca_file: Option<PathBuf>,
    ) -> PostgresLedger {
        PostgresLedger {
            shown: redacted_url(&url)
                .map_or_else(|| "[ledger] url (inválida)".to_owned(), |(shown, _)| shown),
            url,
            password_env,
            password_file,
            ca_file,
            instance: None,
        }
    }
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("url", &self.shown)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("instance", &self.instance)
            .finish()
    }
}

/// `url` as messages show it: `postgres://user@host:port/database`
/// rebuilt from its parts, so a password in it is never repeated; `None`
/// when it does not parse. The second value says whether it holds a password.
fn redacted_url(url: &str) -> Option<(String, bool)> {
    let config: postgres::Config = url.parse().ok()?;
    Some((postgres_shown(&config), config.get_password().is_some()))
}

/// A parsed PostgreSQL target as messages show it:
/// `postgres://user@host:port/database`, never a password.
pub(crate) fn postgres_shown(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl Ledger {
    /// Where the ledger is, as messages show it (never a password).
    pub fn shown(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.shown.clone(),
            None => self.path.display().to_string(),
        }
    }
}

/// `[ledger]` as written: exactly one of `path` and `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerToml {
    /// SQLite file that records every file and result sent (default
    /// `rnds-drop.sqlite` beside the configuration).
    #[serde(default)]
    path: Option<PathBuf>,
    /// PostgreSQL database instead of the SQLite file:
    /// `postgres://user@host:port/database` (no password in it).
    #[serde(default)]
    url: Option<String>,
    /// Environment variable holding the PostgreSQL password (never in this TOML).
    #[serde(default)]
    password_env: Option<String>,
    /// File whose first line is the PostgreSQL password.
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// The lab's CA certificate (PEM): the connection to PostgreSQL then
    /// uses TLS and the server's certificate must chain to this CA.
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// This instance's name when several rnds-drop share one inbox and this
    /// PostgreSQL ledger (only with `url`): letters, digits, `-`, `_`, at
    /// most 64, unique among them. Without it the process is alone on the
    /// ledger (a second one is refused).
    #[serde(default)]
    instance: Option<String>,
    /// How often an instance renews its heartbeat and the leases of its
    /// files, in seconds (only with `instance`). Default 5.
    #[serde(default)]
    heartbeat_s: Option<u64>,
    /// How long the files of a silent instance stay its own before another
    /// takes them over, in seconds (only with `instance`; at least three
    /// heartbeats). Default 30.
    #[serde(default)]
    lease_s: Option<u64>,
}

/// Why `[ledger] instance`, `heartbeat_s` or `lease_s` cannot be used.
fn instance_mistake(raw: &LedgerToml) -> Option<(&'static str, &'static str)> {
    let Some(name) = &raw.instance else {
        return (raw.heartbeat_s.is_some() || raw.lease_s.is_some()).then_some((
            "heartbeat_s",
            "[ledger] heartbeat_s e lease_s valem só com instance (várias instâncias numa \
             mesma pasta de entrada)",
        ));
    };
    let heartbeat_s = raw.heartbeat_s.unwrap_or(DEFAULT_HEARTBEAT_S);
    let lease_s = raw.lease_s.unwrap_or(DEFAULT_LEASE_S);
    if raw.url.is_none() {
        Some((
            "instance",
            "[ledger] instance vale só com url: várias instâncias numa mesma pasta de entrada \
             precisam do registro de envios no PostgreSQL (o arquivo SQLite é de uma \
             instância só)",
        ))
    } else if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        // Lowercase only: on Windows and SMB `A` and `a` are one folder,
        // but two advisory locks (review finding 6).
        Some((
            "instance",
            "[ledger] instance deve ter de 1 a 64 letras minúsculas sem acento, algarismos, \
             - ou _ (ele vira o nome de uma pasta; no Windows \"A\" e \"a\" seriam a mesma)",
        ))
    } else if heartbeat_s == 0 || lease_s < 3 * heartbeat_s {
        Some((
            "lease_s",
            "[ledger] lease_s deve ser pelo menos 3 vezes heartbeat_s (e heartbeat_s maior \
             que zero): uma instância viva não pode perder seus arquivos por um sinal de \
             vida atrasado",
        ))
    } else {
        None
    }
}

impl TryFrom<LedgerToml> for Ledger {
    type Error = String;

    fn try_from(raw: LedgerToml) -> Result<Ledger, String> {
        let mistake = match (&raw.path, &raw.url) {
            (Some(_), Some(_)) => Some((
                "url",
                "[ledger] tem path e url: use só um (path para o registro SQLite, url para o \
                 PostgreSQL)",
            )),
            (_, None)
                if raw.password_env.is_some()
                    || raw.password_file.is_some()
                    || raw.ca_file.is_some() =>
            {
                Some((
                    "password_env",
                    "[ledger] password_env, password_file e ca_file valem só com url (PostgreSQL)",
                ))
            }
            (_, Some(_)) if raw.password_env.is_some() && raw.password_file.is_some() => Some((
                "password_file",
                "[ledger] tem password_env e password_file: use só um",
            )),
            (_, Some(url)) if redacted_url(url).is_some_and(|(_, password)| password) => Some((
                "url",
                "[ledger] url não pode conter a senha do PostgreSQL: tire a senha da url \
                 (postgres://usuario@servidor:porta/banco) e indique-a em password_env \
                 (variável de ambiente) ou password_file (arquivo com a senha)",
            )),
            _ => None,
        }
        .or_else(|| instance_mistake(&raw));
        let instance = raw.instance.map(|name| InstanceSettings {
            name,
            heartbeat_s: raw.heartbeat_s.unwrap_or(DEFAULT_HEARTBEAT_S),
            lease_s: raw.lease_s.unwrap_or(DEFAULT_LEASE_S),
        });
        Ok(Ledger {
            path: raw.path.unwrap_or_else(default_ledger_path),
            postgres: raw.url.map(|url| PostgresLedger {
                instance,
                ..PostgresLedger::new(url, raw.password_env, raw.password_file, raw.ca_file)
            }),
            mistake,
        })
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            path: default_ledger_path(),
            postgres: None,
            mistake: None,
        }
    }
}

fn default_ledger_path() -> PathBuf {
    PathBuf::from("rnds-drop.sqlite")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[service]`: tuning of the long-running service.
pub struct Service {
    /// Full rescan of every inbox, in seconds (events are only hints).
    #[serde(default = "default_scan_interval_s")]
    pub scan_interval_s: u64,
    /// Rows still pending (RNDS unreachable) are reported as pending after
    /// this long, in seconds; a follow-up report comes when they are sent.
    #[serde(default = "default_pending_report_after_s")]
    pub pending_report_after_s: u64,
    /// Invalid rows listed in an errors report and not yet dropped again
    /// corrected are shown by `status` and `/metrics` at once; after this
    /// long, in seconds, `status` asks a person to act (exit 1) and
    /// `[alertas]` sends a message. Default one day.
    #[serde(default = "default_uncorrected_rows_after_s")]
    pub uncorrected_rows_after_s: u64,
    /// On SIGINT/SIGTERM, how long in-flight requests may take, in seconds.
    #[serde(default = "default_shutdown_grace_s")]
    pub shutdown_grace_s: u64,

    // Operations (issue 9): progress, health, metrics, log file.
    /// While a file is in progress, one log line with its counts at most
    /// this often, in seconds.
    #[serde(default = "default_progress_log_s")]
    pub progress_log_s: u64,
    /// Address of the optional HTTP endpoint serving `/metrics` (Prometheus
    /// text format) and `/healthz`, e.g. `"127.0.0.1:9464"`. Unset: none.
    #[serde(default)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `/healthz` answers 503 once RNDS has been unreachable this long, in
    /// seconds.
    #[serde(default = "default_health_rnds_down_s")]
    pub health_rnds_down_s: u64,
    /// When no request reached RNDS for this long, the service checks that
    /// it still answers (a read-only lookup of the lab's CNES), in seconds.
    #[serde(default = "default_rnds_probe_s")]
    pub rnds_probe_s: u64,
    /// During an RNDS outage, one summary log line this often, in seconds.
    #[serde(default = "default_outage_summary_s")]
    pub outage_summary_s: u64,
    /// Optional log file (besides stderr), rotated by size; needed where
    /// nothing collects stderr, e.g. a Windows service.
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    /// Size at which the log file is rotated, in megabytes.
    #[serde(default = "default_log_file_max_mb")]
    pub log_file_max_mb: u64,
    /// Rotated log files kept (`<log_file>.1` … `.N`).
    #[serde(default = "default_log_file_keep")]
    pub log_file_keep: u32,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            scan_interval_s: default_scan_interval_s(),
            pending_report_after_s: default_pending_report_after_s(),
            uncorrected_rows_after_s: default_uncorrected_rows_after_s(),
            shutdown_grace_s: default_shutdown_grace_s(),
            progress_log_s: default_progress_log_s(),
            metrics_listen: None,
            health_rnds_down_s: default_health_rnds_down_s(),
            rnds_probe_s: default_rnds_probe_s(),
            outage_summary_s: default_outage_summary_s(),
            log_file: None,
            log_file_max_mb: default_log_file_max_mb(),
            log_file_keep: default_log_file_keep(),
        }
    }
}

fn default_progress_log_s() -> u64 {
    10
}
fn default_health_rnds_down_s() -> u64 {
    300
}
fn default_rnds_probe_s() -> u64 {
    300
}
fn default_outage_summary_s() -> u64 {
    300
}
fn default_log_file_max_mb() -> u64 {
    10
}
fn default_log_file_keep() -> u32 {
    5
}

fn default_scan_interval_s() -> u64 {
    30
}
fn default_uncorrected_rows_after_s() -> u64 {
    86_400
}
fn default_pending_report_after_s() -> u64 {
    300
}
fn default_shutdown_grace_s() -> u64 {
    10
}

/// Why `[lab] cnes` is not a CNES: it has exactly 7 digits, and a shorter
/// one is never padded (a zero in front names another establishment).
fn cnes_problem(written: &str) -> String {
    let digits = written.trim();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() < 7 {
        // The zero-padded value is shown for the lab to check in SCNES and
        // write itself; it is never taken in its place.
        let padded = format!("{digits:0>7}");
        format!(
            "[lab] cnes = \"{digits}\" tem {} dígitos: o CNES tem 7 dígitos e o rnds-drop não \
             completa com zeros (seria outro estabelecimento). O que fazer: confira o CNES do \
             laboratório no SCNES (cnes.datasus.gov.br); se o CNES do laboratório é {padded}, \
             escreva os 7 dígitos: cnes = \"{padded}\"",
            digits.len()
        )
    } else {
        "[lab] cnes: o CNES tem 7 dígitos, só números (ex.: cnes = \"2337991\"); confira o \
         número do laboratório no SCNES (cnes.datasus.gov.br)"
            .into()
    }
}

/// Why `[lab] requester_cns` is no professional's CNS (or CPF): the same
/// check digits as a patient's. The value itself is not repeated.
fn requester_cns_problem(written: &str) -> Option<String> {
    use crate::validate::ids::{check_cns, check_cpf, strip_formatting};
    let digits = strip_formatting(written);
    let valid = if digits.len() == 11 {
        check_cpf(&digits).is_ok()
    } else {
        check_cns(&digits).is_ok()
    };
    (!valid).then(|| {
        "[lab] requester_cns não é um CNS válido (15 dígitos, dígito verificador conferido) \
         nem um CPF válido (11 dígitos): um número digitado errado faria a RNDS recusar todos \
         os envios. O que fazer: copie o CNS do profissional responsável pelo cartão SUS ou \
         pelo SCNES, ex.: requester_cns = \"980016287385192\""
            .into()
    })
}

/// The first `[inbox.exam_codes]` target (the lab's or its preset's) that
/// is no code of BRNomeExameLOINC or BRNomeExameGAL: every row mapped to it
/// would be refused with a message asking for the mapping already there.
fn exam_codes_problem(exam_codes: &BTreeMap<String, String>) -> Option<String> {
    let (local, target) = exam_codes
        .iter()
        .find(|(_, target)| crate::mapping::exam_code(target).is_none())?;
    Some(format!(
        "[inbox.exam_codes] \"{local}\" = \"{target}\": \"{target}\" não é um código da \
         tabela BRNomeExameLOINC nem da BRNomeExameGAL. O que fazer: use o código LOINC \
         completo, com o dígito depois do hífen (ex.: \"94309-2\" para RT-PCR SARS-CoV-2)"
    ))
}

/// Two inbox paths name one folder (`entrada` and `./entrada`): compared
/// component by component, before relative paths are resolved.
fn same_folder(a: &Path, b: &Path) -> bool {
    use std::path::Component;
    let parts = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_os_string())
            .collect()
    };
    parts(a) == parts(b)
}

/// The 27 federative units (two-letter codes), which pick the production host.
const UFS: [&str; 27] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE",
    "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
];

impl Config {
    /// Reads, parses, validates and resolves relative paths against the
    /// file's folder, for a command that talks to RNDS (`[rnds]` required).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_for(path, Purpose::Network)
    }

    /// [`Config::load`] for a given [`Purpose`].
    pub fn load_for(path: &Path, purpose: Purpose) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: crate::io_text::reason(&e),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::parse_for(&text, path, base, purpose)
    }

    /// Parses `text` for a network command; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        Config::parse_for(text, path, base, Purpose::Network)
    }

    /// Parses `text` for `purpose`; `path` only names the file in errors.
    pub(crate) fn parse_for(
        text: &str,
        path: &Path,
        base: &Path,
        purpose: Purpose,
    ) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let rendered = messages::render(text, &e);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line: rendered.line,
                message: rendered.message,
            }
        })?;
        config
            .validate(purpose)
            .map_err(|problem| ConfigError::Invalid {
                path: path.to_path_buf(),
                line: messages::line_of(text, problem.header, problem.occurrence, problem.key),
                message: problem.message,
            })?;
        config.resolve_paths(base);
        Ok(config)
    }

    fn validate(&mut self, purpose: Purpose) -> Result<(), Problem> {
        if let Some((key, message)) = self.ledger.mistake {
            return Err(Problem::at("[ledger]", key, message.into()));
        }
        self.validate_lab()?;
        self.validate_rnds(purpose)?;
        self.validate_inboxes()?;
        if purpose == Purpose::Service && self.inbox.is_empty() {
            return Err(Problem {
                header: "",
                occurrence: 0,
                key: None,
                message: "nenhuma pasta de entrada: o serviço precisa de pelo menos uma seção \
                          [[inbox]] com path (onde os arquivos chegam) e outbox (onde saem os \
                          relatórios); veja examples/rnds-drop.toml"
                    .into(),
            });
        }
        Ok(())
    }

    /// `[lab]`: CNES, requester, time zone and UF, normalized in place.
    fn validate_lab(&mut self) -> Result<(), Problem> {
        let cnes = self.lab.cnes.trim();
        if cnes.len() != 7 || !cnes.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Problem::at("[lab]", "cnes", cnes_problem(&self.lab.cnes)));
        }
        self.lab.cnes = cnes.to_string();
        if let Some(message) = requester_cns_problem(&self.lab.requester_cns) {
            return Err(Problem::at("[lab]", "requester_cns", message));
        }
        if self.lab.requester_id.trim().is_empty() {
            return Err(Problem::at("[lab]", "requester_id", "[lab] requester_id está vazio: use o identificador do solicitante recebido do DATASUS no credenciamento (não é o CNES)".into()));
        }
        if self.lab.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Problem::at(
                "[lab]",
                "timezone",
                format!(
                    "[lab] timezone = \"{}\" não é um fuso do banco tz; use, por exemplo, \"America/Sao_Paulo\" ou \"America/Manaus\"",
                    self.lab.timezone
                ),
            ));
        }
        let uf = self.lab.uf.trim().to_ascii_uppercase();
        if !UFS.contains(&uf.as_str()) {
            return Err(Problem::at(
                "[lab]",
                "uf",
                format!(
                    "[lab] uf = \"{}\" não é uma UF do Brasil: use a sigla do estado do laboratório com duas letras (ex.: uf = \"SP\")",
                    self.lab.uf
                ),
            ));
        }
        self.lab.uf = uf.to_ascii_lowercase();
        Ok(())
    }

    /// `[rnds]`: present unless offline, at least one request in flight, the
    /// simulator's addresses.
    fn validate_rnds(&self, purpose: Purpose) -> Result<(), Problem> {
        if purpose != Purpose::Offline && !self.rnds.is_configured() {
            return Err(Problem {
                header: "",
                occurrence: 0,
                key: None,
                message: "falta a seção [rnds] (ambiente e certificado): só o comando check \
                          funciona sem ela; copie-a de examples/rnds-drop.toml"
                    .into(),
            });
        }
        if self.rnds.is_configured() {
            certificate_store::store_source(&self.rnds.certificate_keys())
                .map_err(|(key, message)| Problem::at("[rnds]", key, message))?;
        }
        if self.rnds.max_in_flight == 0 {
            return Err(Problem::at(
                "[rnds]",
                "max_in_flight",
                "[rnds] max_in_flight deve ser pelo menos 1".into(),
            ));
        }
        if self.rnds.fixed_in_flight == Some(0) {
            return Err(Problem::at(
                "[rnds]",
                "fixed_in_flight",
                "[rnds] fixed_in_flight deve ser pelo menos 1 (ou retire a chave para o número \
                 de envios simultâneos se ajustar sozinho)"
                    .into(),
            ));
        }
        if self.rnds.is_configured()
            && self.rnds.environment == Environment::Simulador
            && (self.rnds.auth_url.is_none() || self.rnds.ehr_url.is_none())
        {
            return Err(Problem::at(
                "[rnds]",
                "environment",
                "[rnds] environment = \"simulador\" exige auth_url e ehr_url (o endereço do simulador, ex.: \"https://127.0.0.1:8443\")".into(),
            ));
        }
        Ok(())
    }

    /// Each `[[inbox]]`: its layout, its exam codes, its own folders.
    fn validate_inboxes(&self) -> Result<(), Problem> {
        for (i, inbox) in self.inbox.iter().enumerate() {
            let spec = inbox.layout_spec().map_err(|problem| Problem {
                header: "[[inbox]]",
                occurrence: i,
                key: None,
                message: format!("[[inbox]] {}: {problem}", inbox.path.display()),
            })?;
            if let Some(message) = exam_codes_problem(&spec.exam_codes) {
                return Err(Problem {
                    header: "[[inbox]]",
                    occurrence: i,
                    key: None,
                    message: format!("[[inbox]] {}: {message}", inbox.path.display()),
                });
            }
            if let Some(first) = self.inbox[..i]
                .iter()
                .position(|other| same_folder(&other.path, &inbox.path))
            {
                return Err(Problem {
                    header: "[[inbox]]",
                    occurrence: i,
                    key: Some("path"),
                    message: format!(
                        "o {}º e o {}º [[inbox]] têm a mesma pasta de entrada ({}): cada pasta \
                         é vigiada por um só [[inbox]]. O que fazer: junte as configurações num \
                         só [[inbox]] ou use outra pasta para o segundo",
                        first + 1,
                        i + 1,
                        inbox.path.display()
                    ),
                });
            }
            if inbox.path == inbox.outbox {
                return Err(Problem {
                    header: "[[inbox]]",
                    occurrence: i,
                    key: Some("outbox"),
                    message: format!(
                        "[[inbox]] path e outbox são a mesma pasta ({}): os relatórios precisam de outra pasta, ex.: outbox = \"saida\"",
                        inbox.path.display()
                    ),
                });
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        // A `pkcs11:` URI or a `store:` name is not a path: it stays as written.
        if let CertificateSource::File(path) = &mut self.rnds.certificate {
            abs(path);
        }
        for p in [
            &mut self.rnds.certificate_key,
            &mut self.rnds.certificate_password_file,
            &mut self.rnds.pin_file,
            &mut self.rnds.pkcs11_module,
            &mut self.rnds.extra_ca,
        ]
        .into_iter()
        .flatten()
        {
            abs(p);
        }
        abs(&mut self.ledger.path);
        if let Some(pg) = self.ledger.postgres.as_mut() {
            for p in [&mut pg.password_file, &mut pg.ca_file]
                .into_iter()
                .flatten()
            {
                abs(p);
            }
        }
        if let Some(p) = &mut self.service.log_file {
            abs(p);
        }
        if let Some(email) = self.alertas.as_mut().and_then(|a| a.email.as_mut()) {
            for p in [&mut email.password_file, &mut email.extra_ca]
                .into_iter()
                .flatten()
            {
                abs(p);
            }
        }
        for inbox in &mut self.inbox {
            abs(&mut inbox.path);
            abs(&mut inbox.outbox);
        }
    }

    /// The lab's zone, already validated by [`Config::parse`].
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.lab
            .timezone
            .parse()
            .unwrap_or(chrono_tz::America::Sao_Paulo)
    }
}
