use std::collections::BTreeMap;

use super::*;
use crate::model::{ExamSystem, SpecimenSystem};

/// The header line of a real export (copied byte for byte from
/// /work/shared/samples into tests/fixtures/mapping), decoded (UTF-8, else
/// cp1252) and split on `delimiter`; quotes around a header are dropped.
fn sample_headers(file: &str, delimiter: char) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/mapping/{}.header.csv",
        env!("CARGO_MANIFEST_DIR"),
        file.trim_end_matches(".csv")
    );
    let bytes = std::fs::read(path).unwrap();
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
    };
    let line = text.lines().next().unwrap();
    line.split(delimiter)
        .map(|h| h.trim().trim_matches('"').to_string())
        .collect()
}

fn mapped(map: &ColumnMap) -> BTreeMap<Field, &str> {
    Field::ALL
        .iter()
        .filter_map(|&f| map.header(f).map(|h| (f, h)))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

#[test]
fn embedded_tables_load_without_defects() {
    let t = tables::tables();
    assert_eq!(t.defects, Vec::<String>::new());
    assert_eq!(t.synonyms.len(), Field::ALL.len());
    // is_null skips values that start with a digit.
    assert!(t
        .null_keys
        .iter()
        .all(|k| !k.starts_with(|c: char| c.is_ascii_digit())));
    assert!(t.results.len() >= 25);
}

#[test]
fn no_header_wording_belongs_to_two_fields() {
    let mut seen: BTreeMap<String, Field> = BTreeMap::new();
    for field in Field::ALL {
        for w in header_wordings(field) {
            let k = normalize::header_key(w);
            if let Some(other) = seen.insert(k.clone(), field) {
                assert_eq!(other, field, "{w:?} is listed for {other:?} and {field:?}");
            }
        }
    }
}

#[test]
fn perf_generator_header_maps_every_column() {
    let headers = strings(&[
        "id_exame",
        "nome_paciente",
        "cns",
        "cpf",
        "data_coleta",
        "data_resultado",
        "codigo_exame",
        "resultado",
        "amostra",
        "metodo",
        "cnes",
    ]);
    let map = map_columns(&headers, &BTreeMap::new());
    let expected: BTreeMap<Field, &str> = [
        (Field::LabId, "id_exame"),
        (Field::PatientName, "nome_paciente"),
        (Field::PatientCns, "cns"),
        (Field::PatientCpf, "cpf"),
        (Field::CollectionDate, "data_coleta"),
        (Field::IssuedDate, "data_resultado"),
        (Field::ExamCode, "codigo_exame"),
        (Field::Result, "resultado"),
        (Field::Specimen, "amostra"),
        (Field::Method, "metodo"),
        (Field::LabCnes, "cnes"),
    ]
    .into_iter()
    .collect();
    assert_eq!(mapped(&map), expected);
}

#[test]
fn gal_export_header_in_latin1_maps_its_abbreviations() {
    let headers = sample_headers("GAL_export_header_only.csv", ';');
    assert_eq!(headers[0], "Cód. Exame");
    let m = map_columns(&headers, &BTreeMap::new());
    let got = mapped(&m);
    assert_eq!(got[&Field::ExamCode], "Cód. Exame");
    assert_eq!(got[&Field::ExamName], "Exame");
    assert_eq!(got[&Field::PatientCns], "CNS");
    assert_eq!(got[&Field::PatientCpf], "CPF");
    assert_eq!(got[&Field::PatientName], "Paciente");
    assert_eq!(got[&Field::Method], "Metodo");
    assert_eq!(got[&Field::Specimen], "Material");
    assert_eq!(got[&Field::IssuedDate], "Dt. Liberação");
    assert_eq!(got[&Field::Result], "Resultado");
    // GAL has no collection column: "Dt. Cadastro"/"Dt. Recebimento" are not it.
    assert!(!got.contains_key(&Field::CollectionDate));
}

#[test]
fn fleury_pipe_export_maps_result_unit_and_reference() {
    let m = map_columns(
        &sample_headers("GrupoFleury_Exames_4.csv", '|'),
        &BTreeMap::new(),
    );
    let got = mapped(&m);
    assert_eq!(got[&Field::CollectionDate], "DT_COLETA");
    assert_eq!(got[&Field::ExamName], "DE_EXAME");
    assert_eq!(got[&Field::Result], "DE_RESULTADO");
    assert_eq!(got[&Field::ResultUnit], "CD_UNIDADE");
    assert_eq!(got[&Field::ReferenceRange], "DE_VALOR_REFERENCIA");
    // ID_PACIENTE is a hash, not a CNS.
    assert!(!got.contains_key(&Field::PatientCns));
}

#[test]
fn opendatasus_header_with_0xff_debris_maps_id_and_test_columns() {
    let headers = sample_headers("dados-ac.head.csv", ';');
    assert_eq!(headers[0], "ÿid");
    let got_map = map_columns(&headers, &BTreeMap::new());
    let got = mapped(&got_map);
    assert_eq!(got[&Field::LabId], "ÿid");
    assert_eq!(got[&Field::CollectionDate], "dataTeste");
    assert_eq!(got[&Field::ExamName], "tipoTeste");
    assert_eq!(got[&Field::Result], "resultadoTeste");
    assert_eq!(got[&Field::LabCnes], "cnes");
}

#[test]
fn esus_wide_layout_takes_the_first_test_block_by_prefix() {
    let m = map_columns(&sample_headers("e_sus_notifica.csv", ';'), &BTreeMap::new());
    let got = mapped(&m);
    assert_eq!(got[&Field::LabId], "Número da Notificação");
    assert_eq!(got[&Field::PatientCns], "CNS");
    assert_eq!(got[&Field::PatientCpf], "CPF");
    assert_eq!(got[&Field::PatientName], "Nome Completo");
    assert_eq!(got[&Field::CollectionDate], "Data da Coleta RT-PCR");
    assert_eq!(got[&Field::Result], "Resultado RT-PCR");
    assert_eq!(got[&Field::LabCnes], "CNES Laboratório");
    // "Notificante CPF" must not be taken for anything.
    assert!(!got.values().any(|h| *h == "Notificante CPF"));
}

#[test]
fn gal_batch_layouts_map_sample_code_and_dates() {
    for (file, delimiter) in [("gal_20251211T004603Z_exame.csv", ','), ("vr2.csv", ';')] {
        let m = map_columns(&sample_headers(file, delimiter), &BTreeMap::new());
        let got = mapped(&m);
        assert_eq!(got[&Field::LabId], "codigoAmostra", "{file}");
        assert_eq!(got[&Field::ExamName], "exame", "{file}");
        assert_eq!(got[&Field::Method], "metodo", "{file}");
        assert_eq!(got[&Field::IssuedDate], "dataProcessamentoFim", "{file}");
        assert_eq!(got[&Field::ReferenceRange], "valorReferencia", "{file}");
        assert_eq!(got[&Field::Notes], "observacao", "{file}");
        assert_eq!(got[&Field::Result], "resultado", "{file}");
    }
}

#[test]
fn sivep_dictionary_names_map() {
    // From samples/sivep_gripe.xlsx (first row), the relevant subset in order.
    let headers = strings(&[
        "NU_NOTIFIC",
        "DT_NOTIFIC",
        "CO_UNI_NOT",
        "NU_CPF",
        "NM_PACIENT",
        "DT_NASC",
        "AMOSTRA",
        "DT_COLETA",
        "TP_AMOSTRA",
        "PCR_RESUL",
        "DT_PCR",
        "CO_LAB_PCR",
        "OBSERVA",
        "NU_CNS",
    ]);
    let m = map_columns(&headers, &BTreeMap::new());
    let got = mapped(&m);
    assert_eq!(got[&Field::LabId], "NU_NOTIFIC");
    assert_eq!(got[&Field::PatientCpf], "NU_CPF");
    assert_eq!(got[&Field::PatientCns], "NU_CNS");
    assert_eq!(got[&Field::CollectionDate], "DT_COLETA");
    assert_eq!(got[&Field::Specimen], "TP_AMOSTRA");
    assert_eq!(got[&Field::Result], "PCR_RESUL");
    assert_eq!(got[&Field::IssuedDate], "DT_PCR");
    assert_eq!(got[&Field::LabCnes], "CO_LAB_PCR");
}

#[test]
fn issue_wordings_map_with_any_spelling() {
    let headers = strings(&[
        "Nº Pedido",
        "CARTAO SUS",
        "data da coleta",
        "Dt. Liberação",
        "Cód. Exame",
        "Material",
        "Metodologia",
        "Valores de Referência",
        "RESULTADO",
    ]);
    let got_map = map_columns(&headers, &BTreeMap::new());
    let got = mapped(&got_map);
    assert_eq!(got[&Field::LabId], "Nº Pedido");
    assert_eq!(got[&Field::PatientCns], "CARTAO SUS");
    assert_eq!(got[&Field::CollectionDate], "data da coleta");
    assert_eq!(got[&Field::IssuedDate], "Dt. Liberação");
    assert_eq!(got[&Field::ExamCode], "Cód. Exame");
    assert_eq!(got[&Field::Specimen], "Material");
    assert_eq!(got[&Field::Method], "Metodologia");
    assert_eq!(got[&Field::ReferenceRange], "Valores de Referência");
    assert_eq!(got[&Field::Result], "RESULTADO");
    let other = map_columns(&strings(&["Num. Pedido", "Amostra"]), &BTreeMap::new());
    assert_eq!(other.header(Field::LabId), Some("Num. Pedido"));
    assert_eq!(other.header(Field::Specimen), Some("Amostra"));
}

#[test]
fn overrides_win_and_a_column_serves_one_field() {
    let headers = strings(&["Exame Lab", "cns", "Carteirinha", "resultado"]);
    let overrides: BTreeMap<Field, String> = [
        (Field::ExamCode, "Exame Lab".to_string()),
        (Field::PatientCns, "carteirinha".to_string()),
    ]
    .into_iter()
    .collect();
    let m = map_columns(&headers, &overrides);
    assert_eq!(m.header(Field::ExamCode), Some("Exame Lab"));
    assert_eq!(m.header(Field::PatientCns), Some("Carteirinha"));
    assert_eq!(m.header(Field::Result), Some("resultado"));
    // "cns" is left unmapped rather than claimed twice.
    assert_eq!(m.by_field.values().filter(|&&i| i == 1).count(), 0);
}

#[test]
fn each_field_takes_the_first_matching_column() {
    let m = map_columns(&strings(&["resultado", "Resultado"]), &BTreeMap::new());
    assert_eq!(m.by_field.get(&Field::Result), Some(&0));
}

#[test]
fn every_listed_result_wording_has_its_meaning() {
    use Qualitative::*;
    let cases = [
        ("Detectável", Detectable),
        ("DETECTADO", Detectable),
        ("Positivo", Detectable),
        ("P O S I T I V O", Detectable),
        ("Reagente", Detectable),
        ("REAGENTE", Detectable),
        ("+", Detectable),
        ("detected", Detectable),
        ("1", Detectable),
        ("Detectç¡vel", Detectable),
        ("Não detectável", NotDetectable),
        ("NAO DETECTADO", NotDetectable),
        ("NÃO DET ECTADO", NotDetectable),
        ("Negativo", NotDetectable),
        ("NEGATIVO", NotDetectable),
        ("Não reagente", NotDetectable),
        ("Não Reagente", NotDetectable),
        ("-", NotDetectable),
        ("not_detected", NotDetectable),
        ("2", NotDetectable),
        ("NÃ£o detectÃ¡vel", NotDetectable),
        ("Inconclusivo", Inconclusive),
        ("Indeterminado", Inconclusive),
        ("INDETERMINADO", Inconclusive),
        ("Inconclusivo ou Indeterminado", Inconclusive),
        ("Invalid", Inconclusive),
        ("3", Inconclusive),
    ];
    for (wording, meaning) in cases {
        assert_eq!(qualitative(wording), Some(meaning), "{wording:?}");
    }
}

#[test]
fn typos_are_never_mapped_but_get_a_suggestion() {
    for typo in ["NAO DETECTATDO", "NAO DETACTADO", "NAO DETETCTADO"] {
        assert_eq!(qualitative(typo), None, "{typo:?}");
        assert_eq!(
            closest_result_wording(typo),
            Some("Não detectado"),
            "{typo:?}"
        );
    }
    assert_eq!(qualitative("Positvo"), None);
    assert_eq!(closest_result_wording("Positvo"), Some("Positivo"));
    assert_eq!(qualitative("4"), None);
}

#[test]
fn null_tokens_are_empty_but_a_dash_only_for_optional_columns() {
    for v in [
        "",
        " ",
        "null",
        "undefined",
        "N/A",
        "Desconhecido",
        "Não Realizado",
        "NAO REALIZADO",
    ] {
        assert!(is_null(v), "{v:?}");
    }
    assert!(!is_null("-"));
    assert!(is_blank_optional("-"));
    assert!(!is_null("Negativo"));
}

#[test]
fn specimen_wordings_and_codes_resolve_to_their_system() {
    let gal = |c: &str| {
        Some(SpecimenCode {
            system: SpecimenSystem::Gal,
            code: c.into(),
        })
    };
    let hl7 = |c: &str| {
        Some(SpecimenCode {
            system: SpecimenSystem::Hl7V2_0487,
            code: c.into(),
        })
    };
    assert_eq!(specimen("Swab nasofaríngeo"), gal("SWNAFA"));
    assert_eq!(specimen("SWAB NASOFARINGEO"), gal("SWNAFA"));
    assert_eq!(specimen("SWNAFA"), gal("SWNAFA"));
    assert_eq!(specimen("raspado de naso faringe"), gal("SWNAFA"));
    assert_eq!(specimen("Soro"), hl7("SER"));
    assert_eq!(specimen("SER"), hl7("SER"));
    assert_eq!(specimen("Sangue"), gal("SGHEM"));
    assert_eq!(specimen("Plasma"), hl7("PLAS"));
    assert_eq!(specimen("Saliva"), hl7("SAL"));
    assert_eq!(specimen("Aspirado Nasofaríngeo"), gal("ASNAFA"));
    assert_eq!(specimen("Urina de 24h"), None);
}

#[test]
fn exam_names_and_codes_resolve() {
    let loinc = |c: &str| {
        Some(ExamCode {
            system: ExamSystem::Loinc,
            code: c.into(),
        })
    };
    assert_eq!(exam_by_name("RT-PCR SARS-CoV-2"), loinc("94309-2"));
    assert_eq!(
        exam_by_name("Antígeno SARS-CoV-2 teste rápido"),
        loinc("94558-4")
    );
    assert_eq!(exam_by_name("TESTE RÁPIDO - ANTÍGENO"), loinc("94558-4"));
    assert_eq!(
        exam_by_name("NOVO CORONAVÍRUS 2019 (SARS-CoV-2), DETECÇÃO POR PCR"),
        loinc("94309-2")
    );
    assert_eq!(exam_code("94507-1"), loinc("94507-1"));
    assert_eq!(
        exam_code("CVIDGG"),
        Some(ExamCode {
            system: ExamSystem::Gal,
            code: "CVIDGG".into()
        })
    );
    assert_eq!(exam_code("2019NCOV"), None);
    assert_eq!(exam_by_name("HEMOGRAMA, sangue total"), None);
}

proptest::proptest! {
    #[test]
    fn map_columns_never_panics_and_keeps_columns_distinct(
        headers in proptest::collection::vec(".{0,20}", 0..30)
    ) {
        let m = map_columns(&headers, &BTreeMap::new());
        let mut columns: Vec<usize> = m.by_field.values().copied().collect();
        let n = columns.len();
        columns.sort_unstable();
        columns.dedup();
        proptest::prop_assert_eq!(columns.len(), n);
        proptest::prop_assert!(columns.iter().all(|&i| i < headers.len()));
    }
}

#[test]
fn unrelated_text_gets_no_suggestion() {
    assert_eq!(closest_result_wording("raspado de naso faringe"), None);
    assert_eq!(closest_result_wording("Aguardando"), None);
}

/// Regression (review): dropping the negation is the shortest edit, so "N
/// detectado" was answered with "Você quis dizer Detectado?" — the
/// opposite result. No suggestion when another meaning is nearly as close.
#[test]
fn no_suggestion_that_could_flip_the_meaning() {
    for value in ["N detectado", "Ñ detectado", "Indetectável", "N. reagente"] {
        assert_eq!(closest_result_wording(value), None, "{value}");
    }
    assert_eq!(
        closest_result_wording("NAO DETECTATDO"),
        Some("Não detectado")
    );
}

#[test]
fn common_cns_headers_map_to_the_patient_cns() {
    for header in ["CNS do Paciente", "CNS Paciente", "Cartão SUS"] {
        let map = map_columns(&[header.to_string()], &BTreeMap::new());
        assert_eq!(map.header(Field::PatientCns), Some(header), "{header}");
    }
}
