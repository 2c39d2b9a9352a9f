use std::path::PathBuf;

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use super::*;
use crate::model::{ExamCode, Qualitative, SpecimenCode, When};

const NOW: &str = "2021-06-08T14:00:00-03:00";

fn settings(profile: ProfileSet) -> BundleSettings {
    BundleSettings {
        requester_id: "7ea4f5a8-1d7c-4e53-9c4b-2c8e2a1b0d11".into(),
        profile,
    }
}

fn at(text: &str) -> chrono::DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("test date-time")
}

/// A nasopharyngeal RT-PCR, not detected, from a lab in São Paulo.
fn rt_pcr() -> LabResult {
    LabResult {
        line: 7,
        lab_id: "LAB-2021-000123".into(),
        patient_cns: "898001160660761".into(),
        exam: ExamCode {
            system: ExamSystem::Loinc,
            code: "94309-2".into(),
        },
        category: "0202".into(),
        collected: When::Instant(at("2021-06-07T09:23:00-03:00")),
        issued: at("2021-06-08T11:05:30-03:00"),
        value: ResultValue::Qualitative(Qualitative::NotDetectable),
        specimen: SpecimenCode {
            system: SpecimenSystem::Gal,
            code: "SWNAFA".into(),
        },
        method: "RT-PCR em tempo real".into(),
        reference_range: "Não detectável".into(),
        notes: vec!["Amostra recebida refrigerada.".into()],
        author: Party::Cnes("2077485".into()),
        performer: Party::Cnes("2077485".into()),
    }
}

/// An IgG serology with a number, in Manaus (UTC-4), collected on a date only.
fn igg_quantity() -> LabResult {
    LabResult {
        line: 12,
        lab_id: "SOR-88412".into(),
        patient_cns: "700000000000005".into(),
        exam: ExamCode {
            system: ExamSystem::Loinc,
            code: "94505-5".into(),
        },
        category: "0202".into(),
        collected: When::Date(NaiveDate::from_ymd_opt(2021, 6, 2).expect("test date")),
        issued: at("2021-06-03T16:40:00-04:00"),
        value: ResultValue::Quantity {
            value: "12.50".into(),
            unit: "UA/mL".into(),
            interpretation: Qualitative::Detectable,
        },
        specimen: SpecimenCode {
            system: SpecimenSystem::Hl7V2_0487,
            code: "SER".into(),
        },
        method: "Quimioluminescência".into(),
        reference_range: "Não reagente: < 1,40 UA/mL".into(),
        notes: vec![],
        author: Party::Cnes("2019051".into()),
        performer: Party::Cnes("2019051".into()),
    }
}

fn fixture(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/fhir", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn built(result: &LabResult, profile: ProfileSet, replaces: Option<&str>) -> Value {
    let bytes = to_json_bytes(result, &settings(profile), NOW, replaces).expect("bundle");
    serde_json::from_slice(&bytes).expect("bundle is JSON")
}

fn assert_matches_fixture(actual: &Value, name: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/fhir", name]
            .iter()
            .collect();
        let text = serde_json::to_string_pretty(actual).expect("serializable") + "\n";
        std::fs::write(&path, text).expect("fixture written");
        return;
    }
    let expected = fixture(name);
    assert!(
        *actual == expected,
        "bundle differs from {name}:\n{}",
        serde_json::to_string_pretty(actual).unwrap_or_default()
    );
}

#[test]
fn qualitative_result_with_profile_2_0() {
    let actual = built(&rt_pcr(), ProfileSet::V2, None);
    assert_matches_fixture(&actual, "qualitative-2.0.json");
}

