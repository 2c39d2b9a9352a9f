//! Clinical-safety regressions on the real samples: a panel result is not
//! a SARS-CoV-2 result unless the file says so; no message proposes a
//! mapping for the value at hand; a re-dropped errors file does not carry
//! its old error columns twice; a file that cannot be sent says so first.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use rnds_drop::check::{check_file, CheckedFile};
use rnds_drop::report::{ERROR_COLUMNS, FILE_NOTE_COLUMN};
use rust_xlsxwriter::Workbook;
use serde_json::Value;

use crate::harness;

/// Valid CNS numbers (check digits) for the rows made sendable.
const CNS: [&str; 3] = ["759010928159013", "800267511253287", "236060710430004"];

fn sheet_rows(path: &Path) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).expect("xlsx opens");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_sheet(path: &Path, rows: &[Vec<Data>]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            let written = match cell {
                Data::Empty => continue,
                Data::Float(f) => sheet.write_number(r, c, *f).map(|_| ()),
                Data::Int(i) => sheet.write_number(r, c, *i as f64).map(|_| ()),
                Data::DateTime(d) => sheet.write_number(r, c, d.as_f64()).map(|_| ()),
                other => sheet.write_string(r, c, text(other)).map(|_| ()),
            };
            written.expect("cell written");
        }
    }
    book.save(path).expect("workbook saved");
}

fn column(rows: &[Vec<Data>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| text(h) == name)
        .unwrap_or_else(|| panic!("sivep_gripe.xlsx has a {name} column"))
}

/// `sivep_gripe.xlsx` with CNS filled in and specimen code 1 (naso-
/// oropharyngeal secretion) written as its RNDS code, so rows can pass;
/// case 10059521 (PCR_RESUL 1, PCR_SARS2 1) kept, plus a copy of it made
/// influenza-only (POS_PCRFLU 1, POS_PCROUT 2, PCR_SARS2 empty) and a copy
/// with nothing detected (PCR_RESUL 2).
fn sivep_with_an_influenza_only_case(dir: &Path) -> PathBuf {
    let mut rows = sheet_rows(&harness::samples().join("sivep_gripe.xlsx"));
    let [id, cns, specimen, result, flu, flu_type, other, sars2] = [
        "NU_NOTIFIC",
        "NU_CNS",
        "TP_AMOSTRA",
        "PCR_RESUL",
        "POS_PCRFLU",
        "TP_FLU_PCR",
        "POS_PCROUT",
        "PCR_SARS2",
    ]
    .map(|name| column(&rows, name));
    let covid = rows
        .iter()
        .position(|r| text(&r[id]) == "10059521")
        .expect("case 10059521 is in the sample");
    assert_eq!(
        (text(&rows[covid][result]), text(&rows[covid][sars2])),
        ("1".into(), "1".into())
    );
    let mut influenza = rows[covid].clone();
    influenza[id] = Data::String("10059522".into());
    influenza[flu] = Data::String("1".into());
    influenza[flu_type] = Data::String("1".into());
    influenza[other] = Data::String("2".into());
    influenza[sars2] = Data::Empty;
    influenza[cns] = Data::String(CNS[1].into());
    let mut negative = rows[covid].clone();
    negative[id] = Data::String("10059523".into());
    negative[result] = Data::String("2".into());
    negative[other] = Data::Empty;
    negative[sars2] = Data::Empty;
    negative[cns] = Data::String(CNS[2].into());
    rows[covid][cns] = Data::String(CNS[0].into());
    rows.push(influenza);
    rows.push(negative);
    for row in rows.iter_mut().skip(1) {
        if text(&row[specimen]) == "1" {
            row[specimen] = Data::String("SNOF".into());
        }
    }
    let path = dir.join("sivep_influenza.xlsx");
    write_sheet(&path, &rows);
    path
}

fn job_with_pcr_default() -> rnds_drop::pipeline::FileJob {
    let mut job = harness::job();
    job.validate.defaults.exam_code = Some("94309-2".into());
    job
}

