use serde_json::{json, Value};

use super::*;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn v2() -> Value {
    fixture("bundle-2.0.json")
}

fn observation(b: &mut Value) -> &mut Value {
    &mut b["entry"][1]["resource"]
}

/// The only violation of `b`, which must be exactly one.
fn single(b: &Value) -> Violation {
    let v = check_bundle(b);
    assert_eq!(v.len(), 1, "expected one violation, got {v:#?}");
    v.into_iter().next().unwrap()
}

#[test]
fn all_rule_files_load() {
    assert_eq!(known_profiles().len(), 6, "{:?}", known_profiles());
}

#[test]
fn contract_shaped_bundles_conform() {
    assert_eq!(check_bundle(&v2()), vec![]);
    assert_eq!(check_bundle(&fixture("bundle-1.x.json")), vec![]);
}

#[test]
fn a_display_text_is_refused_where_it_appears() {
    let mut b = v2();
    observation(&mut b)["code"]["coding"][0]["display"] = json!("SARS-CoV-2 RNA");
    let v = single(&b);
    assert_eq!(
        v.location,
        "Bundle.entry[1].resource.code.coding[0].display"
    );
    assert_eq!(
        v.message,
        "display não é permitido no perfil BRDiagnosticoLaboratorioClinico-2.0: remova o elemento"
    );
}

