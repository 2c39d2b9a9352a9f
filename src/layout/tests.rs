//! The layout engine on small rows shaped like the real exports: what is a
//! result, what is skipped (and why), what is an issue.

use super::*;
use crate::input::Row;
use crate::mapping::map_columns;

fn plan(spec: &LayoutSpec, headers: &[&str]) -> Plan {
    let headers: Vec<String> = headers.iter().map(ToString::to_string).collect();
    Plan::new(spec, map_columns(&headers, &spec.columns))
}

fn row(line: u64, cells: &[&str]) -> Row {
    Row {
        line,
        cells: cells.iter().map(ToString::to_string).collect(),
        notes: Vec::new(),
    }
}

fn apply(plan: &Plan, unit: Unit) -> Vec<Mapped> {
    let mut out = Vec::new();
    plan.apply(unit, &mut out);
    out
}

/// The cell validation would read for `field` in a record.
fn field<'a>(plan: &'a Plan, mapped: &'a Mapped, f: crate::model::Field) -> Option<&'a str> {
    match mapped {
        Mapped::Record { row, view, .. } => plan.view(*view).cell(row, f),
        _ => None,
    }
}

fn skip_codes(out: &[Mapped]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|m| match m {
            Mapped::Skipped(s) => Some(s.code),
            _ => None,
        })
        .collect()
}

#[test]
fn every_preset_parses_and_is_consistent() {
    assert_eq!(preset_defects(), Vec::<String>::new());
    assert_eq!(statuses_defect(), None);
    for name in preset_names() {
        assert!(preset(name).is_some(), "{name}");
    }
}

#[test]
fn an_unknown_preset_is_refused_with_the_list_of_presets() {
    let err = resolve(Some("gal-lotes"), &LayoutSpec::default()).unwrap_err();
    assert!(
        err.contains("gal-lotes") && err.contains("gal-lote,"),
        "{err}"
    );
}

const GAL_BATCH: &[&str] = &[
    "codigoAmostra",
    "exame",
    "metodo",
    "cns",
    "dataColeta",
    "influenzaa",
    "coronavirusncov",
    "coronavirus",
];