fn bundles(checked: &CheckedFile) -> Vec<Value> {
    std::fs::read_to_string(&checked.bundles)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("bundle JSON"))
        .collect()
}

/// Regression (issue 12, safety defect 1): an influenza-only positive case
/// of SIVEP was built as SARS-CoV-2 (94309-2) Detectável from PCR_RESUL.
#[test]
fn a_sivep_panel_result_becomes_sars_cov_2_only_where_the_file_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sivep_with_an_influenza_only_case(dir.path());
    let out = dir.path().join("saida");
    let checked = check_file(&input, &job_with_pcr_default(), &out, &mut |_| {}).expect("outputs");
    let sent = bundles(&checked);
    let ids: Vec<&str> = sent
        .iter()
        .map(|b| b["identifier"]["value"].as_str().expect("lab id"))
        .collect();
    assert_eq!(ids, ["10059521"], "only the SARS-CoV-2 case is a result");
    let text = serde_json::to_string(&sent[0]).expect("JSON");
    assert!(text.contains("94309-2"), "{text}");
    // Lines 20 and 21 are the two copies; the sample's own rows lack a CNS.
    let copies: Vec<(u64, &str, &str)> = checked
        .summary
        .issues
        .iter()
        .filter(|i| i.line >= 20)
        .map(|i| (i.line, i.code.as_str(), i.value.as_str()))
        .collect();
    assert_eq!(
        copies,
        [
            (20, "resultado_de_painel", "1"),
            (21, "resultado_de_painel", "2")
        ],
        "{:?}",
        checked.summary.issues
    );
}

/// A panel result column without its pathogen column cannot say which
/// virus it found: the whole file is refused, in one sentence.
#[test]
fn a_panel_result_without_its_pathogen_column_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sivep_with_an_influenza_only_case(dir.path());
    let mut rows = sheet_rows(&input);
    let sars2 = column(&rows, "PCR_SARS2");
    for row in &mut rows {
        row.remove(sars2);
    }
    let without = dir.path().join("sem_pcr_sars2.xlsx");
    write_sheet(&without, &rows);
    let checked = check_file(
        &without,
        &job_with_pcr_default(),
        &dir.path().join("saida"),
        &mut |_| {},
    )
    .expect("outputs");
    assert!(bundles(&checked).is_empty());
    let codes: Vec<&str> = checked
        .file_issues
        .iter()
        .map(|i| i.code.as_str())
        .collect();
    assert_eq!(codes, ["resultado_de_painel"]);
}

/// Regression (issue 12, safety defect 2): the unknown-exam message offered
/// `"HEMOGRAMA, sangue total" = "94309-2"`, which maps a blood count to a
/// SARS-CoV-2 PCR once pasted.
#[test]
fn no_message_proposes_a_code_for_an_unknown_exam() {
    let out = tempfile::tempdir().expect("tempdir");
    let input = harness::samples().join("GrupoFleury_Exames_4.csv");
    let checked = check_file(&input, &harness::job(), out.path(), &mut |_| {}).expect("outputs");
    let unknown: Vec<_> = checked
        .summary
        .issues
        .iter()
        .filter(|i| i.code == "exame_desconhecido")
        .collect();
    assert!(unknown.iter().any(|i| i.value == "HEMOGRAMA, sangue total"));
    for issue in unknown {
        let pasted = format!("\"{}\" =", issue.value);
        assert!(!issue.message.contains(&pasted), "{}", issue.message);
        assert!(!issue.message.contains("94309-2"), "{}", issue.message);
        assert!(
            issue.message.contains("<código LOINC>"),
            "{}",
            issue.message
        );
    }
}

