use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::Sao_Paulo;
use proptest::prelude::*;

use super::*;
use crate::config::{Defaults, ExamDefaults};
use crate::mapping::map_columns;
use crate::model::{
    ExamCode, ExamSystem, Field, Qualitative, ResultValue, SpecimenCode, SpecimenSystem, When,
};

const PERF_HEADER: &str =
    "id_exame;nome_paciente;cns;cpf;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo;cnes";

/// A valid provisional CNS starting with `prefix` (solves the last digit).
fn cns(prefix14: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix14}{d}"))
        .find(|c| ids::is_valid_cns(c))
        .unwrap_or_else(|| cns(&format!("{}1", &prefix14[..13])))
}

fn headers(line: &str) -> Vec<String> {
    line.split(';').map(str::to_string).collect()
}

fn row(line: u64, cells: &str) -> Row {
    Row::new(line, cells.split(';').map(str::to_string).collect())
}

fn settings() -> Settings {
    Settings {
        lab_cnes: "2337991".into(),
        author: Party::Cnes("2337991".into()),
        timezone: Sao_Paulo,
        defaults: Defaults {
            reference_range: Some("Não detectável".into()),
            category: Some("0202".into()),
            ..Defaults::default()
        },
        exam_codes: [("2019NCOV".to_string(), "94309-2".to_string())]
            .into_iter()
            .collect(),
        now: Utc.with_ymd_and_hms(2021, 11, 1, 12, 0, 0).unwrap(),
    }
}

fn perf_map() -> ColumnMap {
    map_columns(&headers(PERF_HEADER), &BTreeMap::new())
}

fn perf_row(line: u64, cns: &str, collected: &str, issued: &str, exam: &str, result: &str) -> Row {
    row(
        line,
        &format!("LAB-{line:08};PACIENTE;{cns};;{collected};{issued};{exam};{result};SWNAFA;RT-PCR;2337991"),
    )
}

fn issues(r: &Row, map: &ColumnMap, s: &Settings) -> Vec<RowIssue> {
    validate_row(r, map, s).expect_err("the row should be refused")
}

fn codes(issues: &[RowIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.code.as_str()).collect()
}

