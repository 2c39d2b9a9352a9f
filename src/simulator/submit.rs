//! `POST /api/fhir/r4/Bundle`: the contract's checks in RNDS' order
//! (injected faults, media type, security headers, the requester, the
//! body, the document's status, the profiles), then the store's decision
//! (new, duplicate, replacement) and the `201` with its Location. Each
//! step either passes or is the answer. Each refusal names its source:
//! a line of `shared/rnds/CONTRACT.md`, a profile element (through
//! `conformance`), or the RNDS error catalogue (`schemas/rnds_errors.toml`).
//!
//! Invariant: knows the contract and JSON; no `fhir::` or `rnds::` types.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::reply::{authenticate, fail, host_of, json_reply, outcome, Reply, RNDS_SYSTEM_PREFIX};
use super::shared::Shared;
use super::store::{self, Refusal};
use super::Faults;
use crate::conformance;
use crate::rnds_errors::ErrorClass;

const MAX_BODY: usize = 4 << 20;

/// A step that did not pass: the answer the request gets.
type Answered = Box<Reply>;

pub(super) async fn submit(request: Request<Incoming>, shared: &Shared, kill: &Notify) -> Reply {
    match accept(request, shared, kill).await {
        Ok(reply) => reply,
        Err(answered) => *answered,
    }
}

async fn accept(
    request: Request<Incoming>,
    shared: &Shared,
    kill: &Notify,
) -> Result<Reply, Answered> {
    let faults = shared.faults();
    injected_fault(&faults, shared)?;
    redirected(&faults, &request, shared)?;
    if faults.stall_rate > 0.0 && crate::platform::random_unit() < faults.stall_rate {
        shared.count("stalled", None);
        tokio::time::sleep(std::time::Duration::from_millis(faults.stall_ms)).await;
    }
    media_type_is_json(&request, shared)?;
    professional_is_authorised(&request, shared)?;
    let host = host_of(&request, shared);
    let (body, bundle) = read_bundle(request, shared).await?;
    catalogued_answer(&faults, &bundle, shared)?;
    requester_is_authorised(&bundle, shared)?;
    let composition = composition_of(&bundle);
    document_is_final(composition, shared)?;
    bundle_conforms(&bundle, shared)?;
    let rnds_id = store_document(&bundle, composition, &body, shared)?;
    if faults.lost_answer_rate > 0.0 && crate::platform::random_unit() < faults.lost_answer_rate {
        shared.count("lost", None);
        kill.notify_one();
        // The connection task drops this future with the connection.
        std::future::pending::<()>().await;
    }
    Ok(created(shared, &host, &rnds_id))
}

/// Configured 429s (with `Retry-After`), 503s and 5xx answers, before any check:
/// faults the operator asked for (CONTRACT.md:153-154: treat 429/5xx as
/// transient), not rules.
fn injected_fault(faults: &Faults, shared: &Shared) -> Result<(), Answered> {
    if faults.rate_429 > 0.0 && crate::platform::random_unit() < faults.rate_429 {
        let mut reply = fail(
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many requests",
        );
        if let Ok(v) = HeaderValue::from_str(&faults.retry_after_s.to_string()) {
            reply.headers_mut().insert(RETRY_AFTER, v);
        }
        return Err(Box::new(reply));
    }
    if faults.rate_503 > 0.0 && crate::platform::random_unit() < faults.rate_503 {
        return Err(Box::new(fail(
            shared,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Serviço temporariamente indisponível (simulado)",
        )));
    }
    if faults.error_5xx_rate > 0.0 && crate::platform::random_unit() < faults.error_5xx_rate {
        let status = if crate::platform::random_unit() < 0.5 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Err(Box::new(fail(
            shared,
            status,
            None,
            "Erro interno simulado",
        )));
    }
    Ok(())
}

