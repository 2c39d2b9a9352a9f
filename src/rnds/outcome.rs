//! THE one place that decides what an RNDS answer (or the lack of one)
//! means. Every exchange becomes a [`Verdict`]: a final [`Outcome`], "refresh
//! the token and retry once", or "retry after a back-off".
//!
//! | what happened | verdict |
//! |---|---|
//! | bundle POST: 201 with `Location`/`Content-Location` `…/Bundle/<id>`, `<id>` a FHIR id | `Accepted { rnds_id: <id> }` (the contract's success, nothing else is) |
//! | bundle POST: 201 without a well-formed id (`x y`), or any other 2xx | `Unknown` (maybe stored, id not known: resolve it) |
//! | 2xx to a GET | the lookup reads the body (ids in it are checked the same way) |
//! | 401 naming EHR-ERR882 (token invalid or expired) | refresh the token, retry once; a second 882 → `ConfigurationError` |
//! | any other status naming a code of `schemas/rnds_errors.toml` (RNDS' error list) | by the class of the strongest code named anywhere in the answer (`already_at_rnds` > `fix_configuration` > `fix_row` > `retry_later`): `already_at_rnds` → `DuplicateIdentifier` (only EHR-ERR866, MSG010 "Identifier duplicado", MSG017 "Documento já existe"; ERR870, VIOLATION_UK_CONSTRAINT and other conflicts are `fix_row`); `fix_configuration` → `ConfigurationError`; `fix_row` → `Rejected`; `retry_later` → retry (to a bundle POST with a status other than 408/429/503: `Unknown`); the message carries the table's pt-BR action |
//! | 401 otherwise, 403 | `ConfigurationError` |
//! | 408, 429, 500, 502, 503, 504 (and any other 5xx) to a GET | retry with back-off honouring `Retry-After`; when spent → `Transient` |
//! | 408, 429, 503 to a bundle POST | the same retry (the server refused before storing) |
//! | 500, 502, 504 (and other 5xx), or a 4xx naming a `retry_later` code, to a bundle POST | `Unknown`: the server or a gateway may have stored it before failing; a blind resend could create a second document (or a replacement of a no-longer-current id) |
//! | a lookup refused with a configuration verdict | stops sending only for 401, 403 or a `credencial`/`token` code ([`lookup_refusal_halts`]); otherwise "lookup unavailable" (the client falls back to the resend proof for a first send) |
//! | 3xx (never followed: the client's redirect policy is `none`); 404/405 without an OperationOutcome | `ConfigurationError` (wrong `ehr_url`/`auth_url`) |
//! | any other 4xx (400, 404, 409, 412, 413, 422 with EHR-ERR924, …) | `Rejected` with the OperationOutcome diagnostics |
//! | connect refused, DNS failure, TLS handshake I/O failure: nothing sent | retry; when spent → `Transient` |
//! | TLS certificate refused (ours or the server's) | `ConfigurationError`; a `decrypt_error` alert counts only on the bare handshake probe of `handshake.rs` (elsewhere it may end a stream after sending: `Unknown`) |
//! | request cannot be built (`http://` URL, invalid header value) | `ConfigurationError` |
//! | time-out, connection reset or body lost after the request may have been sent | `Unknown` (never resent as new) |
//!
//! What an exchange says about RNDS' load ([`Pressure`], for the adaptive
//! limit on requests in flight) is decided here too: 408, 429, 5xx, a
//! `retry_later` code, a time-out or a lost or refused connection is
//! back-pressure; a certificate refusal or an unbuildable request says
//! nothing; the round-trip time of a bundle POST that RNDS accepted (2xx)
//! is a sample; any other answer (a lookup, a refusal) says nothing: they
//! come back faster than a bundle is stored, and as samples would pull
//! the limiter's RTT floor below every ordinary POST (review item 8).
//!
//! Invariant: pure (no I/O, no clock of its own); knows nothing of rows,
//! the ledger or the token cache.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::rnds_errors::ErrorClass;

/// The final fate of one bundle submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; `rnds_id` is the id from `Location` (needed to replace it).
    Accepted {
        /// The id from `Location`.
        rnds_id: String,
    },
    /// EHR-ERR866 (or MSG010/MSG017, the same words): the identifier is
    /// already used. If a previous attempt's answer was lost, that attempt
    /// was stored (id unknown).
    DuplicateIdentifier {
        /// The code as RNDS wrote it (`EHR-ERR866`, `EHR-MSG010`, …), for
        /// the reports.
        code: String,
    },
    /// The bundle's data is wrong; `message` is the OperationOutcome text.
    Rejected {
        /// The OperationOutcome text.
        message: String,
    },
    /// EHR-ERR881/884/906, 401/403, certificate: stop sending, report once.
    ConfigurationError {
        /// What RNDS or the TLS layer said.
        message: String,
    },
    /// Retries spent on 429/5xx/connect errors: leave the row pending.
    Transient {
        /// The last error seen.
        message: String,
    },
    /// Time-out or connection lost after sending: the document may be stored.
    Unknown {
        /// What was lost and when.
        message: String,
    },
}

