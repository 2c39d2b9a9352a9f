//! What each request means: the token, bundle submission with the
//! contract's checks in RNDS' order, the lookups and the inspection
//! endpoints. Errors are OperationOutcomes whose diagnostics start with the
//! RNDS code in parentheses.
//!
//! Invariant: knows the contract and JSON; no `fhir::` or `rnds::` types.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::server::Shared;
use super::store::{self, Refusal};
use crate::conformance;

pub(super) type Reply = Response<Full<Bytes>>;

pub(super) const RNDS_SYSTEM_PREFIX: &str = "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-";
const FHIR_BASE: &str = "/api/fhir/r4/";
const MAX_BODY: usize = 4 << 20;

pub(super) async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    client_certificate: bool,
) -> Result<Reply, Infallible> {
    let path = request.uri().path().to_string();
    if path.starts_with("/api/") {
        shared.count_method(request.method());
    }
    if path.starts_with("/api/") {
        let faults = shared.faults();
        let jitter = if faults.jitter_ms > 0 {
            (shared.random() * (faults.jitter_ms + 1) as f64) as u64
        } else {
            0
        };
        let delay = faults.latency_ms + jitter.min(faults.jitter_ms);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
    let reply = route(request, &path, &shared, &kill, client_certificate).await;
    Ok(reply)
}

async fn route(
    request: Request<Incoming>,
    path: &str,
    shared: &Shared,
    kill: &Notify,
    client_certificate: bool,
) -> Reply {
    let method = request.method().clone();
    match (&method, path) {
        (&Method::GET, "/api/token") if !client_certificate => fail(
            shared,
            StatusCode::UNAUTHORIZED,
            None,
            "O serviço de token exige autenticação mútua TLS: apresente o certificado ICP-Brasil do laboratório.",
        ),
        (&Method::GET, "/api/token") => token(shared),
        (_, "/api/token") => fail(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "use GET /api/token",
        ),
        (&Method::GET, "/_sim/documents") => {
            let mut reply = Response::new(Full::new(Bytes::from(shared.documents_json())));
            reply
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            reply
        }
        (&Method::GET, "/_sim/stats") => {
            let body = shared.stats_json();
            json_reply(StatusCode::OK, &body)
        }
        (&Method::POST, "/api/fhir/r4/Bundle") => submit(request, shared, kill).await,
        (&Method::GET, p) if p.starts_with(FHIR_BASE) => {
            super::lookups::lookup(&request, &p[FHIR_BASE.len()..], shared)
        }
        // Known resources, a method RNDS does not offer on them.
        (_, p) if p.starts_with(FHIR_BASE) => {
            let mut reply = fail(
                shared,
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                &format!("Method {method} is not allowed on {path}"),
            );
            let allow = if p == "/api/fhir/r4/Bundle" { "POST" } else { "GET" };
            reply
                .headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
            reply
        }
        _ => fail(
            shared,
            StatusCode::NOT_FOUND,
            None,
            &format!("Resource {path} is not known"),
        ),
    }
}

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

fn token(shared: &Shared) -> Reply {
    let token = shared.issue_token();
    ok_json(
        shared,
        StatusCode::OK,
        &json!({
            "access_token": token,
            "scope": "read write",
            "token_type": "jwt",
            "expires_in": shared.token_lifetime.as_millis() as u64,
        }),
    )
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

async fn submit(request: Request<Incoming>, shared: &Shared, kill: &Notify) -> Reply {
    let faults = shared.faults();
    if faults.rate_429 > 0.0 && shared.random() < faults.rate_429 {
        let mut reply = fail(
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many requests",
        );
        if let Ok(v) = HeaderValue::from_str(&faults.retry_after_s.to_string()) {
            reply.headers_mut().insert(RETRY_AFTER, v);
        }
        return reply;
    }
    if faults.error_5xx_rate > 0.0 && shared.random() < faults.error_5xx_rate {
        let status = if shared.random() < 0.5 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return fail(shared, status, None, "Erro interno simulado");
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    // The npm `rnds` client sends application/json; parameters (charset) are fine.
    if media_type != "application/fhir+json" && media_type != "application/json" {
        return fail(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            &format!("Content-Type \"{content_type}\" não suportado: use application/fhir+json"),
        );
    }
    let professional = match authenticate(&request, shared) {
        Ok(a) => a.to_string(),
        Err(reply) => return *reply,
    };
    if professional != shared.identity.requester_cns {
        return fail(
            shared,
            StatusCode::FORBIDDEN,
            Some("EHR-ERR906"),
            &format!(
                "O profissional {professional} não possui lotação autorizada no estabelecimento {} do solicitante.",
                shared.identity.cnes
            ),
        );
    }
    let host = host_of(&request, shared);
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return fail(
                shared,
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "Corpo da requisição ilegível ou maior que 4 MiB",
            )
        }
    };
    let bundle: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return fail(
                shared,
                StatusCode::BAD_REQUEST,
                None,
                &format!("JSON inválido: {e}"),
            )
        }
    };
    let system = bundle["identifier"]["system"].as_str().unwrap_or("");
    if let Some(id) = system.strip_prefix(RNDS_SYSTEM_PREFIX) {
        if id != shared.identity.requester_id {
            return fail(
                shared,
                StatusCode::FORBIDDEN,
                Some("EHR-ERR881"),
                &format!("Não autorizado para o sistema de origem BRRNDS-{id}."),
            );
        }
    }
    let composition = bundle["entry"].as_array().and_then(|entries| {
        entries
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == "Composition")
    });
    if let Some(status) = composition.and_then(|c| c["status"].as_str()) {
        if status != "final" {
            return fail(
                shared,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("EHR-ERR924"),
                &format!("O status do documento deve ser final (recebido: {status})."),
            );
        }
    }
    let violations = conformance::check_bundle(&bundle);
    if !violations.is_empty() {
        shared.count("422", Some("conformance"));
        let issues = violations
            .into_iter()
            .map(|v| ("invalid", format!("{}: {}", v.location, v.message)))
            .collect();
        let mut body = outcome(issues);
        if let Some(list) = body["issue"].as_array_mut() {
            for issue in list {
                let location = issue["diagnostics"]
                    .as_str()
                    .and_then(|d| d.split(": ").next())
                    .map(str::to_string);
                issue["expression"] = json!([location]);
            }
        }
        return json_reply(StatusCode::UNPROCESSABLE_ENTITY, &body);
    }
    let lab_id = bundle["identifier"]["value"].as_str().unwrap_or_default();
    let replaces = match replacement_target(composition.unwrap_or(&Value::Null)) {
        Ok(target) => target,
        Err(text) => return fail(shared, StatusCode::UNPROCESSABLE_ENTITY, None, &text),
    };
    let profile = composition
        .and_then(|c| c["meta"]["profile"][0].as_str())
        .unwrap_or_default();
    let rnds_id = new_rnds_id(shared);
    let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // The body as received, unless it spans lines (pretty-printed JSON).
    let compact;
    let bundle_json = match std::str::from_utf8(&body) {
        Ok(text) if !text.contains('\n') => text,
        _ => {
            compact = bundle.to_string();
            compact.as_str()
        }
    };
    let line = store::document_line(
        lab_id,
        &rnds_id,
        replaces.as_deref(),
        profile,
        &received_at,
        bundle_json,
    );
    let stored = shared.with_store(|store| {
        store.admit(lab_id, replaces.as_deref())?;
        Ok(store.insert(lab_id, &rnds_id, line))
    });
    match stored {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(shared, StatusCode::INTERNAL_SERVER_ERROR, None, &format!("falha ao gravar: {e}")),
        Err(Refusal::Duplicate { .. }) => {
            return fail(
                shared,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("EHR-ERR866"),
                &format!("O identificador {lab_id} já foi utilizado para outro documento."),
            )
        }
        Err(Refusal::UnknownIdentifier) => {
            return fail(
                shared,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &format!("Substituição inválida: não há documento com o identificador {lab_id} para ser substituído."),
            )
        }
        Err(Refusal::NotCurrent { target, current }) => {
            return fail(
                shared,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &format!("Substituição inválida: Composition/{target} não é o documento atual do identificador {lab_id} (o atual é Composition/{current})."),
            )
        }
    }
    if faults.lost_answer_rate > 0.0 && shared.random() < faults.lost_answer_rate {
        shared.count("lost", None);
        kill.notify_one();
        // The connection task drops this future with the connection.
        std::future::pending::<()>().await;
    }
    shared.count("201", None);
    let location = format!("https://{host}/api/fhir/r4/Bundle/{rnds_id}");
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(&location) {
        reply.headers_mut().insert(LOCATION, v.clone());
        reply.headers_mut().insert("content-location", v);
    }
    reply
}

/// The RNDS id a Composition's `relatesTo` replaces, if it has one.
fn replacement_target(composition: &Value) -> Result<Option<String>, String> {
    let Some(relates) = composition["relatesTo"].as_array().and_then(|r| r.first()) else {
        return Ok(None);
    };
    let reference = relates["targetReference"]["reference"]
        .as_str()
        .unwrap_or("");
    match reference.strip_prefix("Composition/") {
        Some(id) if !id.is_empty() => Ok(Some(id.to_string())),
        _ => Err(format!(
            "Substituição inválida: relatesTo.targetReference.reference deve ser Composition/<id RNDS do documento atual> (recebido: \"{reference}\")."
        )),
    }
}

/// `<uuid>-<4 lowercase letters or digits>`, like RNDS ids.
fn new_rnds_id(shared: &Shared) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..4)
        .map(|_| {
            ALPHABET[(shared.random() * ALPHABET.len() as f64) as usize % ALPHABET.len()] as char
        })
        .collect();
    format!("{}-{suffix}", uuid::Uuid::new_v4())
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
