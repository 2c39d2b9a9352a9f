//! The read-only FHIR services of the contract: `Organization`,
//! `Practitioner`, the `PractitionerRole` link search, `Patient`,
//! `metadata`, and `identifier?system=&value=` (a document's current id).
//!
//! Invariant: answers from the simulator's identity and store only.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use super::reply::{authenticate, fail, host_of, ok_json, Reply, RNDS_SYSTEM_PREFIX};
use super::shared::Shared;
use crate::conformance;

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(request: &Request<Incoming>, name: &str) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn searchset(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
}

pub(super) fn lookup(request: &Request<Incoming>, rest: &str, shared: &Shared) -> Reply {
    if rest == "metadata" {
        return ok_json(shared, StatusCode::OK, &capability_statement());
    }
    if let Err(reply) = authenticate(request, shared) {
        return *reply;
    }
    let id = shared.identity.clone();
    let unknown = |what: &str| {
        fail(
            shared,
            StatusCode::NOT_FOUND,
            None,
            &format!("Resource {what} is not known"),
        )
    };
    let value_after_bar = |param: &str| {
        query_param(request, param).map(|v| v.rsplit('|').next().unwrap_or("").to_string())
    };
    match rest.split_once('/') {
        Some(("Organization", key)) if key == id.cnes || key == id.cnpj => ok_json(
            shared,
            StatusCode::OK,
            &json!({"resourceType": "Organization", "id": key, "active": true,
                    "name": "LABORATORIO EXEMPLO LTDA",
                    "identifier": [{"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes", "value": id.cnes},
                                   {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnpj", "value": id.cnpj}]}),
        ),
        Some(("Practitioner", key)) if key == id.requester_cns || key == id.unlinked_cns => {
            ok_json(
                shared,
                StatusCode::OK,
                &json!({"resourceType": "Practitioner", "id": key,
                    "identifier": [{"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns", "value": key}]}),
            )
        }
        Some((kind, key)) => unknown(&format!("{kind}/{key}")),
        None => match rest {
            "PractitionerRole" => {
                let cns = value_after_bar("practitioner.identifier");
                let cnes = value_after_bar("organization.identifier");
                let linked = cns.as_deref() == Some(id.requester_cns.as_str())
                    && cnes.as_deref() == Some(id.cnes.as_str());
                let entries = if linked {
                    vec![
                        json!({"resource": {"resourceType": "PractitionerRole", "active": true,
                        "practitioner": {"identifier": {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns", "value": id.requester_cns}},
                        "organization": {"identifier": {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes", "value": id.cnes}},
                        "code": [{"coding": [{"system": "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCBO", "code": "221205"}]}]}}),
                    ]
                } else {
                    vec![]
                };
                ok_json(shared, StatusCode::OK, &searchset(entries))
            }
            "Patient" => {
                let cns = value_after_bar("identifier").unwrap_or_default();
                let entries = if conformance::cns_is_valid(&cns) {
                    vec![json!({"resource": {"resourceType": "Patient", "id": cns,
                        "identifier": [{"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns", "value": cns}]}})]
                } else {
                    vec![]
                };
                ok_json(shared, StatusCode::OK, &searchset(entries))
            }
            "identifier" => {
                let system = query_param(request, "system").unwrap_or_default();
                let value = query_param(request, "value").unwrap_or_default();
                let expected = format!("{RNDS_SYSTEM_PREFIX}{}", id.requester_id);
                let current = if system == expected {
                    shared.with_store(|s| s.current_id(&value).map(str::to_string))
                } else {
                    None
                };
                let host = host_of(request, shared);
                let entries = current
                    .map(|rnds_id| {
                        vec![json!({"fullUrl": format!("https://{host}/api/fhir/r4/Bundle/{rnds_id}"),
                            "resource": {"resourceType": "Bundle", "id": rnds_id, "type": "document",
                                         "identifier": {"system": system, "value": value}}})]
                    })
                    .unwrap_or_default();
                ok_json(shared, StatusCode::OK, &searchset(entries))
            }
            other => unknown(other),
        },
    }
}

fn capability_statement() -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "software": {"name": "rnds-drop simulador"},
        "rest": [{"mode": "server", "resource": [
            {"type": "Bundle", "interaction": [{"code": "create"}]},
            {"type": "Organization", "interaction": [{"code": "read"}]},
            {"type": "Practitioner", "interaction": [{"code": "read"}]},
            {"type": "PractitionerRole", "interaction": [{"code": "search-type"}]},
            {"type": "Patient", "interaction": [{"code": "search-type"}]}
        ]}]
    })
}