/// What the client does next after one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Final(Outcome),
    /// EHR-ERR882: get a new token and retry once.
    RefreshToken {
        message: String,
    },
    /// Transient: back off (at least `retry_after`) and retry.
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
}

/// The parts of an HTTP answer that matter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'a> {
    pub status: u16,
    pub location: Option<&'a str>,
    pub retry_after: Option<&'a str>,
    pub body: &'a [u8],
}

pub(crate) fn classify_answer(answer: &Answer<'_>, now: DateTime<Utc>) -> Verdict {
    let status = answer.status;
    let text = diagnostics(answer.body);
    let has = |code: &str| text.contains(code);
    let said = if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    };
    if (200..300).contains(&status) {
        return match answer
            .location
            .and_then(id_from_location)
            .or_else(|| id_from_body(answer.body))
        {
            Some(rnds_id) => Verdict::Final(Outcome::Accepted { rnds_id }),
            None => Verdict::Final(Outcome::Unknown {
                message: format!("RNDS aceitou (HTTP {status}) mas não informou o id do documento"),
            }),
        };
    }
    let configuration = |advice: &str| {
        Verdict::Final(Outcome::ConfigurationError {
            message: format!("{said} — {advice}"),
        })
    };
    // CONTRACT.md:147: a new token, once, before the code's class applies.
    if status == 401 && has("EHR-ERR882") {
        return Verdict::RefreshToken { message: said };
    }
    if let Some(entry) = crate::rnds_errors::catalogue().find_in(&text) {
        let with_action = format!("{said} — {}", entry.action);
        return match entry.class {
            ErrorClass::AlreadyAtRnds => Verdict::Final(Outcome::DuplicateIdentifier {
                code: answered_code(&text, &entry.code),
            }),
            ErrorClass::FixConfiguration => configuration(&entry.action),
            ErrorClass::FixRow => Verdict::Final(Outcome::Rejected {
                message: with_action,
            }),
            ErrorClass::RetryLater => Verdict::Retry {
                message: with_action,
                retry_after: answer.retry_after.and_then(|v| parse_retry_after(v, now)),
            },
        };
    }
    match status {
        401 => configuration(
            "token recusado; confira se o certificado é o credenciado no DATASUS para este \
             ambiente",
        ),
        403 => configuration(
            "acesso negado; confira se o certificado está autorizado para este ambiente e \
             esta UF",
        ),
        300..=399 => configuration("redirecionamento inesperado; confira auth_url e ehr_url"),
        // Without an OperationOutcome, a 404/405 comes from a wrong address,
        // not from FHIR judging the bundle.
        404 | 405 if !is_operation_outcome(answer.body) => {
            configuration("endereço não encontrado na RNDS; confira ehr_url e environment")
        }
        408 | 429 | 500..=599 => Verdict::Retry {
            message: said,
            retry_after: answer.retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        _ => Verdict::Final(Outcome::Rejected { message: said }),
    }
}

/// A catalogue code as the answer wrote it: `EHR-ERR866` when RNDS
/// prefixed it, else the bare code (`MSG010`).
fn answered_code(text: &str, code: &str) -> String {
    let prefixed = format!("EHR-{code}");
    if text.contains(&prefixed) {
        prefixed
    } else {
        code.to_owned()
    }
}

/// [`classify_answer`] for a bundle POST, which is not idempotent: a 5xx
/// other than 503, or a 4xx other than 408/429 whose code says "retry
/// later", may come after the document was stored (a gateway time-out, an
/// error after the commit), so it is settled by the identifier lookup or
/// the EHR-ERR866 proof, never retried blindly. 408, 429 and 503 are
/// refusals before any work and stay retryable.
///
/// Success is exactly the contract's: `201 Created` with the document's id
/// in `Location` (or `Content-Location`). Any other 2xx, or a 201 whose id
/// is missing or not an id at all, may or may not have stored the document:
/// `Unknown`, settled by the lookup, never "sent".
pub(crate) fn classify_post_answer(answer: &Answer<'_>, now: DateTime<Utc>) -> Verdict {
    if (200..300).contains(&answer.status) {
        let status = answer.status;
        let id = answer.location.and_then(id_from_location);
        return Verdict::Final(match id {
            Some(rnds_id) if status == 201 => Outcome::Accepted { rnds_id },
            _ if status == 201 => Outcome::Unknown {
                message: "RNDS respondeu 201 sem um id de documento válido em Location; \
                          será conferido antes de qualquer reenvio"
                    .into(),
            },
            _ => Outcome::Unknown {
                message: format!(
                    "RNDS respondeu HTTP {status} em vez de 201 Created; será conferido antes \
                     de qualquer reenvio"
                ),
            },
        });
    }
    match classify_answer(answer, now) {
        // 429 and 503 refuse before any work; anything else that asks for a
        // retry (a 5xx, or a 4xx naming a retry_later code such as
        // ERROR_CONSUME_MESSAGE) may have come after the document was
        // stored, and a replacement re-POSTed after that is stale.
        Verdict::Retry { message, .. } if !matches!(answer.status, 408 | 429 | 503) => {
            Verdict::Final(Outcome::Unknown {
                message: format!(
                    "{message} depois do envio: a RNDS pode ter gravado o documento; \
                     será conferido antes de qualquer reenvio"
                ),
            })
        }
        other => other,
    }
}

