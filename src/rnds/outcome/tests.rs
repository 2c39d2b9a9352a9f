use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn outcome_body(code: &str, text: &str) -> Vec<u8> {
    serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing",
                   "diagnostics": format!("({code}) {text}")}]
    })
    .to_string()
    .into_bytes()
}

fn classify(status: u16, body: &[u8]) -> Verdict {
    classify_answer(
        &Answer {
            status,
            location: None,
            retry_after: None,
            body,
        },
        now(),
    )
}

fn final_outcome(v: Verdict) -> Outcome {
    match v {
        Verdict::Final(o) => o,
        other => panic!("expected a final outcome, got {other:?}"),
    }
}

#[test]
fn created_with_location_is_accepted_with_the_last_segment() {
    let location = "https://go-ehr-services.saude.gov.br/api/fhir/r4/Bundle/eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7";
    let v = classify_answer(
        &Answer {
            status: 201,
            location: Some(location),
            retry_after: None,
            body: b"",
        },
        now(),
    );
    assert_eq!(
        v,
        Verdict::Final(Outcome::Accepted {
            rnds_id: "eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7".into()
        })
    );
}

#[test]
fn created_without_any_id_is_unknown_not_accepted() {
    assert!(matches!(
        final_outcome(classify(201, b"")),
        Outcome::Unknown { .. }
    ));
}

#[test]
fn duplicate_identifier_is_its_own_class() {
    let body = outcome_body(
        "EHR-ERR866",
        "Identificador já utilizado por outro documento",
    );
    assert_eq!(
        final_outcome(classify(422, &body)),
        Outcome::DuplicateIdentifier {
            code: "EHR-ERR866".into()
        }
    );
}

