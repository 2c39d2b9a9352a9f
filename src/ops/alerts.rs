//! `[alertas]`: a message (e-mail over SMTP with STARTTLS, and/or a
//! command) when rows stay pending too long, a file fails, RNDS refuses
//! rows, invalid rows wait in an errors report past `[service]
//! uncorrected_rows_after_s`, or the certificate is about to expire. At most one message per
//! condition per `repeat_after_s` (kept in memory: a restart may repeat
//! one). Deciding is pure ([`Alerter::due`]); delivering is the edge.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::status::human_age;
use crate::config::{AlertEmail, Alertas};

/// What can raise an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Condition {
    Pending,
    FileFailed,
    Rejected,
    Uncorrected,
    Certificate,
    /// A renewed certificate the service could not use (it goes on with
    /// the previous one).
    CertificateRenewal,
}

/// What the alerter looks at, gathered by the service.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertInputs {
    /// Age of the oldest file with rows waiting for RNDS, in seconds.
    pub oldest_pending_age_s: Option<i64>,
    pub rows_waiting: u64,
    /// Totals of this process (only increases trigger).
    pub files_failed: u64,
    pub rows_rejected: u64,
    /// Invalid rows waiting in errors reports, the age of the oldest (s)
    /// and the files they wait in (pt-BR, for the message).
    pub rows_uncorrected: u64,
    pub oldest_uncorrected_age_s: Option<i64>,
    pub uncorrected_files: String,
    pub certificate_days_left: i64,
    /// Why a renewed certificate is not in use (pt-BR), while that lasts.
    pub certificate_renewal_problem: Option<String>,
}