/// What one exchange says about RNDS' load, for the adaptive limit on
/// requests in flight (`concurrency.rs`). Decided here, next to what is
/// retryable, so the two never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pressure {
    /// RNDS accepted a bundle POST in its own time: the round-trip time
    /// is a sample.
    Answered,
    /// RNDS is over capacity or failing: 408, 429, any 5xx, an answer
    /// naming a `retry_later` code, a time-out or a connection lost or
    /// refused.
    Overload,
    /// Says nothing about load: a refused certificate, a request that
    /// could not be built, a lookup answered, a bundle refused.
    Neutral,
}

/// Which kind of request an exchange was, for [`pressure_of_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// A bundle POST (`submit`): its accepted answers set the RTT floor.
    BundlePost,
    /// A GET (document, organization or role lookup).
    Lookup,
}

/// [`Pressure`] of an answer to a request of kind `kind`.
pub(crate) fn pressure_of_answer(kind: Exchange, status: u16, body: &[u8]) -> Pressure {
    match status {
        408 | 429 | 500..=599 => Pressure::Overload,
        // Only a refusal can name a code; read the body only then.
        400..=499
            if crate::rnds_errors::catalogue()
                .find_in(&diagnostics(body))
                .is_some_and(|entry| entry.class == ErrorClass::RetryLater) =>
        {
            Pressure::Overload
        }
        200..=299 if kind == Exchange::BundlePost => Pressure::Answered,
        _ => Pressure::Neutral,
    }
}

/// [`Pressure`] of an exchange that got no answer.
pub(crate) fn pressure_of_failure(failure: &TransportFailure) -> Pressure {
    match failure {
        TransportFailure::BeforeSending(_) | TransportFailure::AfterSending(_) => {
            Pressure::Overload
        }
        TransportFailure::Certificate(_) | TransportFailure::Invalid(_) => Pressure::Neutral,
    }
}

/// Whether a failed exchange could have reached the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransportFailure {
    /// Nothing was sent (connect refused, DNS, TLS handshake I/O).
    BeforeSending(String),
    /// A certificate was refused during the handshake.
    Certificate(String),
    /// The request may have been sent (time-out, reset, body lost).
    AfterSending(String),
    /// The request could not even be built (an `http://` URL, a header
    /// value with characters HTTP does not allow): configuration.
    Invalid(String),
}

pub(crate) fn classify_transport(failure: TransportFailure) -> Verdict {
    match failure {
        TransportFailure::BeforeSending(message) => Verdict::Retry {
            message: format!("não foi possível conectar à RNDS: {message}"),
            retry_after: None,
        },
        TransportFailure::Certificate(message) => {
            Verdict::Final(Outcome::ConfigurationError { message })
        }
        TransportFailure::Invalid(message) => Verdict::Final(Outcome::ConfigurationError {
            message: format!(
                "requisição inválida ({message}); confira auth_url e ehr_url (https://) e \
                 [lab] requester_cns"
            ),
        }),
        TransportFailure::AfterSending(message) => Verdict::Final(Outcome::Unknown {
            message: format!("a resposta da RNDS se perdeu após o envio: {message}"),
        }),
    }
}

/// Sorts a reqwest error by whether the request could have left.
pub(crate) fn transport_failure(error: &reqwest::Error) -> TransportFailure {
    if let Some(tls) = find_rustls_error(error) {
        if is_certificate_problem(tls) {
            return TransportFailure::Certificate(words::certificate_refusal(tls));
        }
    }
    // A TLS alert received after the handshake (TLS 1.3 client
    // authentication) reaches us as text inside an io::Error.
    if let Some(alert) = words::alert_in_text(error) {
        let tls = rustls::Error::AlertReceived(alert);
        if is_certificate_problem(&tls) {
            return TransportFailure::Certificate(words::certificate_refusal(&tls));
        }
    }
    if error.is_builder() {
        return TransportFailure::Invalid(builder_reason(error));
    }
    let text = words::transport_reason(error);
    if error.is_connect() {
        TransportFailure::BeforeSending(text)
    } else {
        TransportFailure::AfterSending(text)
    }
}

