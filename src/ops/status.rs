//! `rnds-drop status`: how the service is doing, read from the ledger
//! (read-only, no lock: it works while `run` sends) and the certificate.
//! It says what needs a person and exits non-zero when something does.

use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::{LedgerReader, LedgerSnapshot};

/// Files listed by `status`.
const RECENT_FILES: usize = 10;
/// A certificate with fewer days left needs renewing now.
pub(crate) const CERTIFICATE_WARNING_DAYS: i64 = 30;

/// Exit codes of `status` (documented in the README).
pub(crate) mod exit {
    /// Nothing needs a person.
    pub(crate) const OK: i32 = 0;
    /// Rows refused by RNDS still unfixed, or a file failed today.
    pub(crate) const ROWS_NEED_FIXING: i32 = 1;
    /// Configuration: certificate expired or expiring within 30 days,
    /// unreadable certificate or ledger, missing inbox.
    pub(crate) const CONFIG: i32 = 3;
    /// Rows waiting for RNDS longer than `pending_report_after_s`.
    pub(crate) const PENDING: i32 = 4;
}

#[derive(Debug, Clone, Serialize)]
/// The client certificate as `status` shows it.
pub struct Certificate {
    /// Certificate subject (the lab).
    pub subject: String,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days until it expires (negative once expired).
    pub days_left: i64,
    /// When the service recorded it (RFC 3339), when `status` could not
    /// open the certificate itself (no PFX password in this shell); `None`
    /// when read from the file now.
    pub recorded_at: Option<String>,
}

/// Everything `status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// When the report was made.
    pub generated_at: String,
    /// The ledger file read.
    pub ledger_path: PathBuf,
    /// `None` when the ledger could not be read (see `attention`).
    pub ledger: Option<LedgerSnapshot>,
    /// Age of the oldest row still waiting, in seconds.
    pub oldest_pending_age_s: Option<i64>,
    /// Age of the oldest invalid row not yet brought back corrected, in seconds.
    pub oldest_uncorrected_age_s: Option<i64>,
    /// The client certificate; `None` when it could not be read.
    pub certificate: Option<Certificate>,
    /// Configured inboxes that do not exist.
    pub inboxes_missing: Vec<PathBuf>,
    /// What needs a person, in pt-BR, most serious first.
    pub attention: Vec<String>,
    /// Exit code of `status` (see `exit`).
    pub exit_code: i32,
}

