//! The answers every handler builds: FHIR JSON, OperationOutcome errors
//! counted in the stats, the EHR security headers, the host a Location
//! names. Its own file so `handlers`, `submit` and `lookups` share it
//! without importing each other.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::shared::Shared;

pub(super) type Reply = Response<Full<Bytes>>;

pub(super) const RNDS_SYSTEM_PREFIX: &str = "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-";

pub(super) fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    reply
}

pub(super) fn ok_json(shared: &Shared, status: StatusCode, body: &Value) -> Reply {
    shared.count(status.as_str(), None);
    json_reply(status, body)
}

pub(super) fn outcome(issues: Vec<(&str, String)>) -> Value {
    let issue: Vec<Value> = issues
        .into_iter()
        .map(|(code, diagnostics)| json!({"severity": "error", "code": code, "diagnostics": diagnostics}))
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issue})
}

/// An OperationOutcome error; `code` (e.g. `EHR-ERR866`) prefixes the text.
pub(super) fn fail(shared: &Shared, status: StatusCode, code: Option<&str>, text: &str) -> Reply {
    shared.count(status.as_str(), code);
    let diagnostics = match code {
        Some(code) => format!("({code}) {text}"),
        None => text.to_string(),
    };
    let issue_code = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "security",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        s if s.is_server_error() => "transient",
        _ => "processing",
    };
    json_reply(status, &outcome(vec![(issue_code, diagnostics)]))
}

/// The two security headers every EHR call carries: the token, then a
/// non-empty `Authorization`. Returns the `Authorization` value.
pub(super) fn authenticate<'a>(
    request: &'a Request<Incoming>,
    shared: &Shared,
) -> Result<&'a str, Box<Reply>> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let token = header("x-authorization-server")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !token.is_some_and(|t| shared.token_is_valid(t)) {
        return Err(Box::new(fail(
            shared,
            StatusCode::UNAUTHORIZED,
            Some("EHR-ERR882"),
            "Token de acesso inválido ou expirado (X-Authorization-Server). JWT expired or invalid. Allowed clock skew: 0 milliseconds.",
        )));
    }
    match header("authorization").map(str::trim) {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(Box::new(fail(
            shared,
            StatusCode::UNAUTHORIZED,
            Some("EHR-ERR884"),
            "Dados de autenticação inválidos: o cabeçalho Authorization deve trazer o CNS ou CPF do profissional responsável.",
        ))),
    }
}

pub(super) fn host_of(request: &Request<Incoming>, shared: &Shared) -> String {
    request
        .uri()
        .authority()
        .map(std::string::ToString::to_string)
        .or_else(|| {
            request
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("localhost (CNES {})", shared.identity.cnes))
}
