//! `check` on data-driven fixtures: each `tests/fixtures/check/<case>/`
//! holds an `input.*` and an `expected.json` snapshot of everything the
//! command writes (summary, bundles, error rows).

use std::path::Path;

use rnds_drop::check::{check_file, CheckedFile, Verdict};
use serde_json::{json, Value};

use crate::harness;

/// Everything `check` wrote for one input, as one JSON value.
pub(crate) fn outputs(checked: &CheckedFile) -> Value {
    let summary: Value = serde_json::from_slice(
        &std::fs::read(&checked.paths.summary).expect("resumo.json written"),
    )
    .expect("resumo.json is JSON");
    let bundles: Vec<Value> = std::fs::read_to_string(&checked.bundles)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each bundle line is JSON"))
        .collect();
    let errors = std::fs::read(&checked.paths.errors_csv).unwrap_or_default();
    let errors: Vec<String> = String::from_utf8(errors)
        .expect("erros.csv is UTF-8")
        .lines()
        .map(str::to_owned)
        .collect();
    json!({ "summary": summary, "bundles": bundles, "errors_csv": errors })
}

fn run_case(case: &Path) {
    let input = std::fs::read_dir(case)
        .expect("case folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_stem().is_some_and(|s| s == "input"))
        .unwrap_or_else(|| panic!("{} has no input.* file", case.display()));
    let out = tempfile::tempdir().expect("tempdir");
    let checked =
        check_file(&input, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
    harness::assert_json_snapshot(&case.join("expected.json"), &outputs(&checked));
}

#[test]
fn every_fixture_case_matches_its_snapshot() {
    let root = harness::fixtures().join("check");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/fixtures/check")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 3,
        "fixture cases missing in {}",
        root.display()
    );
    for case in cases {
        run_case(&case);
    }
}

/// The real exports in `../shared/samples`: what `check` makes of each
/// (format, encoding, header, mapping, counts and issue codes by line). The
/// snapshot keeps no cell values: the samples hold personal-looking data.
#[test]
fn real_sample_files_match_their_snapshot() {
    let mut names: Vec<_> = std::fs::read_dir(harness::samples())
        .expect("../shared/samples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv" || e == "xlsx"))
        .collect();
    names.sort();
    assert!(names.len() >= 9, "samples missing");
    let out = tempfile::tempdir().expect("tempdir");
    let mut all = serde_json::Map::new();
    for path in names {
        let checked =
            check_file(&path, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
        let s = &checked.summary;
        let mut codes = std::collections::BTreeMap::<String, Vec<u64>>::new();
        for issue in &s.issues {
            codes
                .entry(format!("{} @ {}", issue.code, issue.column))
                .or_default()
                .push(issue.line);
        }
        for lines in codes.values_mut() {
            lines.truncate(5);
        }
        all.insert(
            s.file.clone(),
            json!({
                "verdict": format!("{:?}", checked.verdict),
                "format": s.format, "encoding": s.encoding, "delimiter": s.delimiter,
                "sheet": s.sheet, "header_line": s.header_line, "columns": s.columns,
                "rows_total": s.rows_total, "rows_valid": s.rows_valid, "rows_invalid": s.rows_invalid,
                "error": s.error, "issue_lines_by_code": codes,
            }),
        );
    }
    harness::assert_json_snapshot(
        &harness::fixtures().join("check/samples.expected.json"),
        &Value::Object(all),
    );
}

/// A spreadsheet typed by staff: a title row, a blank row, CNS stored as
/// numbers, real date cells, a blank row in the middle and a total row.
#[test]
fn staff_typed_xlsx_gives_bundles_and_sheet_row_numbers() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("planilha.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Resultados").expect("sheet name");
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let at = |d: &str| ExcelDateTime::parse_from_str(d).expect("date literal");
    sheet
        .write(0, 0, "Laboratório Exemplo — resultados de novembro")
        .expect("cell");
    let headers = [
        "Nº Pedido",
        "Cartão SUS",
        "Data da Coleta",
        "Dt. Liberação",
        "Cód. Exame",
        "Resultado",
        "Material",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write(2, c as u16, *h).expect("cell");
    }
    let rows: [(&str, f64, &str, &str, &str); 3] = [
        (
            "N-1",
            759010928159013.0,
            "2026-11-03 08:15:00",
            "2026-11-03 16:40:00",
            "Detectável",
        ),
        (
            "N-2",
            939548620579868.0,
            "2026-11-03 08:20:00",
            "2026-11-03 16:40:00",
            "Não detectável",
        ),
        (
            "N-3",
            759010928159014.0,
            "2026-11-03 09:00:00",
            "2026-11-03 17:00:00",
            "Negativo",
        ),
    ];
    for (i, (id, cns, collected, issued, result)) in rows.iter().enumerate() {
        // Row 5 (index 4 + i, shifted by one blank row after the first) as staff leave them.
        let r = if i == 0 { 3 } else { 4 + i as u32 };
        sheet.write(r, 0, *id).expect("cell");
        sheet.write(r, 1, *cns).expect("cell");
        sheet
            .write_with_format(r, 2, at(collected), &date)
            .expect("cell");
        sheet
            .write_with_format(r, 3, at(issued), &date)
            .expect("cell");
        sheet.write(r, 4, "94309-2").expect("cell");
        sheet.write(r, 5, *result).expect("cell");
        sheet.write(r, 6, "SWNAFA").expect("cell");
    }
    sheet.write(8, 0, "Total").expect("cell");
    sheet.write(8, 1, 3).expect("cell");
    book.save(&path).expect("xlsx saved");

    let out = tempfile::tempdir().expect("tempdir");
    let checked =
        check_file(&path, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
    assert_eq!(checked.verdict, Verdict::SomeInvalid);
    let s = &checked.summary;
    assert_eq!(s.sheet.as_deref(), Some("Resultados"));
    assert_eq!(s.header_line, Some(3));
    assert_eq!((s.rows_total, s.rows_valid, s.rows_invalid), (3, 2, 1));
    // The bad CNS is on sheet row 7 (rows 4, 6, 7 hold data; row 5 is blank).
    assert_eq!(s.issues.len(), 1, "{:?}", s.issues);
    assert_eq!(
        (
            s.issues[0].line,
            s.issues[0].column.as_str(),
            s.issues[0].value.as_str(),
            s.issues[0].code.as_str()
        ),
        (7, "Cartão SUS", "759010928159014", "cns_invalido")
    );
    let bundles = std::fs::read_to_string(&checked.bundles).expect("bundles");
    let first: Value =
        serde_json::from_str(bundles.lines().next().expect("one bundle")).expect("JSON");
    let observation = &first["entry"][1]["resource"];
    assert_eq!(
        first["entry"][0]["resource"]["subject"]["identifier"]["value"],
        "759010928159013"
    );
    assert_eq!(
        observation["effectiveDateTime"],
        "2026-11-03T08:15:00-03:00"
    );
    assert_eq!(observation["issued"], "2026-11-03T16:40:00-03:00");
    assert!(
        checked.paths.errors_xlsx.exists(),
        "XLSX input gets erros.xlsx too"
    );
}

/// Several chunks (the pipeline works 4,096 rows at a time, in parallel):
/// bundles come out in input order, and an invalid row keeps its line.
#[test]
fn a_file_of_several_chunks_keeps_input_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("grande.csv");
    let mut text =
        String::from("id_exame;cns;data_coleta;data_resultado;codigo_exame;resultado;amostra\n");
    for i in 0..10_000u32 {
        // Row 5,000 (line 5,002: the header is line 1) has a wrong check digit.
        let cns = if i == 5_000 {
            "759010928159014"
        } else {
            "759010928159013"
        };
        text.push_str(&format!(
            "L-{i:05};{cns};01/10/2021 10:00;02/10/2021 11:00;94309-2;Não detectável;SWNAFA\n"
        ));
    }
    std::fs::write(&path, text).expect("written");
    let out = tempfile::tempdir().expect("tempdir");
    let checked =
        check_file(&path, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
    assert_eq!(
        (checked.summary.rows_valid, checked.summary.rows_invalid),
        (9_999, 1)
    );
    assert_eq!(checked.summary.issues[0].line, 5_002);
    let ids: Vec<String> = std::fs::read_to_string(&checked.bundles)
        .expect("bundles")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON");
            v["identifier"]["value"].as_str().expect("id").to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..10_000u32)
        .filter(|&i| i != 5_000)
        .map(|i| format!("L-{i:05}"))
        .collect();
    assert_eq!(ids, expected);
}

/// The errors file is meant to be fixed and dropped again: once its cells
/// are corrected it reads back with the same mapping and every row passes.
#[test]
fn a_fixed_errors_file_can_be_dropped_again() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv");
    let out = tempfile::tempdir().expect("tempdir");
    let first =
        check_file(&example, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
    assert_eq!(first.summary.rows_invalid, 2);
    let errors = std::fs::read_to_string(&first.paths.errors_csv).expect("erros.csv");
    let fixed = errors
        .replace(";123456789012345;", ";759010928159013;")
        .replace(";NAO DETECTATDO;", ";NAO DETECTADO;");
    let again = out.path().join("exames-corrigido.csv");
    std::fs::write(&again, fixed).expect("written");
    let second =
        check_file(&again, &harness::job(), out.path(), &mut |_| {}).expect("outputs written");
    assert_eq!(
        second.verdict,
        Verdict::AllValid,
        "{:?}",
        second.summary.issues
    );
    assert_eq!(second.summary.rows_valid, 2);
    assert_eq!(second.summary.columns, first.summary.columns);
}