#[test]
fn a_missing_method_is_named() {
    let mut b = v2();
    observation(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("method");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.method");
    assert_eq!(
        v.message,
        "method é obrigatório no perfil BRDiagnosticoLaboratorioClinico-2.0"
    );
}

#[test]
fn a_code_outside_loinc_is_refused() {
    let mut b = v2();
    observation(&mut b)["code"]["coding"][0]["code"] = json!("00000-0");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.code.coding[0].code");
    assert_eq!(
        v.message,
        "o código \"00000-0\" não pertence a BRNomeExameLOINC"
    );
}

#[test]
fn effective_date_time_is_forbidden_in_1x_and_required_in_2_0() {
    let mut b = fixture("bundle-1.x.json");
    observation(&mut b)["effectiveDateTime"] = json!("2020-06-07T09:23:00-03:00");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.effectiveDateTime");
    assert!(v
        .message
        .contains("não é permitido no perfil BRDiagnosticoLaboratorioClinico-1.0"));

    let mut b = v2();
    observation(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("effectiveDateTime");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.effective[x]");
    assert_eq!(
        v.message,
        "effective[x] é obrigatório no perfil BRDiagnosticoLaboratorioClinico-2.0"
    );

    let mut b = v2();
    let obs = observation(&mut b).as_object_mut().unwrap();
    let when = obs.remove("effectiveDateTime").unwrap();
    obs.insert("effectivePeriod".into(), json!({ "start": when }));
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.effectivePeriod");
    assert!(v.message.contains("use effectiveDateTime"), "{}", v.message);
}

#[test]
fn a_quantity_needs_an_interpretation_and_excludes_a_concept() {
    let mut b = fixture("bundle-1.x.json");
    observation(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("interpretation");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.valueQuantity");
    assert!(v.message.contains("exige interpretation"), "{}", v.message);

    let mut b = fixture("bundle-1.x.json");
    observation(&mut b)["valueCodeableConcept"] =
        v2()["entry"][1]["resource"]["valueCodeableConcept"].clone();
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.value[x]");
    assert!(v.message.contains("aparece 2 vezes"), "{}", v.message);
}

#[test]
fn a_reference_instead_of_an_identifier_is_refused() {
    let mut b = v2();
    b["entry"][0]["resource"]["subject"]["reference"] = json!("Patient/123");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[0].resource.subject.reference");
    assert!(v.message.contains("BRResultadoExameLaboratorial-2.0"));
}

#[test]
fn fixed_values_and_code_systems() {
    let mut b = v2();
    b["entry"][0]["resource"]["title"] = json!("Resultado");
    observation(&mut b)["status"] = json!("preliminary");
    b["entry"][2]["resource"]["type"]["coding"][0]["system"] = json!("http://snomed.info/sct");
    let v = check_bundle(&b);
    let locations: Vec<&str> = v.iter().map(|v| v.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "Bundle.entry[0].resource.title",
            "Bundle.entry[1].resource.status",
            "Bundle.entry[2].resource.type.coding[0].system"
        ]
    );
    assert_eq!(
        v[0].message,
        "valor \"Resultado\" inválido: o perfil BRResultadoExameLaboratorial-2.0 exige \"Resultado de Exame Laboratorial\""
    );
    assert!(v[2].message.contains("BRTipoAmostraGAL ou v2-0487"));
}

#[test]
fn identifiers_are_checked() {
    let mut b = v2();
    b["entry"][0]["resource"]["subject"]["identifier"]["value"] = json!("123456789010001");
    b["entry"][0]["resource"]["author"][0]["identifier"]["value"] = json!("233799");
    b["identifier"]["system"] = json!("http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-");
    let v = check_bundle(&b);
    let locations: Vec<&str> = v.iter().map(|v| v.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "Bundle.identifier.system",
            "Bundle.entry[0].resource.subject.identifier.value",
            "Bundle.entry[0].resource.author[0].identifier.value"
        ]
    );
    assert!(v[1].message.starts_with("CNS \"123456789010001\" inválido"));
    assert!(v[2].message.contains("CNES com 7 dígitos"));
}

#[test]
fn references_must_resolve_inside_the_bundle() {
    let mut b = v2();
    observation(&mut b)["specimen"]["reference"] =
        json!("urn:uuid:00000000-0000-4000-8000-000000000000");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.specimen.reference");
    assert!(v.message.contains("não corresponde ao fullUrl"));
}

#[test]
fn unknown_and_mismatched_profiles() {
    let mut b = v2();
    observation(&mut b)["meta"]["profile"][0] = json!(
        "http://www.saude.gov.br/fhir/r4/StructureDefinition/BRDiagnosticoLaboratorioClinico-9.9"
    );
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.meta.profile[0]");
    assert!(v.message.starts_with("perfil desconhecido"));

    let mut b = v2();
    observation(&mut b)["meta"]["profile"][0] = json!(
        "http://www.saude.gov.br/fhir/r4/StructureDefinition/BRDiagnosticoLaboratorioClinico-1.0"
    );
    observation(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("effectiveDateTime");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.meta.profile[0]");
    assert!(v.message.contains("não combina"), "{}", v.message);
}

#[test]
fn bundle_shape() {
    let mut b = v2();
    b["type"] = json!("collection");
    b["entry"][2]["fullUrl"] = json!("Specimen/1");
    b.as_object_mut().unwrap().remove("timestamp");
    b.as_object_mut().unwrap().remove("meta");
    let v = check_bundle(&b);
    let locations: Vec<&str> = v.iter().map(|v| v.location.as_str()).collect();
    // The Observation's reference to the Specimen no longer resolves either.
    assert_eq!(
        locations,
        [
            "Bundle.type",
            "Bundle.meta.lastUpdated",
            "Bundle.timestamp",
            "Bundle.entry[2].fullUrl",
            "Bundle.entry[1].resource.specimen.reference"
        ]
    );
}

#[test]
fn date_times_need_their_utc_offset() {
    let mut b = v2();
    observation(&mut b)["issued"] = json!("2021-06-08T10:30:00");
    observation(&mut b)["effectiveDateTime"] = json!("2021-06-07");
    let v = single(&b);
    assert_eq!(v.location, "Bundle.entry[1].resource.issued");
    assert!(
        v.message
            .starts_with("data/hora \"2021-06-08T10:30:00\" inválida"),
        "{}",
        v.message
    );

    let mut b = v2();
    b["timestamp"] = json!("08/06/2021 10:30");
    assert_eq!(single(&b).location, "Bundle.timestamp");
}

/// The example bundles of the RNDS guide's sources (see
/// tests/fixtures/rnds-ig/README.md), parsed.
pub(crate) fn guide_examples() -> Vec<(String, Value)> {
    let dir = format!("{}/tests/fixtures/rnds-ig", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(format!("{dir}/{n}")).unwrap();
            (n, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

#[test]
fn the_guides_example_bundles_conform() {
    let examples = guide_examples();
    assert_eq!(
        examples.len(),
        4,
        "{:?}",
        examples.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    for (name, bundle) in &examples {
        assert_eq!(check_bundle(bundle), vec![], "{name}");
    }
}

#[test]
fn transient_full_urls_are_accepted_and_still_must_be_unique() {
    let (_, rel) = guide_examples()
        .into_iter()
        .find(|(n, _)| n.starts_with("rel-"))
        .unwrap();
    assert_eq!(check_lab_result(&rel), vec![]);
    let mut b = rel.clone();
    b["entry"][2]["fullUrl"] = json!("urn:uuid:transient-1");
    let v = check_bundle(&b);
    assert!(
        v.iter()
            .any(|v| v.location == "Bundle.entry[2].fullUrl" && v.message.contains("repetido")),
        "{v:#?}"
    );
    let mut b = rel;
    b["entry"][0]["fullUrl"] = json!("urn:uuid:");
    assert!(check_bundle(&b)
        .iter()
        .any(|v| v.location == "Bundle.entry[0].fullUrl"));
}

#[test]
fn only_a_lab_result_passes_the_check_of_what_rnds_drop_emits() {
    for (name, bundle) in guide_examples() {
        let violations = check_lab_result(&bundle);
        assert_eq!(
            violations.is_empty(),
            name.starts_with("rel-"),
            "{name}: {violations:#?}"
        );
    }
}