/// The certificate refusal (pt-BR) inside a TLS stream's I/O error, for
/// the bare handshake of `handshake.rs`; `None` for any other failure.
/// There (and only there: nothing is sent after that handshake) a
/// `decrypt_error` alert is the server failing to verify our certificate's
/// proof of its key; on a request's connection the same alert may end a
/// stream after the request left, which must stay `Unknown`.
pub(crate) fn certificate_refusal_in(error: &std::io::Error) -> Option<String> {
    find_rustls_error(error)
        .filter(|tls| {
            is_certificate_problem(tls)
                || matches!(
                    tls,
                    rustls::Error::AlertReceived(rustls::AlertDescription::DecryptError)
                )
        })
        .map(words::certificate_refusal)
}

/// Whether a lookup refused with a configuration verdict must stop all
/// sending: only when RNDS refused the credential itself (401, 403, a code
/// of the `credencial` or `token` groups). Any other refusal of a lookup
/// (`validation.type.param`, the `pesquisa` codes: the identifier lookup is
/// unconfirmed for lab results, CONTRACT.md:134-136) means "this lookup is
/// unavailable"; the caller falls back as it would without the lookup, and a
/// resend is classified like any bundle POST.
pub(crate) fn lookup_refusal_halts(status: u16, body: &[u8]) -> bool {
    matches!(status, 401 | 403)
        || crate::rnds_errors::catalogue()
            .find_in(&diagnostics(body))
            .is_some_and(|entry| matches!(entry.group.as_str(), "credencial" | "token"))
}

fn is_certificate_problem(error: &rustls::Error) -> bool {
    use rustls::AlertDescription as A;
    match error {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => true,
        rustls::Error::AlertReceived(alert) => matches!(
            alert,
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::CertificateRequired
                | A::AccessDenied
        ),
        _ => false,
    }
}

fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    // io::Error::source skips the error it wraps, and connectors nest them.
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        if let Some(tls) = find_rustls_error(inner) {
            return Some(tls);
        }
    }
    error.source().and_then(find_rustls_error)
}

/// Why a request could not be built, in pt-BR.
fn builder_reason(error: &reqwest::Error) -> String {
    match error.url() {
        Some(url) if url.scheme() != "https" => {
            format!("o endereço {url} não usa https://")
        }
        Some(url) => format!("a requisição para {url} tem um cabeçalho com caracteres inválidos"),
        None => "endereço ou cabeçalho inválido".to_string(),
    }
}

/// The OperationOutcome's `issue[].diagnostics` (or `details.text`) joined
/// with `; `; for a body that is not one, its first 300 characters.
pub(crate) fn diagnostics(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(issues) = value.get("issue").and_then(|i| i.as_array()) {
            let texts: Vec<&str> = issues
                .iter()
                .filter_map(|issue| {
                    issue
                        .get("diagnostics")
                        .and_then(|d| d.as_str())
                        .or_else(|| issue.pointer("/details/text").and_then(|d| d.as_str()))
                })
                .collect();
            if !texts.is_empty() {
                return texts.join("; ");
            }
        }
    }
    String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(300)
        .collect()
}

fn is_operation_outcome(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("resourceType")?
                .as_str()
                .map(|t| t == "OperationOutcome")
        })
        .unwrap_or(false)
}

/// `https://host/api/fhir/r4/Bundle/<id>` → `<id>`, when `<id>` is a
/// well-formed id ([`is_rnds_id`]).
pub(crate) fn id_from_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next().unwrap_or(location);
    let id = path.trim_end_matches('/').rsplit('/').next()?;
    // A `_history/<n>` suffix would name a version, not the document.
    (path.contains('/') && is_rnds_id(id)).then(|| id.to_string())
}

/// Whether `id` can be an RNDS document id: a FHIR `id` (1 to 64 ASCII
/// letters, digits, `-` or `.`), as RNDS' `<uuid>-<suffix>` ids are. What a
/// proxy or a broken server puts in `Location` (`x y`, an HTML fragment)
/// is never stored as the id a replacement would target.
pub(crate) fn is_rnds_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn id_from_body(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    (value.get("resourceType")?.as_str()? == "Bundle")
        .then(|| {
            value
                .get("id")?
                .as_str()
                .filter(|id| is_rnds_id(id))
                .map(str::to_string)
        })
        .flatten()
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (when.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests;
mod words;
pub(crate) use words::transport_reason;