/// The answer RNDS gives with a code of its error list, when asked for by
/// the `answer_code` fault or a `SIMULAR-<code>` identifier value. The
/// status per class is the simulator's choice (RNDS publishes none for most
/// codes, docs/RNDS.md): 422 for the row and duplicates, 403 for access
/// (401 for the token's EHR-ERR882), 503 for instability.
fn catalogued_answer(faults: &Faults, bundle: &Value, shared: &Shared) -> Result<(), Answered> {
    let asked = faults.answer_code.as_deref().or_else(|| {
        bundle["identifier"]["value"]
            .as_str()
            .and_then(|v| v.strip_prefix(SIMULATED_CODE_PREFIX))
    });
    let Some(entry) = asked.and_then(|code| crate::rnds_errors::catalogue().get(code)) else {
        return Ok(());
    };
    let status = match entry.class {
        _ if entry.code == "ERR882" => StatusCode::UNAUTHORIZED,
        ErrorClass::FixRow | ErrorClass::AlreadyAtRnds => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::FixConfiguration => StatusCode::FORBIDDEN,
        ErrorClass::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
    };
    let text = entry.message.clone().unwrap_or_else(|| {
        format!(
            "Resposta simulada: código {} da lista de mensagens e erros da RNDS.",
            entry.code
        )
    });
    Err(Box::new(fail(
        shared,
        status,
        Some(&format!("EHR-{}", entry.code)),
        &text,
    )))
}

/// The identifier value that asks the simulator for a catalogued answer.
pub(super) const SIMULATED_CODE_PREFIX: &str = "SIMULAR-";

/// Configured redirects: `302 Found` to `/_sim/redirected`, a page that
/// answers any GET with `200` and a fake id. Nothing is stored.
fn redirected(
    faults: &Faults,
    request: &Request<Incoming>,
    shared: &Shared,
) -> Result<(), Answered> {
    if faults.redirect_rate > 0.0 && crate::platform::random_unit() < faults.redirect_rate {
        shared.count("302", None);
        let location = format!("https://{}{REDIRECT_TARGET}", host_of(request, shared));
        let mut reply = Response::new(Full::new(Bytes::new()));
        *reply.status_mut() = StatusCode::FOUND;
        if let Ok(v) = HeaderValue::from_str(&location) {
            reply.headers_mut().insert(LOCATION, v);
        }
        return Err(Box::new(reply));
    }
    Ok(())
}

/// Where an injected redirect points (see [`redirected`]).
pub(super) const REDIRECT_TARGET: &str = "/_sim/redirected";

/// CONTRACT.md:52 (`Content-Type: application/fhir+json`); FHIR R4 http
/// §3.1.0.1.10 also allows `application/json`, which the guide's npm
/// client sends.
fn media_type_is_json(request: &Request<Incoming>, shared: &Shared) -> Result<(), Answered> {
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
        return Err(Box::new(fail(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            &format!("Content-Type \"{content_type}\" não suportado: use application/fhir+json"),
        )));
    }
    Ok(())
}

/// A valid token (CONTRACT.md:53, EHR-ERR882 at :147), an `Authorization`
/// (EHR-ERR884 at :148), and the professional of `Authorization` is the
/// lab's requester (CONTRACT.md:55-57, EHR-ERR906 at :149).
fn professional_is_authorised(
    request: &Request<Incoming>,
    shared: &Shared,
) -> Result<(), Answered> {
    let professional = authenticate(request, shared)?;
    if professional != shared.identity.requester_cns {
        return Err(Box::new(fail(
            shared,
            StatusCode::FORBIDDEN,
            Some("EHR-ERR906"),
            &format!(
                "O profissional {professional} não possui lotação autorizada no estabelecimento {} do solicitante.",
                shared.identity.cnes
            ),
        )));
    }
    Ok(())
}

/// The body and its JSON (FHIR R4 http: an unparsable body is 400). The
/// 4 MiB cap bounds the simulator's memory; it is not an RNDS rule
/// (CONTRACT.md:153: no payload size is published), and a REL bundle is a
/// few kB.
async fn read_bundle(
    request: Request<Incoming>,
    shared: &Shared,
) -> Result<(Bytes, Value), Answered> {
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(Box::new(fail(
                shared,
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "Corpo da requisição ilegível ou maior que 4 MiB",
            )))
        }
    };
    match serde_json::from_slice(&body) {
        Ok(bundle) => Ok((body, bundle)),
        Err(e) => Err(Box::new(fail(
            shared,
            StatusCode::BAD_REQUEST,
            None,
            &format!("JSON inválido: {e}"),
        ))),
    }
}