/// A renewed certificate the service could not use, while that lasts.
fn renewal_alert(i: &AlertInputs) -> Option<Alert> {
    let problem = i.certificate_renewal_problem.as_ref()?;
    Some(Alert {
        condition: Condition::CertificateRenewal,
        subject: "rnds-drop: o certificado renovado não pôde ser usado".into(),
        body: format!(
            "{problem}.\nConfira o novo arquivo e a senha dele; os envios seguem com o \
             certificado anterior enquanto ele valer."
        ),
    })
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub condition: Condition,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AlertError {
    #[error("alerta por e-mail: {0}")]
    Email(String),
    #[error("alerta por comando: {0}")]
    Command(String),
}

/// The throttle and the last totals seen.
#[derive(Debug)]
pub(crate) struct Alerter {
    settings: Alertas,
    /// `[service] uncorrected_rows_after_s`: the same age `status` uses.
    uncorrected_after_s: u64,
    last_sent: HashMap<Condition, Instant>,
    files_failed_seen: u64,
    rows_rejected_seen: u64,
}

impl Alerter {
    pub(crate) fn new(settings: Alertas, uncorrected_after_s: u64) -> Alerter {
        Alerter {
            settings,
            uncorrected_after_s,
            last_sent: HashMap::new(),
            files_failed_seen: 0,
            rows_rejected_seen: 0,
        }
    }

    /// The alerts due at `now` (each condition at most once per period).
    pub(crate) fn due(&mut self, i: &AlertInputs, now: Instant) -> Vec<Alert> {
        let s = &self.settings;
        let mut raised = Vec::new();
        if let Some(age) = i
            .oldest_pending_age_s
            .filter(|age| *age >= i64::try_from(s.pending_after_s).unwrap_or(i64::MAX))
        {
            raised.push(Alert {
                condition: Condition::Pending,
                subject: "rnds-drop: exames aguardando a RNDS".into(),
                body: format!(
                    "Há exames aguardando envio à RNDS há {} ({} linhas registradas).\n\
                     O serviço continua tentando e enviará cada exame uma única vez quando a \
                     RNDS responder. Confira a conexão deste computador com a internet e os \
                     avisos do DATASUS; `rnds-drop status` mostra a situação.",
                    human_age(age),
                    i.rows_waiting
                ),
            });
        }
        if i.files_failed > self.files_failed_seen {
            raised.push(Alert {
                condition: Condition::FileFailed,
                subject: "rnds-drop: arquivo não pôde ser lido".into(),
                body: format!(
                    "{} arquivo(s) não puderam ser lidos e foram movidos para falhas/.\n\
                     O motivo está no resumo.json de cada um, na pasta de saída. Corrija o \
                     arquivo e coloque-o de novo na pasta de entrada.",
                    i.files_failed - self.files_failed_seen
                ),
            });
        }
        if i.rows_rejected > self.rows_rejected_seen {
            raised.push(Alert {
                condition: Condition::Rejected,
                subject: "rnds-drop: exames recusados pela RNDS".into(),
                body: format!(
                    "A RNDS recusou {} exame(s). Veja os arquivos *.erros.csv na pasta de \
                     saída: cada linha diz a coluna, o valor e como corrigir. Corrija a \
                     planilha e coloque-a de novo na pasta de entrada.",
                    i.rows_rejected - self.rows_rejected_seen
                ),
            });
        }
        if let Some(age) = i
            .oldest_uncorrected_age_s
            .filter(|age| *age >= i64::try_from(self.uncorrected_after_s).unwrap_or(i64::MAX))
        {
            raised.push(Alert {
                condition: Condition::Uncorrected,
                subject: "rnds-drop: linhas inválidas aguardam correção".into(),
                body: format!(
                    "{} linha(s) inválida(s) aguardam correção há {} ({}).\n\
                     Esses exames não chegam à RNDS até que alguém corrija o relatório *.erros \
                     (xlsx ou csv) na pasta de saída e o coloque de novo na pasta de entrada; \
                     `rnds-drop status` mostra a situação.",
                    i.rows_uncorrected,
                    human_age(age),
                    i.uncorrected_files
                ),
            });
        }
        if i.certificate_days_left < s.certificate_days {
            let text = if i.certificate_days_left < 0 {
                "O certificado digital do laboratório expirou: nada pode ser enviado à RNDS."
                    .to_string()
            } else {
                format!(
                    "O certificado digital do laboratório expira em {} dias.",
                    i.certificate_days_left
                )
            };
            raised.push(Alert {
                condition: Condition::Certificate,
                subject: "rnds-drop: certificado digital a renovar".into(),
                body: format!(
                    "{text}\nRenove-o com a autoridade certificadora e atualize [rnds] \
                     certificate na configuração."
                ),
            });
        }
        raised.extend(renewal_alert(i));
        self.files_failed_seen = i.files_failed;
        self.rows_rejected_seen = i.rows_rejected;
        let period = Duration::from_secs(s.repeat_after_s);
        raised.retain(|alert| {
            let recent = self
                .last_sent
                .get(&alert.condition)
                .is_some_and(|at| now.duration_since(*at) < period);
            if !recent {
                self.last_sent.insert(alert.condition, now);
            }
            !recent
        });
        raised
    }

    /// Forgets that `condition` was sent (its delivery failed): it is tried
    /// again at the next check.
    pub(crate) fn forget(&mut self, condition: Condition) {
        self.last_sent.remove(&condition);
    }

    /// How often the conditions are checked.
    pub(crate) fn check_every(&self) -> Duration {
        Duration::from_secs(self.settings.check_interval_s.max(1))
    }

    /// Sends `alert` by every configured channel.
    pub(crate) async fn deliver(&self, alert: &Alert) -> Result<(), AlertError> {
        // Alerts name no file today; if one ever does, no CNS/CPF leaves.
        let alert = &Alert {
            condition: alert.condition,
            subject: super::mask::for_display(&alert.subject),
            body: super::mask::mask_identifiers(&alert.body).into_owned(),
        };
        if let Some(email) = &self.settings.email {
            send_email(email, alert).await?;
        }
        if let Some(command) = &self.settings.command {
            run_command(command, alert).await?;
        }
        Ok(())
    }
}

fn smtp_password(email: &AlertEmail) -> Result<Option<String>, AlertError> {
    if let Some(var) = &email.password_env {
        return std::env::var(var).map(Some).map_err(|_| {
            // Only a conventional variable name is repeated: anything else
            // may be the password itself, written in the wrong key.
            let conventional = var
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            AlertError::Email(if conventional {
                format!("a variável de ambiente {var} (password_env) não está definida")
            } else {
                "[alertas.email] password_env não é o nome de uma variável de ambiente \
                 definida: escreva ali só o nome da variável (ex.: SMTP_SENHA); se você \
                 escreveu a senha nessa chave, apague-a do arquivo"
                    .into()
            })
        });
    }
    if let Some(file) = &email.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            // Never the path: what was typed there may be the password.
            AlertError::Email(format!(
                "não foi possível ler o arquivo indicado em [alertas.email] password_file: {}",
                crate::io_text::reason(&e)
            ))
        })?;
        return Ok(Some(text.lines().next().unwrap_or("").trim().to_string()));
    }
    Ok(None)
}

