//! `rnds-drop homologacao` (step 7 of the RNDS integration guide): a fixed
//! set of scenarios sent to the configured RNDS (homologation or the
//! simulator, never production) and an evidence folder DATASUS can be
//! given: each request bundle, the HTTP status, the RNDS id, the refusal's
//! OperationOutcome, timestamps, the certificate's subject and validity,
//! and one report in HTML and XLSX.
//!
//! The bundles are built from a small CSV of test rows by the same core
//! (`pipeline`) that builds the lab's real ones, so the evidence shows what
//! production will send. Test patients are fictitious and named so. The
//! rows are the scenario's own: they depend on `[lab]` and `[rnds]` only,
//! never on the lab's `[[inbox]]` (columns, presets, value maps) or
//! `[defaults]`, so the lab's real configuration runs them unchanged.
//!
//! Invariant: never runs against `producao`; writes no ledger (test data
//! is not the lab's results); no secret in any file it writes.

mod report;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{Config, Defaults, Environment, ExamDefaults};
use crate::pipeline::{self, FileHeader, FileJob, RowOutcome};
use crate::report::write_atomic;
use crate::rnds::{Client, ClientError, Outcome};

/// Fictitious test patient: valid check digits (provisional CNS), marked as
/// a test value everywhere it appears.
pub(crate) const TEST_PATIENT_CNS: &str = "759010928159013";
pub(crate) const TEST_PATIENT_NAME: &str = "PACIENTE TESTE HOMOLOGACAO (FICTICIO)";

#[derive(Debug, thiserror::Error)]
/// Why the homologation run could not go on; messages are pt-BR.
pub enum HomologationError {
    #[error(
        "homologação recusada: [rnds] environment = \"producao\"; os cenários de teste só podem \
         ir para a homologação da RNDS (ou o simulador). Use uma configuração com \
         environment = \"homologacao\""
    )]
    /// The configuration points at production; scenarios only go to homologation.
    Production,
    #[error(transparent)]
    /// The client could not be set up (certificate, endpoints).
    Client(#[from] ClientError),
    #[error("não foi possível gravar {path}: {source}")]
    /// An evidence file could not be written.
    Io {
        /// The evidence file.
        path: PathBuf,
        #[source]
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error("falha interna ao montar os cenários: {0}")]
    /// A scenario bundle could not be built (a defect, not an input error).
    Build(String),
}

/// What a scenario expects from RNDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// RNDS should store the bundle.
    Accepted,
    /// RNDS should refuse the bundle with an OperationOutcome.
    Rejected,
}

/// One scenario's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// `01-pcr-qualitativo`, …: also the prefix of its files.
    pub key: String,
    /// pt-BR description for the report.
    pub title: String,
    /// The bundle identifier the scenario sent.
    pub lab_id: String,
    /// Whether RNDS should accept or refuse it.
    pub expected: Expected,
    /// File (in the evidence folder) holding the bundle sent.
    pub request_file: String,
    /// When the request left (local time).
    pub sent_at: String,
    /// When the answer came (local time).
    pub answered_at: String,
    /// HTTP status of the answer; `None` when none came.
    pub http_status: Option<u16>,
    /// The id RNDS returned in `Location`.
    pub rnds_id: Option<String>,
    /// The RNDS id this bundle replaces (replacement scenario).
    pub replaces: Option<String>,
    /// pt-BR outcome as the service would classify it.
    pub outcome: String,
    /// The answer body when it is an OperationOutcome (the error case).
    pub operation_outcome: Option<serde_json::Value>,
    /// Whether RNDS answered as `expected`.
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
/// The client certificate the run used, for the evidence.
pub struct CertificateEvidence {
    /// Certificate subject (the lab).
    pub subject: String,
    /// Certificate issuer (the ICP-Brasil authority).
    pub issuer: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// Everything the evidence folder holds.
#[derive(Debug, Clone, Serialize)]
pub struct HomologationReport {
    /// The evidence folder.
    pub folder: PathBuf,
    /// When the run started.
    pub started_at: String,
    /// When the run finished.
    pub finished_at: String,
    /// `[rnds] environment` of the run.
    pub environment: String,
    /// The EHR-services base URL the bundles went to.
    pub ehr_url: String,
    /// The lab's CNES.
    pub cnes: String,
    /// The DATASUS requester identifier.
    pub requester_id: String,
    /// The RNDS profile version claimed by the bundles.
    pub profile: String,
    /// The client certificate used.
    pub certificate: CertificateEvidence,
    /// One entry per scenario, in run order.
    pub evidences: Vec<Evidence>,
    /// Whether every scenario got the answer it expected.
    pub all_passed: bool,
}

/// What the report and the console say first when the run went to the
/// local simulator: a rehearsal, which DATASUS must not be given.
pub const REHEARSAL_NOTICE: &str = "ENSAIO no simulador local (environment = \"simulador\"): \
    este relatório não é evidência de homologação e não deve ser enviado ao DATASUS. Para as \
    evidências, rode de novo com environment = \"homologacao\" e o certificado ICP-Brasil do \
    laboratório.";

impl HomologationReport {
    /// [`REHEARSAL_NOTICE`] when the run went to the simulator.
    pub fn rehearsal_notice(&self) -> Option<&'static str> {
        (self.environment == "simulador").then_some(REHEARSAL_NOTICE)
    }
}