fn instant(text: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

#[test]
fn a_full_valid_row_becomes_the_exact_lab_result() {
    let patient = cns("70000000000000");
    let r = perf_row(
        2,
        &patient,
        "08/06/2021 09:23",
        "09/06/2021 11:00",
        "94309-2",
        "Detectável",
    );
    let got = validate_row(&r, &perf_map(), &settings()).unwrap();
    let expected = LabResult {
        line: 2,
        lab_id: "LAB-00000002".into(),
        patient_cns: patient,
        exam: ExamCode {
            system: ExamSystem::Loinc,
            code: "94309-2".into(),
        },
        category: "0202".into(),
        collected: When::Instant(instant("2021-06-08T09:23:00-03:00")),
        issued: instant("2021-06-09T11:00:00-03:00"),
        value: ResultValue::Qualitative(Qualitative::Detectable),
        specimen: SpecimenCode {
            system: SpecimenSystem::Gal,
            code: "SWNAFA".into(),
        },
        method: "RT-PCR".into(),
        reference_range: "Não detectável".into(),
        notes: vec![],
        author: Party::Cnes("2337991".into()),
        performer: Party::Cnes("2337991".into()),
    };
    assert_eq!(got, expected);
}

#[test]
fn invalid_cns_message_names_line_column_value_and_fix() {
    let map = map_columns(&headers("Nº Pedido;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia"), &BTreeMap::new());
    let mut bad = cns("70000000000000");
    let last = bad.pop().unwrap();
    bad.push(if last == '9' {
        '0'
    } else {
        char::from(last as u8 + 1)
    });
    let r = row(
        7,
        &format!("P1;{bad};08/06/2021;09/06/2021;94309-2;Negativo;Soro;ELISA"),
    );
    let found = issues(&r, &map, &settings());
    assert_eq!(codes(&found), ["cns_invalido"]);
    assert_eq!(found[0].line, 7);
    assert_eq!(found[0].column, "Cartão SUS");
    assert_eq!(found[0].value, bad);
    assert_eq!(
        found[0].message,
        format!("Linha 7, coluna \"Cartão SUS\": o CNS \"{bad}\" é inválido (dígito verificador não confere). Confira o número no cartão do paciente.")
    );
}

#[test]
fn truncated_and_formatted_identifiers() {
    let map = perf_map();
    // e-SUS sample: CNS truncated to 8 digits.
    let r = perf_row(3, "34719948", "08/06/2021", "09/06/2021", "94309-2", "2");
    let found = issues(&r, &map, &settings());
    assert_eq!(codes(&found), ["cns_invalido"]);
    assert!(
        found[0].message.contains("tem 8 dígitos; o CNS tem 15"),
        "{}",
        found[0].message
    );
    // A CNS written with spaces is accepted and sent without them.
    let spaced = cns("89800000000000");
    let with_spaces = format!(
        "{} {} {} {}",
        &spaced[..3],
        &spaced[3..7],
        &spaced[7..11],
        &spaced[11..]
    );
    let ok = validate_row(
        &perf_row(4, &with_spaces, "08/06/2021", "09/06/2021", "94309-2", "2"),
        &map,
        &settings(),
    )
    .unwrap();
    assert_eq!(ok.patient_cns, spaced);
}

#[test]
fn cpf_only_row_explains_that_the_cns_is_needed() {
    let map = perf_map();
    let r = row(
        5,
        "LAB-5;MARIA;;529.982.247-25;08/06/2021;09/06/2021;94309-2;Negativo;SWNAFA;RT-PCR;2337991",
    );
    let found = issues(&r, &map, &settings());
    assert_eq!(codes(&found), ["cns_ausente"]);
    assert_eq!(found[0].column, "cns");
    assert!(found[0].message.contains("CPF \"529.982.247-25\""));
    assert!(found[0].message.contains("o CPF não pode ser usado"));
    assert!(!found[0].message.contains("inválido"));

    let r = row(
        6,
        "LAB-6;JOSE;;111.111.111-11;08/06/2021;09/06/2021;94309-2;Negativo;SWNAFA;RT-PCR;2337991",
    );
    let found = issues(&r, &map, &settings());
    assert_eq!(codes(&found), ["cns_ausente", "cpf_invalido"]);
    assert!(found[0]
        .message
        .contains("Além disso, o CPF \"111.111.111-11\" é inválido (todos os dígitos são iguais)"));
    assert_eq!(found[1].column, "cpf");
}

#[test]
fn every_issue_of_a_row_is_reported() {
    let r = perf_row(8, "123", "31/02/2021", "ontem", "XYZ", "NAO DETECTATDO");
    let found = issues(&r, &perf_map(), &settings());
    assert_eq!(
        codes(&found),
        [
            "cns_invalido",
            "exame_desconhecido",
            "data_invalida",
            "data_invalida",
            "resultado_desconhecido"
        ]
    );
    assert!(found[2].message.contains("esse dia não existe"));
    assert!(found[3].message.contains("use dd/mm/aaaa"));
    assert!(found[1].message.contains("[inbox.exam_codes]"));
    assert!(found[1].message.contains("\"XYZ\""));
}

#[test]
fn unknown_result_wordings_get_a_suggestion_and_are_never_guessed() {
    let map = perf_map();
    for (typo, suggestion) in [
        ("NAO DETECTATDO", "Não detectado"),
        ("NAO DETACTADO", "Não detectado"),
        ("Positvo", "Positivo"),
    ] {
        let r = perf_row(
            9,
            &cns("70000000000000"),
            "08/06/2021",
            "09/06/2021",
            "94309-2",
            typo,
        );
        let found = issues(&r, &map, &settings());
        assert_eq!(codes(&found), ["resultado_desconhecido"], "{typo}");
        assert_eq!(found[0].value, typo);
        assert!(found[0].message.contains(&format!("\"{typo}\"")));
        assert!(
            found[0]
                .message
                .contains(&format!("Você quis dizer \"{suggestion}\"?")),
            "{}",
            found[0].message
        );
    }
}

#[test]
fn every_listed_wording_is_accepted_in_a_row() {
    let map = perf_map();
    for (wording, meaning) in [
        ("Detectável", Qualitative::Detectable),
        ("P O S I T I V O", Qualitative::Detectable),
        ("+", Qualitative::Detectable),
        ("NÃO DET ECTADO", Qualitative::NotDetectable),
        ("Não reagente", Qualitative::NotDetectable),
        ("-", Qualitative::NotDetectable),
        ("Inconclusivo ou Indeterminado", Qualitative::Inconclusive),
        ("3", Qualitative::Inconclusive),
    ] {
        let r = perf_row(
            10,
            &cns("70000000000000"),
            "08/06/2021",
            "09/06/2021",
            "94309-2",
            wording,
        );
        let got = validate_row(&r, &map, &settings()).unwrap();
        assert_eq!(got.value, ResultValue::Qualitative(meaning), "{wording}");
    }
}

#[test]
fn dates_follow_dst_rules_and_order() {
    let map = perf_map();
    let p = cns("70000000000000");
    let s = settings();
    // Brazil's DST era: December 2018 in São Paulo is -02:00.
    let got = validate_row(
        &perf_row(
            11,
            &p,
            "01/12/2018 10:00",
            "2018-12-02 08:00",
            "94309-2",
            "1",
        ),
        &map,
        &s,
    )
    .unwrap();
    assert_eq!(got.collected.to_fhir(), "2018-12-01T10:00:00-02:00");
    assert_eq!(got.issued, instant("2018-12-02T08:00:00-02:00"));
    // A date alone stays a date; a date-only release is 00:00 local that day.
    let got = validate_row(
        &perf_row(12, &p, "08/06/2021", "08/06/2021", "94309-2", "1"),
        &map,
        &s,
    )
    .unwrap();
    assert_eq!(
        got.collected,
        When::Date(chrono::NaiveDate::from_ymd_opt(2021, 6, 8).unwrap())
    );
    assert_eq!(got.issued, instant("2021-06-08T00:00:00-03:00"));
    // Collection with a time on the day of a date-only release is fine,
    // and the release is not stated before it (review: it was midnight).
    let got = validate_row(
        &perf_row(13, &p, "08/06/2021 15:00", "08/06/2021", "94309-2", "1"),
        &map,
        &s,
    )
    .unwrap();
    assert_eq!(got.issued, instant("2021-06-08T15:00:00-03:00"));
    // Collection after release.
    let found = issues(
        &perf_row(
            14,
            &p,
            "10/06/2021 09:00",
            "09/06/2021 11:00",
            "94309-2",
            "1",
        ),
        &map,
        &s,
    );
    assert_eq!(codes(&found), ["coleta_apos_liberacao"]);
    assert_eq!(found[0].column, "data_coleta");
    assert!(
        found[0].message.contains("\"10/06/2021 09:00\"")
            && found[0].message.contains("\"09/06/2021 11:00\"")
    );
    // Future (now is 2021-11-01 12:00 UTC = 09:00 in São Paulo).
    let found = issues(
        &perf_row(
            15,
            &p,
            "01/11/2021 08:00",
            "01/11/2021 10:00",
            "94309-2",
            "1",
        ),
        &map,
        &s,
    );
    assert_eq!(codes(&found), ["data_futura"]);
    assert_eq!(found[0].column, "data_resultado");
    let found = issues(
        &perf_row(16, &p, "02/11/2021", "02/11/2021", "94309-2", "1"),
        &map,
        &s,
    );
    assert_eq!(codes(&found), ["data_futura", "data_futura"]);
}

#[test]
fn utc_timestamps_are_placed_in_the_labs_zone() {
    let map = perf_map();
    let mut s = settings();
    s.timezone = chrono_tz::America::Rio_Branco;
    let r = perf_row(
        17,
        &cns("70000000000000"),
        "2020-06-01T05:00:00.000Z",
        "2020-06-02T15:30:00.000Z",
        "94309-2",
        "1",
    );
    let got = validate_row(&r, &map, &s).unwrap();
    assert_eq!(got.collected.to_fhir(), "2020-06-01T00:00:00-05:00");
    assert_eq!(got.issued, instant("2020-06-02T10:30:00-05:00"));
}

#[test]
fn separate_date_and_time_columns_combine() {
    let map = map_columns(
        &headers("cns;Data da Coleta;Hora da Coleta;Data da Liberação;Hora da Liberação;Exame;Resultado;Amostra;Método do Exame"),
        &BTreeMap::new(),
    );
    assert_eq!(map.header(Field::CollectionTime), Some("Hora da Coleta"));
    let p = cns("70000000000000");
    let r = row(
        18,
        &format!(
            "{p};08/06/2021;09:23;08/06/2021;17:45:10;RT-PCR SARS-CoV-2;Não detectável;Soro;RT-PCR"
        ),
    );
    let got = validate_row(&r, &map, &settings()).unwrap();
    assert_eq!(got.collected.to_fhir(), "2021-06-08T09:23:00-03:00");
    assert_eq!(got.issued, instant("2021-06-08T17:45:10-03:00"));
    assert_eq!(got.exam.code, "94309-2");
    assert_eq!(
        got.specimen,
        SpecimenCode {
            system: SpecimenSystem::Hl7V2_0487,
            code: "SER".into()
        }
    );
    let bad = row(
        19,
        &format!("{p};08/06/2021;9h23;08/06/2021;17:45;RT-PCR;Não detectável;Soro;RT-PCR"),
    );
    let found = issues(&bad, &map, &settings());
    assert_eq!(codes(&found), ["data_invalida"]);
    assert_eq!(found[0].column, "Hora da Coleta");
    assert_eq!(found[0].value, "9h23");
}

#[test]
fn lab_id_is_derived_deterministically_without_an_id_column() {
    let map = map_columns(
        &headers("cns;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo"),
        &BTreeMap::new(),
    );
    let p = cns("70000000000000");
    let r = row(
        20,
        &format!("{p};08/06/2021 09:00;09/06/2021;2019NCOV;Positivo;Swab nasofaríngeo;RT-PCR"),
    );
    let a = validate_row(&r, &map, &settings()).unwrap();
    let b = validate_row(
        &Row {
            line: 99,
            ..r.clone()
        },
        &map,
        &settings(),
    )
    .unwrap();
    assert_eq!(a.lab_id, b.lab_id);
    assert_eq!(
        uuid::Uuid::parse_str(&a.lab_id).map(|u| u.get_version_num()),
        Ok(5)
    );
    assert_eq!(
        a.exam,
        ExamCode {
            system: ExamSystem::Loinc,
            code: "94309-2".into()
        }
    );
    let other = row(
        21,
        &format!("{p};08/06/2021 09:01;09/06/2021;2019NCOV;Positivo;Swab nasofaríngeo;RT-PCR"),
    );
    assert_ne!(
        validate_row(&other, &map, &settings()).unwrap().lab_id,
        a.lab_id
    );
}

#[test]
fn numeric_results_need_unit_and_interpretation() {
    let map = map_columns(&headers("cns;data_coleta;data_resultado;codigo_exame;resultado;unidade;interpretacao;amostra;metodo"), &BTreeMap::new());
    let p = cns("70000000000000");
    let r = row(
        22,
        &format!("{p};08/06/2021;09/06/2021;94505-5;16,1;UA/mL;Reagente;Soro;ELISA"),
    );
    let got = validate_row(&r, &map, &settings()).unwrap();
    assert_eq!(
        got.value,
        ResultValue::Quantity {
            value: "16.1".into(),
            unit: "UA/mL".into(),
            interpretation: Qualitative::Detectable
        }
    );
    let r = row(
        23,
        &format!("{p};08/06/2021;09/06/2021;94505-5;16,1;;;Soro;ELISA"),
    );
    assert_eq!(
        codes(&issues(&r, &map, &settings())),
        ["unidade_ausente", "interpretacao_ausente"]
    );
}

#[test]
fn defaults_fill_missing_columns_per_exam_first() {
    let map = map_columns(
        &headers("cns;data_coleta;data_resultado;resultado"),
        &BTreeMap::new(),
    );
    let mut s = settings();
    s.defaults.exam_code = Some("94558-4".into());
    s.defaults.specimen = Some("Swab nasofaríngeo".into());
    s.defaults.method = Some("RT-PCR".into());
    s.defaults.exams.insert(
        "94558-4".into(),
        ExamDefaults {
            method: Some("Imunocromatografia".into()),
            reference_range: None,
            category: Some("0214".into()),
            specimen: None,
        },
    );
    assert_eq!(file_issues(&map, &s, 1), vec![]);
    let got = validate_row(
        &row(
            24,
            &format!("{};08/06/2021;08/06/2021;Reagente", cns("70000000000000")),
        ),
        &map,
        &s,
    )
    .unwrap();
    assert_eq!(got.exam.code, "94558-4");
    assert_eq!(got.method, "Imunocromatografia");
    assert_eq!(got.category, "0214");
    assert_eq!(got.reference_range, "Não detectável");
    assert_eq!(got.specimen.code, "SWNAFA");
}

#[test]
fn missing_columns_are_reported_once_on_the_header_line() {
    let map = map_columns(
        &headers("cpf;data_coleta;resultado;metodo"),
        &BTreeMap::new(),
    );
    let found = file_issues(&map, &settings(), 1);
    assert_eq!(
        codes(&found),
        [
            "coluna_ausente",
            "coluna_ausente",
            "coluna_ausente",
            "coluna_ausente"
        ]
    );
    assert!(found.iter().all(|i| i.line == 1 && i.column.is_empty()));
    assert!(found[0].message.contains("CNS do paciente"));
    assert!(found[0].message.contains("\"Cartão SUS\""));
    assert!(found[0].message.contains("o CPF não pode ser usado"));
    assert!(found[1].message.contains("data de liberação"));
    assert!(found[2].message.contains("exam_code"));
    assert!(found[3].message.contains("specimen"));
    assert_eq!(file_issues(&perf_map(), &settings(), 1), vec![]);
    let mut no_category = settings();
    no_category.defaults.category = None;
    assert_eq!(
        codes(&file_issues(&perf_map(), &no_category, 1)),
        ["categoria_ausente"]
    );
}

#[test]
fn cnes_and_performer_columns() {
    let map = map_columns(&headers("cns;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo;cnes;cnes_executor"), &BTreeMap::new());
    let p = cns("70000000000000");
    let base = format!("{p};08/06/2021;09/06/2021;94309-2;2;SWNAFA;RT-PCR");
    let got = validate_row(&row(25, &format!("{base};200933;")), &map, &settings()).unwrap();
    assert_eq!(got.performer, Party::Cnes("0200933".into()));
    let got = validate_row(
        &row(26, &format!("{base};;11.222.333/0001-81")),
        &map,
        &settings(),
    )
    .unwrap();
    assert_eq!(got.performer, Party::CnpjOrCpf("11222333000181".into()));
    let got = validate_row(
        &row(27, &format!("{base};;12.ABC.345/01DE-35")),
        &map,
        &settings(),
    )
    .unwrap();
    assert_eq!(got.performer, Party::CnpjOrCpf("12ABC34501DE35".into()));
    let found = issues(
        &row(28, &format!("{base};170570523300002;11.222.333/0001-82")),
        &map,
        &settings(),
    );
    assert_eq!(codes(&found), ["cnes_invalido", "executor_invalido"]);
}

#[test]
fn specimen_and_exam_names_from_the_vocabulary() {
    let map = map_columns(
        &headers("cns;data_coleta;data_resultado;Exame;resultado;Material;metodo;Observação"),
        &BTreeMap::new(),
    );
    let p = cns("70000000000000");
    let got = validate_row(
        &row(29, &format!("{p};08/06/2021;09/06/2021;TESTE RÁPIDO - ANTÍGENO;Não Reagente;Swab nasofaríngeo;Imunocromatografia;amostra hemolisada")),
        &map,
        &settings(),
    )
    .unwrap();
    assert_eq!(got.exam.code, "94558-4");
    assert_eq!(got.notes, vec!["amostra hemolisada".to_string()]);
    let found = issues(
        &row(
            30,
            &format!("{p};08/06/2021;09/06/2021;HEMOGRAMA;Negativo;Fezes;X;-"),
        ),
        &map,
        &settings(),
    );
    assert_eq!(
        codes(&found),
        ["exame_desconhecido", "amostra_desconhecida"]
    );
    assert_eq!(found[0].column, "Exame");
    assert_eq!(found[1].column, "Material");
}

#[test]
fn null_tokens_count_as_empty() {
    let map = perf_map();
    let r = row(
        31,
        "LAB-31;X;null;undefined;08/06/2021;09/06/2021;94309-2;Não Realizado;SWNAFA;RT-PCR;N/A",
    );
    assert_eq!(
        codes(&issues(&r, &map, &settings())),
        ["cns_ausente", "campo_obrigatorio"]
    );
}

proptest! {
    #[test]
    fn validate_row_never_panics(cells in proptest::collection::vec(".{0,24}", 0..14)) {
        let r = Row::new(2, cells);
        let _ = validate_row(&r, &perf_map(), &settings());
    }

    #[test]
    fn validate_row_never_panics_on_plausible_cells(
        cns in "[0-9 .-]{0,18}",
        date in "[0-9/: TZ.-]{0,25}",
        result in "[0-9,.+ a-zA-ZÃã-]{0,12}",
    ) {
        let r = row(3, &format!("L;N;{cns};;{date};{date};94309-2;{result};SWNAFA;;"));
        let _ = validate_row(&r, &perf_map(), &settings());
    }
}

#[test]
fn settings_from_config_layer_inbox_over_global() {
    let text = r#"
        [lab]
        cnes = "2337991"
        requester_id = "123"
        requester_cns = "700000000000005"
        timezone = "America/Manaus"
        uf = "AM"
        author_cnpj = "11.222.333/0001-81"
        [rnds]
        environment = "homologacao"
        certificate = "lab.pfx"
        [defaults]
        method = "RT-PCR"
        category = "0202"
        [[inbox]]
        path = "in"
        outbox = "out"
        exam_codes = { "2019NCOV" = "94309-2" }
        [inbox.defaults]
        category = "0214"
    "#;
    let config = crate::config::Config::parse(
        text,
        std::path::Path::new("t.toml"),
        std::path::Path::new("/"),
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2021, 11, 1, 12, 0, 0).unwrap();
    let s = Settings::from_config(&config, config.inbox.first(), now);
    assert_eq!(s.author, Party::CnpjOrCpf("11222333000181".into()));
    assert_eq!(s.timezone, chrono_tz::America::Manaus);
    assert_eq!(s.defaults.category.as_deref(), Some("0214"));
    assert_eq!(s.defaults.method.as_deref(), Some("RT-PCR"));
    assert_eq!(
        s.exam_codes.get("2019NCOV").map(String::as_str),
        Some("94309-2")
    );
    assert_eq!(s.lab_cnes, "2337991");
}

#[test]
fn a_row_of_a_file_without_the_column_points_to_the_header_issue() {
    let map = map_columns(
        &headers("data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo"),
        &BTreeMap::new(),
    );
    let found = issues(
        &row(2, "08/06/2021;09/06/2021;94309-2;1;SWNAFA;RT-PCR"),
        &map,
        &settings(),
    );
    assert_eq!(codes(&found), ["coluna_ausente"]);
    assert_eq!(found[0].column, "");
    assert!(found[0]
        .message
        .starts_with("Linha 2: o arquivo não tem coluna com o CNS do paciente"));
}

fn derived_id_map() -> ColumnMap {
    map_columns(
        &headers("cns;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo"),
        &BTreeMap::new(),
    )
}

#[test]
fn the_lab_id_of_a_truncated_excel_time_is_found_again() {
    let map = derived_id_map();
    let p = cns("70000000000000");
    let cells = |collected: &str| {
        format!("{p};{collected};26/10/2021;2019NCOV;Positivo;Swab nasofaríngeo;RT-PCR")
    };
    // Sent by an older version, which read the stored 13:00 as 12:59:59.
    let old = validate_row(&row(2, &cells("2021-10-25 12:59:59")), &map, &settings()).unwrap();
    let mut xlsx_row = row(2, &cells("2021-10-25 13:00:00"));
    xlsx_row.notes.push(crate::input::ReadNote::LegacyText {
        column: 1,
        text: "2021-10-25 12:59:59".into(),
    });
    let now = validate_row(&xlsx_row, &map, &settings()).unwrap();
    assert_eq!(
        now.collected,
        When::Instant(instant("2021-10-25T13:00:00-03:00"))
    );
    assert_ne!(now.lab_id, old.lab_id);
    assert_eq!(
        legacy_lab_id(&xlsx_row, &map, &settings(), &now.lab_id),
        Some(old.lab_id.clone())
    );
    // A serial typed as text a hair below midnight: read as the next day
    // now, as 23:59:59 before.
    let text_serial = row(3, &cells("44494.99999999999"));
    let before = validate_row(&row(3, &cells("25/10/2021 23:59:59")), &map, &settings()).unwrap();
    let after = validate_row(&text_serial, &map, &settings()).unwrap();
    assert_eq!(
        legacy_lab_id(&text_serial, &map, &settings(), &after.lab_id),
        Some(before.lab_id)
    );
    // Nothing to find for an ordinary row, or a row with its own id.
    let plain = row(4, &cells("25/10/2021 13:00"));
    let plain_id = validate_row(&plain, &map, &settings()).unwrap().lab_id;
    assert_eq!(legacy_lab_id(&plain, &map, &settings(), &plain_id), None);
    let own = perf_row(
        5,
        &p,
        "44494.99999999999",
        "26/10/2021",
        "94309-2",
        "Detectável",
    );
    let own_id = validate_row(&own, &perf_map(), &settings()).unwrap().lab_id;
    assert_eq!(legacy_lab_id(&own, &perf_map(), &settings(), &own_id), None);
}

#[test]
fn lab_ids_are_plain_text_of_bounded_length() {
    let p = cns("70000000000000");
    let with_id = |id: &str| {
        row(
            6,
            &format!("{id};PACIENTE;{p};;08/06/2021 09:23;09/06/2021;94309-2;Detectável;SWNAFA;RT-PCR;2337991"),
        )
    };
    for good in [
        "LAB-00000006",
        "2021/0001.a_b",
        &"9".repeat(MAX_LAB_ID_CHARS),
    ] {
        assert!(
            validate_row(&with_id(good), &perf_map(), &settings()).is_ok(),
            "{good}"
        );
    }
    let injected = issues(
        &with_id("=HYPERLINK(\"http://x.example\",\"x\")"),
        &perf_map(),
        &settings(),
    );
    assert_eq!(codes(&injected), ["id_exame_invalido"]);
    assert_eq!(injected[0].column, "id_exame");
    assert!(
        injected[0]
            .message
            .starts_with("Linha 6, coluna \"id_exame\": o identificador do exame \"=HYPERLINK("),
        "{}",
        injected[0].message
    );
    assert!(
        injected[0]
            .message
            .contains("caracteres não aceitos (= ( \" : , ))"),
        "{}",
        injected[0].message
    );
    let spaced = issues(&with_id("AB 12"), &perf_map(), &settings());
    assert!(
        spaced[0].message.contains("(espaço)"),
        "{}",
        spaced[0].message
    );
    let long = issues(
        &with_id(&"9".repeat(MAX_LAB_ID_CHARS + 1)),
        &perf_map(),
        &settings(),
    );
    assert!(
        long[0].message.contains("tem 65 caracteres"),
        "{}",
        long[0].message
    );
}

#[test]
fn a_row_the_reader_cut_is_refused_with_the_reason_and_nothing_else() {
    use crate::input::ReadNote;
    let p = cns("70000000000000");
    let mut r = perf_row(
        8,
        &p,
        "08/06/2021 09:23",
        "09/06/2021",
        "94309-2",
        "Detectável",
    );
    r.notes.push(ReadNote::CellTooLong {
        column: 1,
        chars: 40_000,
        last_line: 12,
    });
    r.notes.push(ReadNote::LineTooLong { bytes: 3_000_000 });
    let found = issues(&r, &perf_map(), &settings());
    assert_eq!(codes(&found), ["celula_longa_demais", "linha_longa_demais"]);
    assert_eq!(found[0].column, "nome_paciente");
    assert!(
        found[0]
            .message
            .starts_with("Linha 8, coluna \"nome_paciente\": a célula tem 40000 caracteres"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("da linha 8 à linha 12"),
        "{}",
        found[0].message
    );
    assert!(found[1]
        .message
        .starts_with("Linha 8: a linha tem 3000000 bytes"));
}

/// The lab named a column in `[inbox.columns]` that the file lacks: said
/// on the header line, and no synonym stands in for it.
#[test]
fn a_configured_column_absent_from_the_file_is_an_issue() {
    let mut overrides = BTreeMap::new();
    overrides.insert(Field::PatientCns, "Cartão do Paciente".to_string());
    let map = map_columns(&headers(PERF_HEADER), &overrides);
    assert!(!map.has(Field::PatientCns), "no guess from the synonyms");
    let found = file_issues(&map, &settings(), 1);
    let issue = found
        .iter()
        .find(|i| i.code == "coluna_configurada_ausente")
        .expect("reported");
    assert_eq!(issue.line, 1);
    assert_eq!(issue.column, "Cartão do Paciente");
    assert!(
        issue
            .message
            .contains("[inbox.columns] patient_cns = \"Cartão do Paciente\""),
        "{}",
        issue.message
    );
    assert!(issue.message.contains("\"cns\""), "{}", issue.message);
}

/// Excel's `7,85957E+14` is not "characters that are not digits": the
/// message says Excel did it and how to export the column as text.
#[test]
fn a_cns_that_excel_turned_into_scientific_notation_says_so() {
    let map = perf_map();
    let issues = validate_row(
        &row(
            3,
            "LAB-1;PACIENTE;7,85957E+14;;08/06/2021;08/06/2021;94309-2;Detectável;SWNAFA;RT-PCR;2337991",
        ),
        &map,
        &settings(),
    )
    .unwrap_err();
    let issue = issues
        .iter()
        .find(|i| i.column == "cns")
        .expect("CNS issue");
    assert_eq!(issue.value, "7,85957E+14");
    assert!(
        issue
            .message
            .contains("o Excel transformou o CNS em notação científica"),
        "{}",
        issue.message
    );
    assert!(
        issue.message.contains("formate-a como Texto"),
        "{}",
        issue.message
    );
    assert!(
        !issue.message.contains("não são dígitos"),
        "{}",
        issue.message
    );
}

/// A global `[defaults] method = "RT-PCR"` is not stated for an antibody
/// test: the row is refused with the per-exam fix; a per-exam method (and
/// per-exam specimen) wins and the row passes.
#[test]
fn a_global_method_of_another_kind_of_exam_is_refused() {
    let map = map_columns(
        &headers("cns;data_coleta;data_resultado;resultado"),
        &BTreeMap::new(),
    );
    let mut s = settings();
    s.defaults.exam_code = Some("94563-4".into()); // IgG antibody
    s.defaults.method = Some("RT-PCR".into());
    s.defaults.specimen = Some("SWNAFA".into());
    let r = row(
        4,
        &format!("{};08/06/2021;08/06/2021;Reagente", cns("70000000000000")),
    );
    let found = validate_row(&r, &map, &s).unwrap_err();
    let issue = found
        .iter()
        .find(|i| i.code == "metodo_padrao_de_outro_exame")
        .expect("refused");
    assert!(
        issue
            .message
            .starts_with("Linha 4: o exame 94563-4 é um teste de anticorpos"),
        "{}",
        issue.message
    );
    assert!(
        issue
            .message
            .contains("[defaults.exams.\"94563-4\"] method"),
        "{}",
        issue.message
    );

    s.defaults.exams.insert(
        "94563-4".into(),
        ExamDefaults {
            method: Some("Quimioluminescência".into()),
            specimen: Some("SER".into()),
            ..ExamDefaults::default()
        },
    );
    let got = validate_row(&r, &map, &s).unwrap();
    assert_eq!(got.method, "Quimioluminescência");
    assert_eq!(got.specimen.code, "SER");
}
