//! Property: every row the validator accepts becomes a bundle that the
//! profile rules (schemas/profiles, checked by `conformance`) accept, for
//! both profile sets and both kinds of result value.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rnds_drop::config::ProfileSet;
use rnds_drop::conformance::check_lab_result;
use rnds_drop::fhir::{to_json_bytes, BundleSettings};
use rnds_drop::input::Row;
use rnds_drop::mapping::map_columns;
use rnds_drop::schemas::{code_systems, LOINC, SPECIMEN_GAL, SPECIMEN_HL7};
use rnds_drop::validate::validate_row;

use crate::harness;

const HEADERS: [&str; 11] = [
    "Nº Pedido",
    "Cartão SUS",
    "Data da Coleta",
    "Dt. Liberação",
    "Cód. Exame",
    "Resultado",
    "Unidade",
    "Interpretação",
    "Material",
    "Metodologia",
    "Observação",
];

/// A valid CNS: 14 random digits starting with 7, 8 or 9, then the digit
/// that makes the weighted sum divisible by 11 (retrying when it is 10).
fn cns() -> impl Strategy<Value = String> {
    (7u8..=9, proptest::collection::vec(0u8..=9, 13)).prop_filter_map(
        "no check digit",
        |(first, rest)| {
            let mut digits = vec![first];
            digits.extend(rest);
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| u32::from(*d) * (15 - i as u32))
                .sum();
            let check = (11 - sum % 11) % 11;
            (check < 10).then(|| {
                digits.push(check as u8);
                digits.iter().map(|d| char::from(b'0' + d)).collect()
            })
        },
    )
}

fn codes(url: &str) -> Vec<String> {
    code_systems()
        .get(url)
        .map(|cs| cs.concepts.iter().map(|c| c.code.clone()).collect())
        .unwrap_or_default()
}

prop_compose! {
    fn valid_row()(
        id in "[A-Z]{1,3}-[0-9]{1,6}",
        cns in cns(),
        day in 1u32..=28, month in 1u32..=12, year in 2018i32..=2025,
        hour in 0u32..=20, minute in 0u32..=59,
        exam in proptest::sample::select(codes(LOINC)),
        result in proptest::sample::select(vec![
            "Detectável", "NÃO DETECTADO", "Positivo", "Não reagente", "Inconclusivo", "1", "2", "3", "12,5",
        ]),
        specimen in proptest::sample::select([codes(SPECIMEN_GAL), codes(SPECIMEN_HL7)].concat()),
        method in "[A-Za-zÀ-ú][A-Za-zÀ-ú -]{0,19}",
        note in proptest::option::of("[A-Za-zÀ-ú0-9 ,.]{1,30}"),
    ) -> Vec<String> {
        let collected = format!("{day:02}/{month:02}/{year} {hour:02}:{minute:02}");
        let issued = format!("{day:02}/{month:02}/{year} {:02}:{minute:02}", hour + 3);
        let numeric = result.contains(',');
        vec![
            id, cns, collected, issued, exam, result.to_string(),
            if numeric { "UI/mL".into() } else { String::new() },
            if numeric { "Detectável".into() } else { String::new() },
            specimen, method, note.unwrap_or_default(),
        ]
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn every_valid_row_gives_a_conformant_bundle(cells in valid_row(), v1 in any::<bool>()) {
        let job = harness::job();
        let headers: Vec<String> = HEADERS.iter().map(std::string::ToString::to_string).collect();
        let columns = map_columns(&headers, &BTreeMap::new());
        let row = Row::new(2, cells);
        let result = validate_row(&row, &columns, &job.validate);
        let result = match result {
            Ok(r) => r,
            Err(issues) => return Err(TestCaseError::fail(format!("row rejected: {issues:?}"))),
        };
        let settings = BundleSettings {
            requester_id: job.bundle.requester_id.clone(),
            profile: if v1 { ProfileSet::V1 } else { ProfileSet::V2 },
        };
        for replaces in [None, Some("eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7")] {
            let bytes = to_json_bytes(&result, &settings, &job.timestamp, replaces).expect("bundle");
            let bundle: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            let violations = check_lab_result(&bundle);
            prop_assert!(violations.is_empty(), "{violations:?}\n{bundle}");
        }
    }
}