fn csv_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("erros.csv")
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A corrected `erros.csv` dropped again (here: not corrected at all) has
/// its old error columns dropped, never a second set beside the new ones.
#[test]
fn a_redropped_errors_csv_keeps_one_set_of_error_columns() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exames.csv");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = check_file(
        &example,
        &harness::job(),
        &dir.path().join("1"),
        &mut |_| {},
    )
    .expect("outputs");
    let again = dir.path().join("exames.erros.csv");
    std::fs::copy(&first.paths.errors_csv, &again).expect("copied");
    let second =
        check_file(&again, &harness::job(), &dir.path().join("2"), &mut |_| {}).expect("outputs");
    let (before, after) = (
        csv_lines(&first.paths.errors_csv),
        csv_lines(&second.paths.errors_csv),
    );
    assert_eq!(after[0], before[0], "same header, one set of error columns");
    assert_eq!(after[0].matches(ERROR_COLUMNS[2]).count(), 1);
    assert_eq!(second.summary.rows_total, first.summary.rows_invalid);
    assert_eq!(second.summary.columns, first.summary.columns);
}

/// A file that can never be sent: its errors file opens with the sentence
/// saying why (also in the first column), not one line per row; dropped
/// again, that line is recognised as ours and not read as data.
#[test]
fn a_file_level_problem_opens_the_errors_files_and_is_dropped_on_redrop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = harness::fixtures().join("check/missing_result_column/input.csv");
    let first =
        check_file(&input, &harness::job(), &dir.path().join("1"), &mut |_| {}).expect("outputs");
    let lines = csv_lines(&first.paths.errors_csv);
    assert_eq!(lines.len(), 2, "header and the one sentence: {lines:?}");
    // The sentence holds quotes, so the cell is quoted.
    assert!(
        lines[1].starts_with("\"Linha 1 (cabeçalho): nenhuma linha deste arquivo pode ser enviada"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(&format!(";{FILE_NOTE_COLUMN};")),
        "{}",
        lines[1]
    );
    assert!(!lines.iter().any(|l| l.contains("veja")), "{lines:?}");
    assert_eq!(first.summary.rows_invalid, 2);

    let again = dir.path().join("input.erros.csv");
    std::fs::copy(&first.paths.errors_csv, &again).expect("copied");
    let second =
        check_file(&again, &harness::job(), &dir.path().join("2"), &mut |_| {}).expect("outputs");
    assert_eq!(second.summary.rows_total, 0, "our note is not a data row");
    let relines = csv_lines(&second.paths.errors_csv);
    assert_eq!(relines[0], lines[0]);
    assert_eq!(relines.len(), 2, "{relines:?}");
}

/// The same for XLSX: `erros.xlsx` starts with the file's sentence, and
/// reading it back drops our columns and that line.
#[test]
fn erros_xlsx_opens_with_the_file_sentence_and_reads_back_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = harness::samples().join("sivep_gripe.xlsx");
    let first =
        check_file(&input, &harness::job(), &dir.path().join("1"), &mut |_| {}).expect("outputs");
    assert!(!first.file_issues.is_empty(), "no CNS column in the sample");
    let rows = sheet_rows(&first.paths.errors_xlsx);
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(header[header.len() - 3..], ERROR_COLUMNS.map(String::from));
    let first_line: Vec<String> = rows[1].iter().map(text).collect();
    assert!(
        first_line[0].contains("nenhuma linha deste arquivo pode ser enviada"),
        "{first_line:?}"
    );
    assert_eq!(first_line[header.len() - 3], FILE_NOTE_COLUMN);

    let again = dir.path().join("sivep_gripe.erros.xlsx");
    std::fs::copy(&first.paths.errors_xlsx, &again).expect("copied");
    let second =
        check_file(&again, &harness::job(), &dir.path().join("2"), &mut |_| {}).expect("outputs");
    let reheader: Vec<String> = sheet_rows(&second.paths.errors_xlsx)[0]
        .iter()
        .map(text)
        .collect();
    assert_eq!(reheader, header, "one set of error columns");
    assert_eq!(second.summary.columns, first.summary.columns);
}