#[test]
fn requester_and_link_errors_are_configuration_errors() {
    for (code, hint) in [
        ("EHR-ERR881", "requester_id"),
        ("EHR-ERR884", "requester_cns"),
        ("EHR-ERR906", "vínculo"),
    ] {
        let body = outcome_body(code, "Não autorizado");
        match final_outcome(classify(422, &body)) {
            Outcome::ConfigurationError { message } => {
                assert!(message.contains(code), "{message}");
                assert!(message.contains(hint), "{message}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[test]
fn expired_token_asks_for_a_refresh() {
    let body = outcome_body(
        "EHR-ERR882",
        "Token inválido. Allowed clock skew: 0 milliseconds",
    );
    assert!(matches!(classify(401, &body), Verdict::RefreshToken { .. }));
}

#[test]
fn other_401_and_403_are_configuration_errors() {
    assert!(matches!(
        final_outcome(classify(401, b"")),
        Outcome::ConfigurationError { .. }
    ));
    assert!(matches!(
        final_outcome(classify(403, b"Forbidden")),
        Outcome::ConfigurationError { .. }
    ));
}

#[test]
fn throttling_and_server_errors_are_retried_honouring_retry_after() {
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(
            matches!(classify(status, b""), Verdict::Retry { .. }),
            "{status}"
        );
    }
    let v = classify_answer(
        &Answer {
            status: 429,
            location: None,
            retry_after: Some("7"),
            body: b"",
        },
        now(),
    );
    assert_eq!(
        v,
        Verdict::Retry {
            message: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[test]
fn retry_after_as_http_date() {
    assert_eq!(
        parse_retry_after("Tue, 10 Mar 2026 12:00:30 GMT", now()),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Tue, 10 Mar 2026 11:00:00 GMT", now()),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now()), None);
}

#[test]
fn data_errors_are_rejections_keeping_the_diagnostics() {
    let body = outcome_body("EHR-ERR924", "O status do documento deve ser final");
    assert_eq!(
        final_outcome(classify(422, &body)),
        Outcome::Rejected {
            message: format!(
                "HTTP 422: (EHR-ERR924) O status do documento deve ser final — {}",
                crate::rnds_errors::catalogue()
                    .get("ERR924")
                    .unwrap()
                    .action
            )
        }
    );
    let body = serde_json::json!({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "details": {"text": "Resource Practitioner/123 is not known"}}]});
    match final_outcome(classify(400, body.to_string().as_bytes())) {
        Outcome::Rejected { message } => assert!(message.contains("Practitioner/123")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirects_point_at_the_configuration() {
    assert!(matches!(
        final_outcome(classify(302, b"")),
        Outcome::ConfigurationError { .. }
    ));
}

#[test]
fn transport_failures_split_on_whether_anything_was_sent() {
    assert!(matches!(
        classify_transport(TransportFailure::BeforeSending("connection refused".into())),
        Verdict::Retry { .. }
    ));
    assert!(matches!(
        classify_transport(TransportFailure::AfterSending("operation timed out".into())),
        Verdict::Final(Outcome::Unknown { .. })
    ));
    assert!(matches!(
        classify_transport(TransportFailure::Certificate("UnknownIssuer".into())),
        Verdict::Final(Outcome::ConfigurationError { .. })
    ));
}

#[test]
fn location_parsing() {
    assert_eq!(
        id_from_location("https://h/api/fhir/r4/Bundle/abc-1/").as_deref(),
        Some("abc-1")
    );
    assert_eq!(id_from_location("").as_deref(), None);
}

#[test]
fn not_found_without_fhir_body_is_a_wrong_address() {
    assert!(matches!(
        final_outcome(classify(404, b"<html>Not Found</html>")),
        Outcome::ConfigurationError { message } if message.contains("ehr_url")
    ));
    let body = outcome_body("EHR-ERR000", "Resource Practitioner/123 is not known");
    assert!(matches!(
        final_outcome(classify(404, &body)),
        Outcome::Rejected { .. }
    ));
}

#[test]
fn a_post_answered_500_502_504_may_be_stored_so_it_is_unknown_not_retried() {
    for status in [500u16, 502, 504] {
        let v = classify_post_answer(
            &Answer {
                status,
                location: None,
                retry_after: None,
                body: b"",
            },
            now(),
        );
        match final_outcome(v) {
            Outcome::Unknown { message } => {
                assert!(
                    message.contains("pode ter gravado o documento; será conferido"),
                    "{message}"
                );
                assert!(!message.contains("  "), "{message:?}");
            }
            other => panic!("HTTP {status} to a POST: {other:?}"),
        }
    }
    // Refusals before any work stay retryable, for POSTs too.
    for status in [429u16, 503, 408] {
        let v = classify_post_answer(
            &Answer {
                status,
                location: None,
                retry_after: Some("2"),
                body: b"",
            },
            now(),
        );
        assert!(
            matches!(v, Verdict::Retry { .. }),
            "HTTP {status} to a POST"
        );
    }
    // GETs (lookups) keep retrying every 5xx.
    assert!(matches!(classify(504, b""), Verdict::Retry { .. }));
}

fn classify_post(status: u16, location: Option<&str>, body: &[u8]) -> Outcome {
    final_outcome(classify_post_answer(
        &Answer {
            status,
            location,
            retry_after: None,
            body,
        },
        now(),
    ))
}

#[test]
fn only_201_with_a_well_formed_id_accepts_a_bundle_post() {
    let good = "https://h/api/fhir/r4/Bundle/eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7";
    assert!(matches!(
        classify_post(201, Some(good), b""),
        Outcome::Accepted { rnds_id } if rnds_id == "eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7"
    ));
    let body = br#"{"resourceType":"Bundle","id":"fake-accepted"}"#;
    for (status, location) in [
        (200, Some(good)),
        (200, None),
        (202, Some(good)),
        (201, Some("https://h/api/fhir/r4/Bundle/x y")),
        (201, Some("https://h/api/fhir/r4/Bundle/<b>ok</b>")),
        (201, None),
    ] {
        assert!(
            matches!(
                classify_post(status, location, body),
                Outcome::Unknown { .. }
            ),
            "{status} {location:?}"
        );
    }
    assert!(matches!(
        classify_post(307, Some(good), b""),
        Outcome::ConfigurationError { .. }
    ));
}

#[test]
fn rnds_ids_are_fhir_ids() {
    assert!(is_rnds_id("eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7"));
    assert!(is_rnds_id("abc.1"));
    for bad in ["", "x y", "a/b", "ã", "a\tb", &"a".repeat(65)] {
        assert!(!is_rnds_id(bad), "{bad:?}");
    }
}

fn outcome_body_of(texts: &[&str]) -> Vec<u8> {
    let issues: Vec<_> = texts
        .iter()
        .map(|t| serde_json::json!({"severity": "error", "code": "processing", "diagnostics": t}))
        .collect();
    serde_json::json!({"resourceType": "OperationOutcome", "issue": issues})
        .to_string()
        .into_bytes()
}

#[test]
fn only_identifier_already_used_wordings_mean_already_at_rnds() {
    for code in ["EHR-ERR866", "EHR-MSG010", "EHR-MSG017"] {
        assert_eq!(
            final_outcome(classify(422, &outcome_body(code, "já existe"))),
            Outcome::DuplicateIdentifier { code: code.into() },
            "{code}"
        );
    }
    // A generic unique-key error, a stale replacement, …: never "stored".
    for code in [
        "EHR-ERR870",
        "EHR-MSG009",
        "EHR-MSG011",
        "EHR-ERR823",
        "VIOLATION_UK_CONSTRAINT",
    ] {
        for post in [false, true] {
            let body = outcome_body(code, "conflito");
            let outcome = if post {
                classify_post(422, None, &body)
            } else {
                final_outcome(classify(422, &body))
            };
            assert!(
                matches!(outcome, Outcome::Rejected { .. }),
                "{code} (POST: {post}): {outcome:?}"
            );
        }
    }
}

#[test]
fn every_code_in_the_answer_counts_by_class_priority() {
    let both = outcome_body_of(&["(EHR-ERR999) falha interna", "(EHR-ERR866) já utilizado"]);
    assert_eq!(
        classify_post(422, None, &both),
        Outcome::DuplicateIdentifier {
            code: "EHR-ERR866".into()
        }
    );
    let config = outcome_body_of(&["(EHR-ERR924) status final", "(EHR-ERR881) sistema"]);
    assert!(matches!(
        final_outcome(classify(422, &config)),
        Outcome::ConfigurationError { .. }
    ));
    let row = outcome_body_of(&["(EHR-ERR999) falha interna", "(EHR-ERR924) status final"]);
    assert!(matches!(
        final_outcome(classify(422, &row)),
        Outcome::Rejected { .. }
    ));
}

#[test]
fn a_4xx_retry_later_answer_to_a_bundle_post_is_unknown_never_resent() {
    let consume = outcome_body("ERROR_CONSUME_MESSAGE", "falha ao consumir a mensagem");
    assert!(matches!(
        classify_post(422, None, &consume),
        Outcome::Unknown { .. }
    ));
    // To a GET it is still retried; 429/503 to a POST too (refused before storing).
    assert!(matches!(classify(422, &consume), Verdict::Retry { .. }));
    for status in [429, 503] {
        let verdict = classify_post_answer(
            &Answer {
                status,
                location: None,
                retry_after: None,
                body: &outcome_body("EHR-ERR999", "instável"),
            },
            now(),
        );
        assert!(matches!(verdict, Verdict::Retry { .. }), "{status}");
    }
    // A deterministic constraint violation is the row's, not RNDS' instability.
    let constraint = outcome_body("VIOLATION_CONSTRAINT", "restrição violada");
    assert!(matches!(
        classify_post(422, None, &constraint),
        Outcome::Rejected { .. }
    ));
}

#[test]
fn decrypt_error_is_a_certificate_refusal_only_in_the_handshake_probe() {
    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::DecryptError);
    // Mid-stream, after a request may have left: not a certificate verdict.
    assert!(!is_certificate_problem(&alert));
    // On the bare handshake probe (nothing sent), it is the server refusing
    // our certificate's proof.
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, alert);
    assert!(certificate_refusal_in(&io).is_some());
}

/// What shrinks the adaptive limit: refusals for load and failures, not
/// a row refused for its data or a refused certificate.
#[test]
fn back_pressure_is_load_refusals_and_failures_only() {
    for kind in [Exchange::BundlePost, Exchange::Lookup] {
        for status in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                pressure_of_answer(kind, status, b""),
                Pressure::Overload,
                "{kind:?} {status}"
            );
        }
        let unstable = outcome_body("EHR-ERR828", "instável");
        assert_eq!(pressure_of_answer(kind, 422, &unstable), Pressure::Overload);
    }
    assert_eq!(
        pressure_of_failure(&TransportFailure::AfterSending("time-out".into())),
        Pressure::Overload
    );
    assert_eq!(
        pressure_of_failure(&TransportFailure::BeforeSending("recusada".into())),
        Pressure::Overload
    );
    assert_eq!(
        pressure_of_failure(&TransportFailure::Certificate("expirado".into())),
        Pressure::Neutral
    );
}

/// Review item 8: only an accepted bundle POST is a round-trip time for
/// the adaptive limit. Lookups and refusals are answered faster than a
/// bundle is stored; as samples they would pull the RTT floor below every
/// ordinary POST and keep the limit from growing.
#[test]
fn only_an_accepted_bundle_post_is_a_round_trip_sample() {
    assert_eq!(
        pressure_of_answer(Exchange::BundlePost, 201, b""),
        Pressure::Answered
    );
    assert_eq!(
        pressure_of_answer(Exchange::BundlePost, 200, b""),
        Pressure::Answered
    );
    let bad_row = outcome_body("EHR-ERR783", "campo inválido");
    for (status, body) in [(422, &bad_row[..]), (400, b""), (401, b""), (409, b"")] {
        assert_eq!(
            pressure_of_answer(Exchange::BundlePost, status, body),
            Pressure::Neutral,
            "POST {status}"
        );
    }
    for status in [200, 404, 401] {
        assert_eq!(
            pressure_of_answer(Exchange::Lookup, status, b""),
            Pressure::Neutral,
            "lookup {status}"
        );
    }
}