#[test]
fn quantity_result_with_profile_2_0_keeps_the_decimal_as_written() {
    let actual = built(&igg_quantity(), ProfileSet::V2, None);
    assert_matches_fixture(&actual, "quantity-2.0.json");
    let bytes =
        to_json_bytes(&igg_quantity(), &settings(ProfileSet::V2), NOW, None).expect("bundle");
    let text = String::from_utf8(bytes).expect("utf-8");
    assert!(text.contains(r#""valueQuantity":{"value":12.50,"unit":"UA/mL"}"#));
}

#[test]
fn profile_1_x_declares_old_profiles_and_omits_effective() {
    let actual = built(&rt_pcr(), ProfileSet::V1, None);
    assert_matches_fixture(&actual, "qualitative-1.x.json");
    let obs = &actual["entry"][1]["resource"];
    assert!(obs.get("effectiveDateTime").is_none());
}

#[test]
fn replacement_relates_to_the_original_composition() {
    let actual = built(
        &rt_pcr(),
        ProfileSet::V2,
        Some("eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7"),
    );
    assert_matches_fixture(&actual, "replacement-2.0.json");
    // Same document identity as the original: only relatesTo is added.
    let mut original = built(&rt_pcr(), ProfileSet::V2, None);
    original["entry"][0]["resource"]["relatesTo"] =
        actual["entry"][0]["resource"]["relatesTo"].clone();
    assert_eq!(original, actual);
}

#[test]
fn cnpj_author_uses_the_legal_person_system() {
    let mut result = rt_pcr();
    result.author = Party::CnpjOrCpf("11222333000181".into());
    let actual = built(&result, ProfileSet::V2, None);
    assert_matches_fixture(&actual, "cnpj-author-2.0.json");
}

#[test]
fn same_input_gives_same_bytes_and_different_lab_ids_different_urls() {
    let s = settings(ProfileSet::V2);
    let a = to_json_bytes(&rt_pcr(), &s, NOW, None).expect("bundle");
    let b = to_json_bytes(&rt_pcr(), &s, NOW, None).expect("bundle");
    assert_eq!(a, b);
    assert!(!a.contains(&b'\n'), "compact, one line");

    let ids = EntryIds::for_lab_id("LAB-2021-000123");
    assert_eq!(ids, EntryIds::for_lab_id("LAB-2021-000123"));
    let other = EntryIds::for_lab_id("LAB-2021-000124");
    assert_ne!(ids.composition, other.composition);
    let all = [ids.composition, ids.observation, ids.specimen];
    assert!(all[0] != all[1] && all[1] != all[2] && all[0] != all[2]);
}

#[test]
fn no_display_text_anywhere() {
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    assert_ne!(k, "display", "display at {path}");
                    if let Value::String(s) = child {
                        assert!(!s.trim().is_empty(), "empty string at {path}.{k}");
                    }
                    walk(child, &format!("{path}.{k}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, path)),
            _ => {}
        }
    }
    let mut blank_note = igg_quantity();
    blank_note.notes = vec!["  ".into(), "".into()];
    for result in [rt_pcr(), igg_quantity(), blank_note] {
        for profile in [ProfileSet::V2, ProfileSet::V1] {
            walk(&built(&result, profile, Some("x-1")), "");
        }
    }
}

#[test]
fn an_invalid_decimal_is_an_error_not_a_bad_bundle() {
    for bad in ["12,5", "", "1.", ".5", "01", "1e", "NaN", "+1", " 1", "1 "] {
        let mut result = igg_quantity();
        if let ResultValue::Quantity { value, .. } = &mut result.value {
            *value = bad.into();
        }
        let err = to_json_bytes(&result, &settings(ProfileSet::V2), NOW, None);
        assert_eq!(err, Err(FhirError::InvalidDecimal(bad.into())), "{bad:?}");
    }
    for good in ["0", "-3", "0.001", "1250", "1.5e3", "2E-2"] {
        assert!(is_fhir_decimal(good), "{good}");
    }
}

#[test]
fn date_times_render_exactly_like_when_to_fhir() {
    for w in [
        When::Instant(at("2021-06-08T09:23:00-03:00")),
        When::Instant(at("2019-02-16T23:59:59-02:00")),
        When::Instant(at("2021-01-01T00:00:00+00:00")),
        When::Instant(at("2021-01-01T05:30:00+05:30")),
        When::Instant(at("2021-06-08T09:23:00.750-05:00")),
        When::Date(NaiveDate::from_ymd_opt(2021, 6, 8).expect("date")),
        When::Date(NaiveDate::from_ymd_opt(12021, 6, 8).expect("date")),
    ] {
        assert_eq!(types::FhirWhen(w).to_string(), w.to_fhir());
        if let When::Instant(t) = w {
            assert_eq!(instant_text(t), w.to_fhir());
        }
    }
}

#[test]
fn content_hash_follows_the_content_only() {
    let base = rt_pcr();
    let h = content_hash(&base);
    assert_eq!(h.len(), 64);
    assert!(h
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // Pinned: the ledger compares hashes across runs, versions and machines.
    assert_eq!(
        h, "60bea92283832e2b92bf24cd7d0cf9f39341c5dee2afbac20e241b40649e02e0",
        "content_hash encoding changed: that would resend every result"
    );

    let mut moved = base.clone();
    moved.line = 999;
    assert_eq!(content_hash(&moved), h, "the line is not content");

    let mut changed = base.clone();
    changed.value = ResultValue::Qualitative(Qualitative::Detectable);
    assert_ne!(content_hash(&changed), h);

    let mut re_noted = base.clone();
    re_noted.notes.push("Recoleta solicitada.".into());
    assert_ne!(content_hash(&re_noted), h);

    // Field boundaries matter: moving text between fields changes the hash.
    let mut a = base.clone();
    a.method = "RT-PCR".into();
    a.reference_range = "xNão detectável".into();
    let mut b = base.clone();
    b.method = "RT-PCRx".into();
    b.reference_range = "Não detectável".into();
    assert_ne!(content_hash(&a), content_hash(&b));

    let mut other_author = base;
    other_author.author = Party::CnpjOrCpf("2077485".into());
    assert_ne!(content_hash(&other_author), h);
}

/// The fast writer (`json.rs`) gives exactly serde_json's bytes for every
/// bundle shape: both profile sets, quantity (a raw decimal) and
/// qualitative values, a replacement link, a CNPJ author, notes, and texts
/// JSON must escape (quotes, backslashes, line breaks, every control
/// character, accents, emoji).
#[test]
fn fast_json_writer_gives_serde_json_bytes() {
    let awkward: String = (0u8..0x20)
        .map(char::from)
        .chain("\"aspas\" \\barra\\ / ação 😷 \u{7f}".chars())
        .collect();
    let mut escaped = rt_pcr();
    escaped.method = awkward.clone();
    escaped.reference_range = format!("{awkward}\nfim");
    escaped.notes = vec![awkward.clone(), "  ".into(), "\tnota\t".into()];
    escaped.lab_id = "L\"1\\2".into();
    let mut cnpj = igg_quantity();
    cnpj.author = Party::CnpjOrCpf("11222333000181".into());
    // One kind of escape per text, so each is caught on its own.
    cnpj.method = "só uma \\ barra".into();
    cnpj.reference_range = "só \"aspas\"".into();
    cnpj.notes = vec!["só\nquebra".into(), "só\u{1}controle".into()];
    cnpj.value = ResultValue::Quantity {
        value: "-1.5e+3".into(),
        unit: String::new(),
        interpretation: Qualitative::NotDetectable,
    };
    let mut checked = 0;
    for result in [rt_pcr(), igg_quantity(), escaped, cnpj] {
        for profile in [ProfileSet::V2, ProfileSet::V1] {
            for replaces in [None, Some("abc-123"), Some("\"x\"")] {
                let settings = settings(profile);
                let bundle = build(&result, &settings, NOW, replaces).expect("bundle");
                let mut fast = b"prefix".to_vec();
                write_json(&bundle, &mut fast).expect("fast writer");
                let mut reference = b"prefix".to_vec();
                serde_json::to_writer(&mut reference, &bundle).expect("serde_json");
                assert!(
                    fast == reference,
                    "differs:\n{}\n{}",
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&reference)
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 24);
}