#[test]
fn gal_batch_only_the_sars_cov_2_target_is_a_result() {
    let spec = resolve(Some("gal-lote"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, GAL_BATCH);
    // Influenza positive, SARS-CoV-2 not detected: the result is "2", never "1".
    let cells = [
        "422386851",
        "VRSRT",
        "RTTR",
        "898001160660761",
        "10/12/2025",
        "1",
        "2",
        "1",
    ];
    let out = apply(&p, Unit::Row(row(3, &cells)));
    assert_eq!(out.len(), 1);
    use crate::model::Field;
    assert_eq!(field(&p, &out[0], Field::Result), Some("Não detectável"));
    assert_eq!(field(&p, &out[0], Field::ExamCode), Some("94309-2"));
    assert_eq!(
        field(&p, &out[0], Field::Method),
        Some("RT-PCR em tempo real")
    );
    assert_eq!(field(&p, &out[0], Field::LabId), Some("422386851"));
    assert_eq!(p.view(0).header(Field::Result), Some("coronavirusncov"));
}

#[test]
fn an_empty_target_cell_is_skipped_as_not_tested() {
    let spec = resolve(Some("gal-lote"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, GAL_BATCH);
    let cells = [
        "422386852",
        "VRSRT",
        "RTTR",
        "898001160660761",
        "10/12/2025",
        "1",
        "",
        "",
    ];
    let out = apply(&p, Unit::Row(row(4, &cells)));
    assert_eq!(skip_codes(&out), vec!["alvo_nao_testado"]);
}

#[test]
fn a_target_value_mapped_to_nothing_is_not_tested() {
    let mut own = LayoutSpec::default();
    own.values.insert(
        crate::model::Field::Result,
        [("NT".to_string(), String::new())].into(),
    );
    let spec = resolve(Some("gal-lote"), &own).unwrap();
    let p = plan(&spec, GAL_BATCH);
    let cells = ["9", "VRSRT", "RTTR", "", "", "1", "NT", ""];
    let out = apply(&p, Unit::Row(row(4, &cells)));
    assert_eq!(skip_codes(&out), vec!["alvo_nao_testado"]);
    // The preset's codes are still there (maps merge key by key).
    let cells = ["9", "VRSRT", "RTTR", "", "", "1", "1", ""];
    let out = apply(&p, Unit::Row(row(4, &cells)));
    assert_eq!(
        field(&p, &out[0], crate::model::Field::Result),
        Some("Detectável")
    );
}

#[test]
fn an_unmapped_code_is_an_issue_never_passed_through() {
    let spec = resolve(Some("gal-lote"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, GAL_BATCH);
    let cells = [
        "422386853",
        "VRSRT",
        "RTTR",
        "898001160660761",
        "10/12/2025",
        "2",
        "9",
        "",
    ];
    let out = apply(&p, Unit::Row(row(5, &cells)));
    let Mapped::Record { issues, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].code, "valor_nao_mapeado");
    assert_eq!(issues[0].column, "coronavirusncov");
    assert_eq!(issues[0].value, "9");
    assert_eq!(field(&p, &out[0], crate::model::Field::Result), Some(""));
}

#[test]
fn two_targets_give_two_results_with_their_own_ids() {
    let spec = LayoutSpec {
        columns: [(crate::model::Field::LabId, "codigoAmostra".to_string())].into(),
        targets: vec![
            Target {
                column: "coronavirusncov".into(),
                exam_code: "94309-2".into(),
                id_suffix: Some("pcr".into()),
            },
            Target {
                column: "coronavirus".into(),
                exam_code: "94558-4".into(),
                id_suffix: Some("ag".into()),
            },
        ],
        ..LayoutSpec::default()
    };
    assert_eq!(spec.problems(), Vec::<String>::new());
    let p = plan(&spec, GAL_BATCH);
    let cells = ["77", "VRSRT", "RTTR", "", "", "1", "1", "2"];
    let out = apply(&p, Unit::Row(row(2, &cells)));
    use crate::model::Field;
    let got: Vec<_> = out
        .iter()
        .map(|m| {
            (
                field(&p, m, Field::LabId).unwrap_or_default().to_string(),
                field(&p, m, Field::ExamCode)
                    .unwrap_or_default()
                    .to_string(),
                field(&p, m, Field::Result).unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("77-pcr".into(), "94309-2".into(), "1".into()),
            ("77-ag".into(), "94558-4".into(), "2".into())
        ]
    );
    // Each record names its own column in messages.
    let Mapped::Record { view, .. } = &out[1] else {
        panic!()
    };
    assert_eq!(p.view(*view).header(Field::Result), Some("coronavirus"));
    // Without distinct suffixes two targets would share one RNDS id.
    let mut bad = spec.clone();
    bad.targets[1].id_suffix = None;
    assert_eq!(bad.problems().len(), 1);
}

const LIS: &[&str] = &["Pedido", "CNS", "Exame", "Status", "Resultado"];

fn lis_spec() -> LayoutSpec {
    LayoutSpec {
        exam_codes: [("COVIDPCR".to_string(), "94309-2".to_string())].into(),
        select: Select {
            other_exams: OtherExams::Skip,
            ..Select::default()
        },
        ..LayoutSpec::default()
    }
}

#[test]
fn other_exams_and_pending_statuses_are_skipped_not_errors() {
    let p = plan(&lis_spec(), LIS);
    let cases = [
        (
            ["1", "898001160660761", "HEMOGRAMA", "Liberado", "ver laudo"],
            Some("outro_exame"),
        ),
        (
            ["2", "898001160660761", "COVIDPCR", "Aguardando", ""],
            Some("status_nao_liberado"),
        ),
        (
            ["3", "898001160660761", "COVIDPCR", "CANCELADO", ""],
            Some("status_nao_liberado"),
        ),
        (
            ["4", "898001160660761", "COVIDPCR", "Recoleta", ""],
            Some("status_nao_liberado"),
        ),
        (
            ["5", "898001160660761", "COVIDPCR", "Liberado", "Detectável"],
            None,
        ),
        (
            ["6", "898001160660761", "94309-2", "Concluído", "Negativo"],
            None,
        ),
    ];
    for (i, (cells, expected)) in cases.iter().enumerate() {
        let out = apply(&p, Unit::Row(row(i as u64 + 2, cells)));
        assert_eq!(out.len(), 1);
        match (expected, &out[0]) {
            (Some(code), Mapped::Skipped(s)) => assert_eq!(s.code, *code, "{cells:?}"),
            (None, Mapped::Record { issues, .. }) => assert!(issues.is_empty(), "{issues:?}"),
            (_, other) => panic!("{cells:?} → {other:?}"),
        }
    }
}

#[test]
fn an_unknown_status_is_an_issue_and_a_lab_can_name_its_own() {
    let p = plan(&lis_spec(), LIS);
    let cells = [
        "7",
        "898001160660761",
        "COVIDPCR",
        "Conferido",
        "Detectável",
    ];
    let out = apply(&p, Unit::Row(row(9, &cells)));
    let Mapped::Record { issues, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(issues[0].code, "status_desconhecido");
    assert_eq!(issues[0].value, "Conferido");

    let mut spec = lis_spec();
    spec.select.send_statuses = vec!["conferido".into()];
    let p = plan(&spec, LIS);
    let out = apply(&p, Unit::Row(row(9, &cells)));
    assert!(matches!(&out[0], Mapped::Record { issues, .. } if issues.is_empty()));
}

const FLEURY: &[&str] = &[
    "ID_PACIENTE",
    "ID_ATENDIMENTO",
    "DT_COLETA",
    "DE_EXAME",
    "DE_ANALITO",
    "DE_RESULTADO",
    "CD_UNIDADE",
    "DE_VALOR_REFERENCIA",
];

fn fleury_group(rows: &[(&str, &str, &str)]) -> Unit {
    Unit::Group(super::group::Group {
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, (exam, analyte, value))| {
                row(
                    i as u64 + 2,
                    &["P1", "A1", "19/03/2020", exam, analyte, value, "", ""],
                )
            })
            .collect(),
        ..Default::default()
    })
}

const PCR: &str = "NOVO CORONAVÍRUS 2019 (SARS-CoV-2), DETECÇÃO POR PCR";

#[test]
fn analyte_rows_of_one_visit_become_one_result() {
    let spec = resolve(Some("fleury-analitos"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, FLEURY);
    let out = apply(
        &p,
        fleury_group(&[
            (PCR, "Covid 19, Detecção por PCR", "NÃO DET ECTADO"),
            (PCR, "Covid 19, Material", "raspado de naso faringe"),
        ]),
    );
    assert_eq!(skip_codes(&out), vec!["analito_agrupado"]);
    let record = out.last().unwrap();
    use crate::model::Field;
    assert_eq!(field(&p, record, Field::Result), Some("NÃO DET ECTADO"));
    assert_eq!(
        field(&p, record, Field::Specimen),
        Some("raspado de naso faringe")
    );
    assert_eq!(
        p.view(0).header(Field::Specimen),
        Some("DE_RESULTADO (Covid 19, Material)")
    );
}

#[test]
fn analytes_of_other_exams_are_skipped_and_conflicts_are_issues() {
    let spec = resolve(Some("fleury-analitos"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, FLEURY);
    let out = apply(
        &p,
        fleury_group(&[
            ("HEMOGRAMA, sangue total", "Hemoglobina", "16,1"),
            ("HEMOGRAMA, sangue total", "VCM", "86,1"),
        ]),
    );
    assert_eq!(
        skip_codes(&out),
        vec!["analito_fora_do_layout", "analito_fora_do_layout"]
    );
    // Two result rows in one visit: which one is true is not ours to pick.
    let out = apply(
        &p,
        fleury_group(&[
            (PCR, "Covid 19, Detecção por PCR", "DETECTADO"),
            (PCR, "Covid 19, Detecção por PCR", "NÃO DETECTADO"),
        ]),
    );
    assert!(out
        .iter()
        .all(|m| matches!(m, Mapped::Invalid { issues, .. }
        if issues[0].code == "resultado_repetido_no_grupo")));
    // A specimen row alone is no result.
    let out = apply(
        &p,
        fleury_group(&[(PCR, "Covid 19, Material", "raspado de naso faringe")]),
    );
    assert_eq!(skip_codes(&out), vec!["grupo_sem_resultado"]);
}

#[test]
fn a_group_whose_rows_are_far_apart_is_an_issue_never_a_merge() {
    let spec = resolve(Some("fleury-analitos"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, FLEURY);
    let mut unit = fleury_group(&[(PCR, "Covid 19, Material", "raspado de naso faringe")]);
    if let Unit::Group(g) = &mut unit {
        g.reopened = true;
    }
    let out = apply(&p, unit);
    assert!(
        matches!(&out[0], Mapped::Invalid { issues, .. } if issues[0].code == "grupo_disperso"),
        "{out:?}"
    );
}

#[test]
fn a_composed_lab_id_joins_its_columns_and_refuses_a_half() {
    let spec = resolve(Some("gal-exportacao"), &LayoutSpec::default()).unwrap();
    let headers = [
        "Cód. Exame",
        "Requisição",
        "CNS",
        "Exame",
        "Status Exame",
        "Resultado",
    ];
    let p = plan(&spec, &headers);
    use crate::model::Field;
    let full = [
        "COVID19",
        "REQ-9",
        "898001160660761",
        "",
        "Liberado",
        "Detectável",
    ];
    let out = apply(&p, Unit::Row(row(2, &full)));
    // COVID19 is not in any table: with `other_exams = "skip"` it is skipped.
    assert_eq!(skip_codes(&out), vec!["outro_exame"]);
    let mut own = LayoutSpec::default();
    own.exam_codes.insert("COVID19".into(), "94309-2".into());
    let spec = resolve(Some("gal-exportacao"), &own).unwrap();
    let p = plan(&spec, &headers);
    let out = apply(&p, Unit::Row(row(2, &full)));
    assert_eq!(field(&p, &out[0], Field::LabId), Some("REQ-9-COVID19"));
    let half = [
        "COVID19",
        "",
        "898001160660761",
        "",
        "Liberado",
        "Detectável",
    ];
    let out = apply(&p, Unit::Row(row(3, &half)));
    assert!(
        matches!(&out[0], Mapped::Record { issues, .. } if issues[0].code == "campo_composto_incompleto"),
        "{out:?}"
    );
}

#[test]
fn a_date_only_column_keeps_the_written_date() {
    use crate::model::Field;
    let spec = LayoutSpec {
        date_only: vec![Field::CollectionDate],
        ..LayoutSpec::default()
    };
    let p = plan(&spec, &["id", "dataTeste"]);
    let out = apply(&p, Unit::Row(row(2, &["a1", "2020-07-27T03:00:00.000Z"])));
    assert_eq!(
        field(&p, &out[0], Field::CollectionDate),
        Some("2020-07-27")
    );
}

#[test]
fn a_column_the_layout_names_but_the_file_lacks_is_reported() {
    let spec = resolve(Some("gal-lote"), &LayoutSpec::default()).unwrap();
    let p = plan(&spec, &["codigoAmostra", "influenzaa"]);
    assert_eq!(p.missing_columns(), ["coronavirusncov".to_string()]);
}