/// The bundle's `BRRNDS-<id>` system is the lab's own (CONTRACT.md:146,
/// EHR-ERR881).
fn requester_is_authorised(bundle: &Value, shared: &Shared) -> Result<(), Answered> {
    let system = bundle["identifier"]["system"].as_str().unwrap_or("");
    if let Some(id) = system.strip_prefix(RNDS_SYSTEM_PREFIX) {
        if id != shared.identity.requester_id {
            return Err(Box::new(fail(
                shared,
                StatusCode::FORBIDDEN,
                Some("EHR-ERR881"),
                &format!("Não autorizado para o sistema de origem BRRNDS-{id}."),
            )));
        }
    }
    Ok(())
}

fn composition_of(bundle: &Value) -> Option<&Value> {
    bundle["entry"].as_array().and_then(|entries| {
        entries
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == "Composition")
    })
}

/// Only `final` documents are accepted (CONTRACT.md:150, EHR-ERR924).
fn document_is_final(composition: Option<&Value>, shared: &Shared) -> Result<(), Answered> {
    if let Some(status) = composition.and_then(|c| c["status"].as_str()) {
        if status != "final" {
            return Err(Box::new(fail(
                shared,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("EHR-ERR924"),
                &format!("O status do documento deve ser final (recebido: {status})."),
            )));
        }
    }
    Ok(())
}

/// The profiles of `schemas/` (each rule sourced there or in
/// `conformance`): a 422 listing every violation with its location as the
/// issue's `expression`.
fn bundle_conforms(bundle: &Value, shared: &Shared) -> Result<(), Answered> {
    let violations = conformance::check_bundle(bundle);
    if violations.is_empty() {
        return Ok(());
    }
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
    Err(Box::new(json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &body,
    )))
}

/// Stores the document under a new RNDS id, as new or as the replacement
/// its `relatesTo` names (CONTRACT.md:113-125); the store refuses a reused
/// identifier (CONTRACT.md:145, EHR-ERR866) and a replacement of anything
/// but the current document (CONTRACT.md:123: the replacement's id is the
/// one to target next time).
fn store_document(
    bundle: &Value,
    composition: Option<&Value>,
    body: &[u8],
    shared: &Shared,
) -> Result<String, Answered> {
    let lab_id = bundle["identifier"]["value"].as_str().unwrap_or_default();
    let replaces = replacement_target(composition.unwrap_or(&Value::Null))
        .map_err(|text| Box::new(fail(shared, StatusCode::UNPROCESSABLE_ENTITY, None, &text)))?;
    let profile = composition
        .and_then(|c| c["meta"]["profile"][0].as_str())
        .unwrap_or_default();
    let rnds_id = new_rnds_id();
    let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // The body as received, unless it spans lines (pretty-printed JSON).
    let compact;
    let bundle_json = match std::str::from_utf8(body) {
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
        Ok(Ok(())) => Ok(rnds_id),
        Ok(Err(e)) => Err(Box::new(fail(
            shared,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            &format!("falha ao gravar: {e}"),
        ))),
        Err(refusal) => Err(Box::new(refused(shared, lab_id, refusal))),
    }
}

/// Why the store would not take the document, in RNDS' words.
fn refused(shared: &Shared, lab_id: &str, refusal: Refusal) -> Reply {
    match refusal {
        Refusal::Duplicate { .. } => fail(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("EHR-ERR866"),
            &format!("O identificador {lab_id} já foi utilizado para outro documento."),
        ),
        Refusal::UnknownIdentifier => fail(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &format!("Substituição inválida: não há documento com o identificador {lab_id} para ser substituído."),
        ),
        Refusal::NotCurrent { target, current } => fail(
            shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &format!("Substituição inválida: Composition/{target} não é o documento atual do identificador {lab_id} (o atual é Composition/{current})."),
        ),
    }
}

/// `201 Created` with the new document's Location.
fn created(shared: &Shared, host: &str, rnds_id: &str) -> Reply {
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
fn new_rnds_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..4)
        .map(|_| {
            ALPHABET
                [(crate::platform::random_unit() * ALPHABET.len() as f64) as usize % ALPHABET.len()]
                as char
        })
        .collect();
    format!("{}-{suffix}", uuid::Uuid::new_v4())
}