struct Planned {
    key: &'static str,
    title: &'static str,
    expected: Expected,
    bundle: Vec<u8>,
    lab_id: String,
    /// Index of the scenario whose RNDS id this one replaces.
    replaces_scenario: Option<usize>,
    result: Option<Box<crate::model::LabResult>>,
}

/// Runs every scenario against the configured RNDS and writes the evidence
/// folder `homologacao-<instant>` inside `out`.
pub async fn run(config: &Config, out: &Path) -> Result<HomologationReport, HomologationError> {
    if config.rnds.environment == Environment::Producao {
        return Err(HomologationError::Production);
    }
    let client = Client::new(config)?;
    let now = Utc::now();
    let tz = config.timezone();
    // Milliseconds: two runs in one second must not reuse lab ids (RNDS
    // would answer EHR-ERR866) nor share an evidence folder.
    let stamp = now
        .with_timezone(&tz)
        .format("%Y%m%dT%H%M%S%3f")
        .to_string();
    let folder = out.join(format!("homologacao-{stamp}"));
    std::fs::create_dir_all(&folder).map_err(|source| HomologationError::Io {
        path: folder.clone(),
        source,
    })?;
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    };

    let job = scenario_job(config, now);
    let planned = plan(config, &job, &folder, &stamp, now)?;
    let mut evidences: Vec<Evidence> = Vec::new();
    for (index, p) in planned.iter().enumerate() {
        let mut bundle = p.bundle.clone();
        let mut replaces = None;
        if let (Some(target), Some(result)) = (p.replaces_scenario, &p.result) {
            replaces = evidences.get(target).and_then(|e| e.rnds_id.clone());
            if let Some(id) = &replaces {
                bundle = crate::fhir::to_json_bytes(result, &job.bundle, &job.timestamp, Some(id))
                    .map_err(|e| HomologationError::Build(e.to_string()))?;
            }
        }
        let request_file = format!("{:02}-{}.requisicao.json", index + 1, p.key);
        write_json_file(&folder.join(&request_file), &bundle)?;
        let sent_at = Utc::now();
        let recorded = client.submit_recorded(bundle).await;
        let answered_at = Utc::now();
        let body: Option<serde_json::Value> = serde_json::from_slice(&recorded.body).ok();
        let operation_outcome = body.filter(|b| b["resourceType"] == "OperationOutcome");
        let (outcome, rnds_id, got) = describe(&recorded.outcome);
        let skipped_replacement = p.replaces_scenario.is_some() && replaces.is_none();
        let evidence = Evidence {
            key: format!("{:02}-{}", index + 1, p.key),
            title: p.title.to_string(),
            lab_id: p.lab_id.clone(),
            expected: p.expected,
            request_file,
            sent_at: local(sent_at),
            answered_at: local(answered_at),
            http_status: recorded.status,
            rnds_id,
            replaces: replaces.clone(),
            outcome: if skipped_replacement {
                format!("{outcome} (sem substituição: o cenário original não foi aceito)")
            } else {
                outcome
            },
            operation_outcome,
            passed: got == Some(p.expected) && !skipped_replacement,
        };
        let answer_file = folder.join(format!("{}.resposta.json", evidence.key));
        let answer = serde_json::to_vec_pretty(&evidence)
            .map_err(|e| HomologationError::Build(e.to_string()))?;
        write_json_file(&answer_file, &answer)?;
        evidences.push(evidence);
    }

    let info = client.certificate();
    let report = HomologationReport {
        folder: folder.clone(),
        started_at: local(now),
        finished_at: local(Utc::now()),
        environment: format!("{:?}", config.rnds.environment).to_lowercase(),
        ehr_url: client.endpoints().fhir(""),
        cnes: config.lab.cnes.clone(),
        requester_id: config.lab.requester_id.clone(),
        profile: match config.rnds.profile {
            crate::config::ProfileSet::V2 => "2.0".into(),
            crate::config::ProfileSet::V1 => "1.x".into(),
        },
        certificate: CertificateEvidence {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
        },
        all_passed: evidences.iter().all(|e| e.passed),
        evidences,
    };
    let all =
        serde_json::to_vec_pretty(&report).map_err(|e| HomologationError::Build(e.to_string()))?;
    write_json_file(&folder.join("evidencias.json"), &all)?;
    let html = report::html(&report);
    write_json_file(&folder.join("relatorio.html"), html.as_bytes())?;
    let xlsx = report::xlsx(&report).map_err(|e| HomologationError::Build(e.to_string()))?;
    write_json_file(&folder.join("relatorio.xlsx"), &xlsx)?;
    Ok(report)
}