async fn send_email(email: &AlertEmail, alert: &Alert) -> Result<(), AlertError> {
    let err = |e: &dyn std::fmt::Display| AlertError::Email(e.to_string());
    let mut tls = TlsParameters::builder(email.smtp_host.clone());
    if let Some(ca) = &email.extra_ca {
        let pem = std::fs::read(ca).map_err(|e| {
            AlertError::Email(format!("não foi possível ler {}: {e}", ca.display()))
        })?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| err(&e))?);
    }
    let tls = tls.build_rustls().map_err(|e| err(&e))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&email.smtp_host)
        .port(email.smtp_port)
        .tls(Tls::Required(tls))
        .timeout(Some(Duration::from_secs(email.timeout_s.max(1))));
    if let (Some(user), Some(password)) = (&email.username, smtp_password(email)?) {
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    let from: Mailbox = email.from.parse().map_err(|e| err(&e))?;
    let mut message = Message::builder()
        .from(from)
        .subject(alert.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    for to in &email.to {
        message = message.to(to.parse::<Mailbox>().map_err(|e| err(&e))?);
    }
    let message = message.body(alert.body.clone()).map_err(|e| err(&e))?;
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| err(&e))
}

async fn run_command(command: &[String], alert: &Alert) -> Result<(), AlertError> {
    let command = command.to_vec();
    let alert = alert.clone();
    tokio::task::spawn_blocking(move || run_command_blocking(&command, &alert))
        .await
        .map_err(|e| AlertError::Command(e.to_string()))?
}

fn run_command_blocking(command: &[String], alert: &Alert) -> Result<(), AlertError> {
    use std::io::Write;
    let Some((program, args)) = command.split_first() else {
        return Err(AlertError::Command("[alertas] command está vazio".into()));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("RNDS_DROP_ALERTA", &alert.subject)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| AlertError::Command(format!("{program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(alert.body.as_bytes());
    }
    let status = child
        .wait()
        .map_err(|e| AlertError::Command(format!("{program}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(AlertError::Command(format!(
            "{program} terminou com {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Alertas {
        Alertas {
            pending_after_s: 120,
            certificate_days: 30,
            repeat_after_s: 3600,
            check_interval_s: 1,
            command: None,
            email: None,
        }
    }

    #[test]
    fn a_password_typed_where_its_variable_or_file_belongs_is_never_printed() {
        let secret = "Minha senha 123!";
        let email = |env: Option<&str>, file: Option<&str>| AlertEmail {
            smtp_host: "smtp.exemplo.com.br".into(),
            smtp_port: 587,
            from: "rnds-drop@exemplo.com.br".into(),
            to: vec!["ti@exemplo.com.br".into()],
            username: Some("rnds".into()),
            password_env: env.map(Into::into),
            password_file: file.map(Into::into),
            extra_ca: None,
            timeout_s: 5,
        };
        for settings in [email(Some(secret), None), email(None, Some(secret))] {
            let error = smtp_password(&settings).unwrap_err().to_string();
            assert!(!error.contains(secret), "{error}");
            assert!(error.contains("password_"), "{error}");
        }
        // A conventional variable name is still named.
        let error = smtp_password(&email(Some("SMTP_SENHA_NAO_DEFINIDA"), None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("SMTP_SENHA_NAO_DEFINIDA"), "{error}");
    }

    #[test]
    fn each_condition_is_raised_once_per_period() {
        let mut alerter = Alerter::new(settings(), 86_400);
        let t0 = Instant::now();
        let mut inputs = AlertInputs {
            oldest_pending_age_s: Some(60),
            rows_waiting: 10,
            certificate_days_left: 200,
            ..AlertInputs::default()
        };
        assert!(alerter.due(&inputs, t0).is_empty());
        inputs.oldest_pending_age_s = Some(121);
        let due = alerter.due(&inputs, t0 + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].condition, Condition::Pending);
        assert!(due[0].body.contains("há 2 min"), "{}", due[0].body);
        // Still pending, and new refusals: only the refusal is new.
        inputs.rows_rejected = 3;
        let due = alerter.due(&inputs, t0 + Duration::from_secs(60));
        assert_eq!(
            due.iter().map(|a| a.condition).collect::<Vec<_>>(),
            [Condition::Rejected]
        );
        assert!(due[0].body.contains("recusou 3 exame(s)"));
        assert!(alerter
            .due(&inputs, t0 + Duration::from_secs(120))
            .is_empty());
        // After the period, the lasting condition is repeated once.
        let due = alerter.due(&inputs, t0 + Duration::from_secs(3602));
        assert_eq!(
            due.iter().map(|a| a.condition).collect::<Vec<_>>(),
            [Condition::Pending]
        );
        inputs.certificate_days_left = 12;
        inputs.files_failed = 1;
        let due = alerter.due(&inputs, t0 + Duration::from_secs(3603));
        assert_eq!(
            due.iter().map(|a| a.condition).collect::<Vec<_>>(),
            [Condition::FileFailed, Condition::Certificate]
        );
    }
}