/// Reads the ledger and the certificate as of `now`.
pub fn gather(config: &Config, now: DateTime<Utc>) -> StatusReport {
    let tz = config.timezone();
    let local = now.with_timezone(&tz);
    let today_start = tz
        .from_local_datetime(&local.date_naive().and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or(now - Duration::hours(24), |d| d.with_timezone(&Utc));
    let mut attention: Vec<(i32, String)> = Vec::new();

    let ledger = LedgerReader::open_config(&config.ledger)
        .and_then(|reader| reader.snapshot(today_start, now - Duration::hours(1), RECENT_FILES));
    let ledger = match ledger {
        Ok(mut snapshot) => {
            // File names often carry a patient's CNS or CPF (and may hold
            // a newline): `status` is not a lab report.
            for file in &mut snapshot.recent_files {
                file.name = super::mask::for_display(&file.name);
            }
            for file in &mut snapshot.uncorrected_files {
                file.name = super::mask::for_display(&file.name);
            }
            for instance in &mut snapshot.instances {
                for name in &mut instance.files_in_hand {
                    *name = super::mask::for_display(name);
                }
            }
            Some(snapshot)
        }
        Err(e) => {
            attention.push((exit::CONFIG, format!("registro de envios ilegível: {e}")));
            None
        }
    };
    let oldest_pending_age_s = ledger
        .as_ref()
        .and_then(|s| s.oldest_pending_since.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|since| (now - since.with_timezone(&Utc)).num_seconds().max(0));
    if let Some(s) = &ledger {
        ledger_attention(config, s, oldest_pending_age_s, &mut attention);
    }

    let oldest_uncorrected_age_s = ledger
        .as_ref()
        .and_then(|s| s.uncorrected_since.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|since| (now - since.with_timezone(&Utc)).num_seconds().max(0));
    if let (Some(s), Some(age)) = (&ledger, oldest_uncorrected_age_s) {
        uncorrected_attention(config, s, age, &mut attention);
    }

    let recorded = ledger
        .as_ref()
        .and_then(|s| s.recorded_certificate.as_ref());
    let certificate = certificate_status(config, recorded, now, &mut attention);

    let inboxes_missing: Vec<PathBuf> = config
        .inbox
        .iter()
        .filter(|i| !i.path.is_dir())
        .map(|i| i.path.clone())
        .collect();
    for path in &inboxes_missing {
        attention.push((
            exit::CONFIG,
            format!("a pasta de entrada {} não existe", path.display()),
        ));
    }

    // Most serious first: configuration, then waiting rows, then fixes.
    let rank = |code: i32| match code {
        exit::CONFIG => 0,
        exit::PENDING => 1,
        _ => 2,
    };
    attention.sort_by_key(|(code, _)| rank(*code));
    StatusReport {
        generated_at: local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        ledger_path: PathBuf::from(config.ledger.shown()),
        ledger,
        oldest_pending_age_s,
        oldest_uncorrected_age_s,
        certificate,
        inboxes_missing,
        exit_code: attention.first().map_or(exit::OK, |(code, _)| *code),
        attention: attention.into_iter().map(|(_, text)| text).collect(),
    }
}

/// Rows waiting too long for RNDS, rows RNDS refused, files that failed today.
fn ledger_attention(
    config: &Config,
    s: &LedgerSnapshot,
    oldest_pending_age_s: Option<i64>,
    attention: &mut Vec<(i32, String)>,
) {
    let waiting = s.rows_pending + s.rows_unresolved;
    // A limit past i64::MAX seconds means "never": saturate, do not wrap.
    let limit = i64::try_from(config.service.pending_report_after_s).unwrap_or(i64::MAX);
    if let Some(age) = oldest_pending_age_s.filter(|age| *age > limit) {
        attention.push((
            exit::PENDING,
            format!(
                "há exames aguardando a RNDS há {} ({waiting} linhas registradas, {} arquivos \
                 em processamento): confira a conexão com a RNDS; eles serão enviados \
                 sozinhos quando ela responder",
                human_age(age),
                s.files_processing
            ),
        ));
    }
    if s.rows_rejected > 0 {
        attention.push((
            exit::ROWS_NEED_FIXING,
            format!(
                "{} exames foram recusados pela RNDS e ainda não foram corrigidos: veja os \
                 arquivos *.erros.csv na pasta de saída, corrija e solte a planilha de novo",
                s.rows_rejected
            ),
        ));
    }
    if s.files_failed_today > 0 {
        attention.push((
            exit::ROWS_NEED_FIXING,
            format!(
                "{} arquivos não puderam ser lidos hoje: veja o motivo no resumo.json de \
                 cada um e a cópia em falhas/",
                s.files_failed_today
            ),
        ));
    }
}

/// Invalid rows nobody has corrected and dropped again for too long.
fn uncorrected_attention(
    config: &Config,
    s: &LedgerSnapshot,
    age: i64,
    attention: &mut Vec<(i32, String)>,
) {
    let tz = config.timezone();
    let limit = i64::try_from(config.service.uncorrected_rows_after_s).unwrap_or(i64::MAX);
    if age >= limit {
        attention.push((
            exit::ROWS_NEED_FIXING,
            format!(
                "{} há {}: {}. Esses exames não chegam à RNDS até que alguém corrija o \
                 relatório *.erros (xlsx ou csv) na pasta de saída e o solte de novo na \
                 entrada",
                match s.rows_uncorrected {
                    1 => "1 linha inválida aguarda correção".to_string(),
                    n => format!("{n} linhas inválidas aguardam correção"),
                },
                human_age(age),
                uncorrected_files_text(&s.uncorrected_files, tz)
            ),
        ));
    }
}

/// The certificate's validity, with a warning when it expired or soon will.
fn certificate_status(
    config: &Config,
    recorded: Option<&(String, String)>,
    now: DateTime<Utc>,
    attention: &mut Vec<(i32, String)>,
) -> Option<Certificate> {
    let tz = config.timezone();
    match certificate_info(config, recorded) {
        Ok((info, recorded_at)) => {
            if let Some(problem) = &info.renewal_problem {
                attention.push((exit::CONFIG, problem.clone()));
            }
            let days_left = (info.not_after - now).num_days();
            if info.not_after < now {
                attention.push((
                    exit::CONFIG,
                    format!(
                        "o certificado expirou em {}: nada pode ser enviado; renove-o e \
                         atualize [rnds] certificate",
                        local_date(info.not_after, tz)
                    ),
                ));
            } else if days_left < CERTIFICATE_WARNING_DAYS {
                attention.push((
                    exit::CONFIG,
                    format!(
                        "o certificado expira em {days_left} dias ({}): providencie a renovação",
                        local_date(info.not_after, tz)
                    ),
                ));
            }
            Some(Certificate {
                subject: info.subject,
                not_after: info.not_after,
                days_left,
                recorded_at,
            })
        }
        Err(e) => {
            attention.push((exit::CONFIG, format!("certificado: {e}")));
            None
        }
    }
}

/// The certificate's subject and validity: from the file when this shell
/// can open it, else as the service last recorded it (`status` needs no
/// PFX password), with when. The file's error when neither is known.
fn certificate_info(
    config: &Config,
    recorded: Option<&(String, String)>,
) -> Result<(RecordedCertificate, Option<String>), String> {
    match crate::rnds::read_certificate_info(&config.rnds) {
        Ok(info) => Ok((
            RecordedCertificate {
                subject: info.subject,
                not_after: info.not_after,
                renewal_problem: None,
            },
            None,
        )),
        Err(e) => recorded
            .and_then(|(json, at)| {
                serde_json::from_str::<RecordedCertificate>(json)
                    .ok()
                    .map(|info| (info, Some(at.clone())))
            })
            .ok_or_else(|| e.to_string()),
    }
}

/// The part of the service's certificate record `status` shows.
#[derive(serde::Deserialize)]
struct RecordedCertificate {
    subject: String,
    not_after: DateTime<Utc>,
    /// A renewed certificate the service could not use (it goes on with
    /// this one), as it said when it recorded this.
    #[serde(default)]
    renewal_problem: Option<String>,
}

/// `fevereiro.csv (2 linhas, desde 03/12/2026 08:15)`, oldest first.
fn uncorrected_files_text(files: &[crate::ledger::UncorrectedFile], tz: chrono_tz::Tz) -> String {
    files
        .iter()
        .map(|f| {
            format!(
                "{} ({} {}, desde {})",
                f.name,
                f.rows,
                if f.rows == 1 { "linha" } else { "linhas" },
                local_text(&f.since, tz)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report for a person, in pt-BR.
pub fn render_text(report: &StatusReport, tz: chrono_tz::Tz) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("rnds-drop status · {}", report.generated_at));
    line(format!(
        "registro de envios: {}",
        report.ledger_path.display()
    ));
    if let Some(s) = &report.ledger {
        line(format!(
            "enviados à RNDS: {} hoje · {} na última hora",
            s.accepted_today, s.accepted_last_hour
        ));
        let age = report.oldest_pending_age_s.map_or(String::new(), |a| {
            format!(" · mais antigo há {}", human_age(a))
        });
        line(format!(
            "aguardando a RNDS: {} linhas, {} sem confirmação, {} arquivos em processamento{age}",
            s.rows_pending, s.rows_unresolved, s.files_processing
        ));
        line(format!(
            "recusados pela RNDS (a corrigir): {}",
            s.rows_rejected
        ));
        let files = if s.uncorrected_files.is_empty() {
            String::new()
        } else {
            format!(" · {}", uncorrected_files_text(&s.uncorrected_files, tz))
        };
        line(format!(
            "linhas inválidas aguardam correção: {}{files}",
            s.rows_uncorrected
        ));
        line(format!(
            "último envio aceito pela RNDS: {}",
            s.last_accepted_at
                .as_deref()
                .map_or("nenhum".to_string(), |t| local_text(t, tz))
        ));
        for text in instances_lines(&s.instances, tz) {
            line(text);
        }
        if !s.recent_files.is_empty() {
            line("últimos arquivos:".into());
            for f in &s.recent_files {
                let state = match f.state.as_str() {
                    "processing" => "em processamento",
                    "processed" => "concluído",
                    "failed" => "ilegível (falhas/)",
                    other => other,
                };
                line(format!(
                    "  {} · {} · recebido {} · {} enviados, {} recusados, {} aguardando",
                    f.name,
                    state,
                    local_text(&f.claimed_at, tz),
                    f.accepted,
                    f.rejected,
                    f.pending
                ));
            }
        }
    }
    if let Some(c) = &report.certificate {
        let mark = if c.days_left >= CERTIFICATE_WARNING_DAYS {
            "✓"
        } else {
            "✗"
        };
        let source = c.recorded_at.as_deref().map_or(String::new(), |at| {
            format!(
                " · lido pelo serviço em {} (sem a senha do PFX aqui)",
                local_text(at, tz)
            )
        });
        line(format!(
            "{mark} certificado: {} · válido até {} ({} dias){source}",
            c.subject,
            local_date(c.not_after, tz),
            c.days_left
        ));
    }
    if report.attention.is_empty() {
        line("✓ nada precisa de atenção".into());
    } else {
        for a in &report.attention {
            line(format!("✗ {a}"));
        }
    }
    out
}

/// The instances sharing the inbox (PostgreSQL `[ledger] instance`): a
/// heading and one line each; nothing for a lone process.
fn instances_lines(instances: &[crate::ledger::InstanceStatus], tz: chrono_tz::Tz) -> Vec<String> {
    if instances.is_empty() {
        return Vec::new();
    }
    let mut lines = vec!["instâncias nesta pasta de entrada:".to_string()];
    for i in instances {
        let alive = if i.alive {
            "ativa"
        } else {
            "sem sinal de vida"
        };
        let files = if i.files_in_hand.is_empty() {
            "nenhum arquivo em mãos".to_string()
        } else {
            format!("em mãos: {}", i.files_in_hand.join(", "))
        };
        lines.push(format!(
            "  {} · {alive} · último sinal {} (há {}) · {files}",
            i.name,
            local_text(&i.heartbeat_at, tz),
            human_age(i.heartbeat_age_s)
        ));
    }
    lines
}

fn local_text(stamp: &str, tz: chrono_tz::Tz) -> String {
    DateTime::parse_from_rfc3339(stamp).map_or(stamp.to_string(), |t| {
        t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string()
    })
}

fn local_date(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%d/%m/%Y").to_string()
}

/// `45 s`, `12 min`, `3 h 05 min`, `2 dias`.
pub(crate) fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        s => format!("{} dias", s / 86_400),
    }
}