fn write_json_file(path: &Path, bytes: &[u8]) -> Result<(), HomologationError> {
    write_atomic(path, bytes)
        .map(drop)
        .map_err(|source| HomologationError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// pt-BR outcome, RNDS id, and whether it counts as accepted or rejected.
fn describe(outcome: &Outcome) -> (String, Option<String>, Option<Expected>) {
    match outcome {
        Outcome::Accepted { rnds_id } => (
            "aceito pela RNDS".into(),
            Some(rnds_id.clone()),
            Some(Expected::Accepted),
        ),
        Outcome::Rejected { message } => (
            format!("recusado pela RNDS: {message}"),
            None,
            Some(Expected::Rejected),
        ),
        Outcome::DuplicateIdentifier { code } => {
            (format!("identificador já usado ({code})"), None, None)
        }
        Outcome::ConfigurationError { message } => {
            (format!("erro de configuração: {message}"), None, None)
        }
        Outcome::Transient { message } => (format!("RNDS inacessível: {message}"), None, None),
        Outcome::Unknown { message } => (format!("resposta perdida: {message}"), None, None),
    }
}

/// How the test rows are read and built: the lab's `[lab]` and `[rnds]`
/// (CNES, requester, time zone, profile) with the scenario's own columns
/// and defaults; the lab's inboxes and `[defaults]` are for its exports.
fn scenario_job(config: &Config, now: DateTime<Utc>) -> FileJob {
    let exam = |category: &str, reference_range: &str| ExamDefaults {
        category: Some(category.into()),
        reference_range: Some(reference_range.into()),
        ..ExamDefaults::default()
    };
    let mut own = config.clone();
    own.inbox.clear();
    own.defaults = Defaults {
        exams: [
            ("94309-2".to_string(), exam("0202", "Não detectável")),
            ("94558-4".to_string(), exam("0214", "Não reagente")),
            ("94505-5".to_string(), exam("0202", "Não reagente")),
        ]
        .into(),
        ..Defaults::default()
    };
    let mut job = FileJob::from_config(&own, None, now);
    job.self_check_every = 1;
    job
}

/// The test rows as a lab export: PCR, antigen, quantitative IgG and the
/// PCR's correction, collected and released yesterday.
fn test_rows_csv(config: &Config, stamp: &str, now: DateTime<Utc>) -> String {
    let day = (now - Duration::days(1))
        .with_timezone(&config.timezone())
        .format("%d/%m/%Y")
        .to_string();
    let id = |kind: &str| format!("HMG-{stamp}-{kind}");
    let rows = [
        (
            id("PCR"),
            "94309-2",
            "Detectável",
            "",
            "",
            "Swab nasofaríngeo",
            "RT-PCR",
        ),
        (
            id("AG"),
            "94558-4",
            "Reagente",
            "",
            "",
            "Swab nasofaríngeo",
            "Imunocromatografia",
        ),
        (
            id("IGG"),
            "94505-5",
            "16,1",
            "UA/mL",
            "Reagente",
            "Soro",
            "ELISA",
        ),
        (
            id("PCR"),
            "94309-2",
            "Não detectável",
            "",
            "",
            "Swab nasofaríngeo",
            "RT-PCR",
        ),
    ];
    let mut csv = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Unidade;Interpretação;Material;Metodologia\n",
    );
    for (lab_id, exam, result, unit, interpretation, specimen, method) in &rows {
        csv.push_str(&format!(
            "{lab_id};{TEST_PATIENT_NAME};{TEST_PATIENT_CNS};{day} 08:00;{day} 16:00;{exam};{result};{unit};{interpretation};{specimen};{method}\n"
        ));
    }
    csv
}

/// The test rows, built into bundles by the real core.
fn plan(
    config: &Config,
    job: &FileJob,
    folder: &Path,
    stamp: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, HomologationError> {
    let id = |kind: &str| format!("HMG-{stamp}-{kind}");
    let csv = test_rows_csv(config, stamp, now);
    let source = folder.join("linhas-de-teste.csv");
    write_json_file(&source, csv.as_bytes())?;

    struct Collect(Vec<RowOutcome>);
    impl pipeline::Sink for Collect {
        type Error = ();
        fn header(&mut self, _: &FileHeader) -> Result<(), ()> {
            Ok(())
        }
        fn chunk(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ()> {
            self.0.extend(outcomes);
            Ok(())
        }
    }
    let mut sink = Collect(Vec::new());
    pipeline::process_file(&source, job, &mut sink)
        .map_err(|e| HomologationError::Build(format!("{e:?}")))?;
    let mut built = Vec::new();
    for outcome in sink.0 {
        match outcome {
            RowOutcome::Valid { result, bundle, .. } => built.push((result, bundle)),
            RowOutcome::Invalid { row, issues } => {
                let text: Vec<String> = issues.iter().map(|i| i.message.clone()).collect();
                return Err(HomologationError::Build(format!(
                    "linha de teste {} inválida com esta configuração: {}",
                    row.line,
                    text.join("; ")
                )));
            }
        }
    }
    let [(pcr, pcr_bundle), (ag, ag_bundle), (igg, igg_bundle), (fixed, fixed_bundle)]: [_; 4] =
        built
            .try_into()
            .map_err(|_| HomologationError::Build("número de linhas de teste".into()))?;
    let invalid = break_bundle(&pcr_bundle, &id("INVALIDO"))?;
    Ok(vec![
        Planned {
            key: "pcr-qualitativo",
            title: "Resultado novo: RT-PCR qualitativo (detectável)",
            expected: Expected::Accepted,
            lab_id: pcr.lab_id.clone(),
            bundle: pcr_bundle,
            replaces_scenario: None,
            result: None,
        },
        Planned {
            key: "antigeno",
            title: "Resultado novo: teste rápido de antígeno (reagente)",
            expected: Expected::Accepted,
            lab_id: ag.lab_id.clone(),
            bundle: ag_bundle,
            replaces_scenario: None,
            result: None,
        },
        Planned {
            key: "quantitativo",
            title: "Resultado novo: sorologia IgG quantitativa (16,1 UA/mL)",
            expected: Expected::Accepted,
            lab_id: igg.lab_id.clone(),
            bundle: igg_bundle,
            replaces_scenario: None,
            result: None,
        },
        Planned {
            key: "substituicao",
            title: "Substituição do resultado RT-PCR (corrigido para não detectável)",
            expected: Expected::Accepted,
            lab_id: fixed.lab_id.clone(),
            bundle: fixed_bundle,
            replaces_scenario: Some(0),
            result: Some(fixed),
        },
        Planned {
            key: "invalido",
            title: "Bundle propositalmente inválido (código de exame inexistente)",
            expected: Expected::Rejected,
            lab_id: id("INVALIDO"),
            bundle: invalid,
            replaces_scenario: None,
            result: None,
        },
    ])
}

/// A copy of `bundle` with its own identifier and an exam code that does
/// not exist: RNDS must refuse it with an OperationOutcome.
fn break_bundle(bundle: &[u8], lab_id: &str) -> Result<Vec<u8>, HomologationError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bundle).map_err(|e| HomologationError::Build(e.to_string()))?;
    value["identifier"]["value"] = serde_json::Value::String(lab_id.to_string());
    let mut changed = false;
    if let Some(entries) = value["entry"].as_array_mut() {
        for entry in entries {
            let resource = &mut entry["resource"];
            if resource["resourceType"] == "Observation" {
                if let Some(coding) = resource["code"]["coding"].as_array_mut() {
                    for c in coding {
                        c["code"] = serde_json::Value::String("00000-0".into());
                        changed = true;
                    }
                }
            }
        }
    }
    if !changed {
        return Err(HomologationError::Build(
            "o bundle de teste não tem Observation.code".into(),
        ));
    }
    serde_json::to_vec(&value).map_err(|e| HomologationError::Build(e.to_string()))
}
