//! What each request means: routing, the token and the inspection
//! endpoints; bundle submission is `submit`, the lookups `lookups`.
//! Errors are OperationOutcomes whose diagnostics start with the RNDS
//! code in parentheses.
//!
//! Invariant: knows the contract and JSON; no `fhir::` or `rnds::` types.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::Notify;

use super::reply::{fail, json_reply, ok_json, Reply};
use super::shared::Shared;
use super::submit::submit;

const FHIR_BASE: &str = "/api/fhir/r4/";

pub(super) async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    client_subject: Option<Arc<str>>,
) -> Result<Reply, Infallible> {
    let path = request.uri().path().to_string();
    if path.starts_with("/api/") {
        let user_agent = request
            .headers()
            .get(hyper::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        shared.count_method(request.method(), user_agent);
    }
    // Held until the reply is built: the worker of the capacity model.
    let mut _worker = None;
    if path.starts_with("/api/") {
        let faults = shared.faults();
        let jitter = if faults.jitter_ms > 0 {
            (crate::platform::random_unit() * (faults.jitter_ms + 1) as f64) as u64
        } else {
            0
        };
        let delay = faults.latency_ms + jitter.min(faults.jitter_ms);
        if let (Some(capacity), true) = (&shared.capacity, path.starts_with(FHIR_BASE)) {
            match capacity.admit(faults.latency_ms) {
                Ok(ticket) => _worker = Some(ticket.serve().await),
                Err(refused) => return Ok(over_capacity(&shared, refused.retry_after_s)),
            }
        }
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
    let reply = route(request, &path, &shared, &kill, client_subject.as_deref()).await;
    Ok(reply)
}

async fn route(
    request: Request<Incoming>,
    path: &str,
    shared: &Shared,
    kill: &Notify,
    client_subject: Option<&str>,
) -> Reply {
    let method = request.method().clone();
    match (&method, path) {
        // CONTRACT.md:37-43: GET, mutual TLS on this call only.
        (&Method::GET, "/api/token") if client_subject.is_none() => fail(
            shared,
            StatusCode::UNAUTHORIZED,
            None,
            "O serviço de token exige autenticação mútua TLS: apresente o certificado ICP-Brasil do laboratório.",
        ),
        (&Method::GET, "/api/token") => {
            shared.count_token_subject(client_subject.unwrap_or_default());
            token(shared)
        }
        // CONTRACT.md:39: "POST answers 405".
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
        // Where an injected redirect points: a 200 that stores nothing.
        (&Method::GET, super::submit::REDIRECT_TARGET) => {
            json_reply(StatusCode::OK, &json!({"id": "fake-accepted"}))
        }
        (&Method::GET, "/_sim/stats") => {
            let body = shared.stats_json();
            json_reply(StatusCode::OK, &body)
        }
        (&Method::POST, "/api/fhir/r4/Bundle") => submit(request, shared, kill).await,
        (&Method::GET, p) if p.starts_with(FHIR_BASE) => {
            super::lookups::lookup(&request, &p[FHIR_BASE.len()..], shared)
        }
        // Known resources, a method RNDS does not offer on them: the
        // contract names POST for Bundle (CONTRACT.md:51) and GET for the
        // rest (:129).
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

/// The capacity model's refusal: every worker busy and the queue full.
fn over_capacity(shared: &Shared, retry_after_s: u64) -> Reply {
    let mut reply = fail(
        shared,
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "Too many requests: capacidade do servidor esgotada",
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        reply.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    reply
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
