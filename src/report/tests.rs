use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};
use serde_json::{json, Value};

use super::*;
use crate::input::{Format, SourceInfo};
use crate::model::{Field, RowIssue};

fn headers() -> Vec<String> {
    [
        "Nº Pedido",
        "CNS Paciente",
        "Data Coleta",
        "Resultado",
        "Observação",
    ]
    .map(String::from)
    .to_vec()
}

fn cells(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn issue(line: u64, column: &str, value: &str, code: &str, message: &str) -> RowIssue {
    RowIssue {
        line,
        column: column.into(),
        value: value.into(),
        code: code.into(),
        message: message.into(),
    }
}

fn bad_cns(line: u64) -> RowIssue {
    issue(
        line,
        "CNS Paciente",
        "123456789012345",
        "cns_invalido",
        "Linha 3, coluna \"CNS Paciente\": o CNS 123456789012345 não é válido (dígito verificador). Corrija o número do cartão.",
    )
}

fn bad_date(line: u64) -> RowIssue {
    issue(
        line,
        "Data Coleta",
        "31/02/2021",
        "data_invalida",
        "Linha 3, coluna \"Data Coleta\": 31/02/2021 não existe. Use dd/mm/aaaa.",
    )
}

/// Files in `dir`, by name.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read_excel_csv(path: &Path) -> (Vec<u8>, Vec<Vec<String>>) {
    let bytes = fs::read(path).expect("read back");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let rows = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.expect("valid CSV").iter().map(String::from).collect())
        .collect();
    (bytes, rows)
}

#[test]
fn errors_csv_is_excel_friendly_and_keeps_the_original_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = ReportPaths::new(dir.path(), "exames_junho");
    let mut errors = ErrorsCsv::create(&paths.errors_csv, &headers()).expect("create");
    errors
        .write_row(
            &cells(&[
                "P-001",
                "123456789012345",
                "31/02/2021",
                "Não detectável",
                "coleta; domiciliar\nsegunda linha",
            ]),
            &[bad_cns(3), bad_date(3)],
        )
        .expect("row");
    // A short row (the export dropped trailing empty cells) and a row-level issue.
    errors
        .write_row(
            &cells(&["P-002", "898001160660761"]),
            &[issue(
                4,
                "",
                "",
                "sem_resultado",
                "Linha 4: falta o resultado.",
            )],
        )
        .expect("row");
    assert_eq!(errors.rows(), 2);
    assert!(!paths.errors_csv.exists(), "nothing visible before commit");
    errors.commit().expect("commit");

    let (bytes, rows) = read_excel_csv(&paths.errors_csv);
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    assert!(text.starts_with(
        "Nº Pedido;CNS Paciente;Data Coleta;Resultado;Observação;erro_coluna;erro_valor;erro_mensagem\r\n"
    ));
    assert!(
        text.contains("\"coleta; domiciliar\nsegunda linha\""),
        "a cell with ; and a newline is quoted: {text}"
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1][..5],
        cells(&[
            "P-001",
            "123456789012345",
            "31/02/2021",
            "Não detectável",
            "coleta; domiciliar\nsegunda linha"
        ])[..]
    );
    assert_eq!(rows[1][5], "CNS Paciente | Data Coleta");
    assert_eq!(rows[1][6], "123456789012345 | 31/02/2021");
    assert_eq!(
        rows[1][7],
        format!("{} | {}", bad_cns(3).message, bad_date(3).message)
    );
    assert_eq!(
        rows[2],
        cells(&[
            "P-002",
            "898001160660761",
            "",
            "",
            "",
            "",
            "",
            "Linha 4: falta o resultado."
        ])
    );
    assert_eq!(listing(dir.path()), ["exames_junho.erros.csv"]);
}

#[test]
fn sent_csv_lists_each_valid_row_with_its_rnds_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ReportPaths::new(dir.path(), "lote").sent_csv;
    let mut sent = SentCsv::create(&path).expect("create");
    let rows = [
        (
            2,
            "P-001",
            Some("eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7"),
            SentStatus::Sent,
        ),
        (3, "P-002", Some("0a1b2c3d-r1"), SentStatus::Replaced),
        (
            4,
            "P-003",
            None,
            SentStatus::AlreadySent {
                sent_at: "03/11/2026 16:42".into(),
            },
        ),
        (
            5,
            "P-004",
            None,
            SentStatus::Rejected("(EHR-ERR924) status deve ser final".into()),
        ),
        (6, "P-005", None, SentStatus::Pending),
    ];
    for (line, id, rnds, status) in &rows {
        sent.write_row(*line, id, *rnds, status, &SentLookup::default())
            .expect("row");
    }
    sent.commit().expect("commit");

    let (bytes, read) = read_excel_csv(&path);
    assert!(bytes.ends_with(b"pendente;;;;\r\n"), "CRLF line ends");
    assert_eq!(
        read[0],
        cells(&[
            "linha",
            "id_exame",
            "id_rnds",
            "situacao",
            "paciente",
            "exame",
            "resultado",
            "data_coleta"
        ])
    );
    let read: Vec<Vec<String>> = read.iter().map(|r| r[..4].to_vec()).collect();
    assert_eq!(
        read[1..],
        [
            cells(&[
                "2",
                "P-001",
                "eb4fc099-e5e2-4895-9d3b-23a6de2d7324-r3x7",
                "enviado"
            ]),
            cells(&["3", "P-002", "0a1b2c3d-r1", "substituído"]),
            cells(&["4", "P-003", "", "já enviado em 03/11/2026 16:42"]),
            cells(&[
                "5",
                "P-004",
                "",
                "rejeitado: (EHR-ERR924) status deve ser final"
            ]),
            cells(&["6", "P-005", "", "pendente"]),
        ]
    );
}

#[test]
fn errors_xlsx_reads_back_with_the_same_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ReportPaths::new(dir.path(), "planilha").errors_xlsx;
    let mut errors = ErrorsXlsx::new(&headers(), Some("Resultados"), &[]).expect("new");
    let row = cells(&[
        "P-001",
        "012345678901234",
        "31/02/2021",
        "Não detectável",
        "coleta; domiciliar\nsegunda linha",
    ]);
    errors
        .write_row(&row, &[bad_cns(3), bad_date(3)])
        .expect("row");
    assert_eq!(errors.rows(), 1);
    errors.save(&path).expect("save");
    assert_eq!(listing(dir.path()), ["planilha.erros.xlsx"]);

    let mut book: Xlsx<_> = open_workbook(&path).expect("calamine opens it");
    assert_eq!(book.sheet_names(), ["Resultados"]);
    let range = book.worksheet_range("Resultados").expect("sheet");
    let text: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => panic!("unexpected cell {other:?}"),
                })
                .collect()
        })
        .collect();
    let mut expected_header = headers();
    expected_header.extend(ERROR_COLUMNS.map(String::from));
    assert_eq!(text[0], expected_header);
    let mut expected_row = row.clone();
    expected_row.extend(issue_cells(&[bad_cns(3), bad_date(3)]));
    assert_eq!(text[1], expected_row, "leading zero and accents intact");
    assert_eq!(text.len(), 2);
}

/// Columns as wide as their text (bounded), so the message is not cut at
/// Excel's default 8.43 characters.
#[test]
fn errors_xlsx_columns_fit_their_text() {
    let mut errors = ErrorsXlsx::new(&headers(), None, &[]).expect("new");
    let row = cells(&[
        "P-001",
        "012345678901234",
        "31/02/2021",
        "Não detectável",
        "",
    ]);
    errors
        .write_row(&row, &[bad_cns(3), bad_date(3)])
        .expect("row");
    let widths = errors.column_widths();
    assert_eq!(widths.len(), headers().len() + ERROR_COLUMNS.len());
    assert_eq!(
        widths[1],
        "012345678901234".len() + 2,
        "CNS column fits its 15 digits"
    );
    assert!(widths[0] >= "Nº Pedido".chars().count(), "{widths:?}");
    let message = *widths.last().expect("message column");
    assert!(message > 40 && message <= 80, "{widths:?}");
}

#[test]
fn errors_xlsx_falls_back_to_a_valid_sheet_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.erros.xlsx");
    let errors = ErrorsXlsx::new(&headers(), Some("Jan/Fev [2021]"), &[]).expect("new");
    errors.save(&path).expect("save");
    let book: Xlsx<_> = open_workbook(&path).expect("open");
    assert_eq!(book.sheet_names(), [DEFAULT_SHEET]);
}

#[test]
fn summary_has_exactly_the_promised_fields() {
    let info = SourceInfo {
        file: "exames_junho.csv".into(),
        format: Format::Csv,
        encoding: Some("windows-1252".into()),
        delimiter: Some(';'),
        sheet: None,
        header_line: 1,
        headers: headers(),
    };
    let mut summary = Summary::for_source(&info, "ab".repeat(32));
    summary.columns = BTreeMap::from([
        (Field::PatientCns, "CNS Paciente".to_string()),
        (Field::LabId, "Nº Pedido".to_string()),
    ]);
    summary.rows_total = 3;
    summary.rows_valid = 2;
    summary.rows_invalid = 1;
    summary.issues = vec![bad_cns(3)];

    let dir = tempfile::tempdir().expect("tempdir");
    let path = ReportPaths::new(dir.path(), "exames_junho").summary;
    summary.write(&path).expect("write");
    let value: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("JSON");
    assert_eq!(
        value,
        json!({
            "file": "exames_junho.csv",
            "sha256": "ab".repeat(32),
            "format": "csv",
            "encoding": "windows-1252",
            "delimiter": ";",
            "sheet": null,
            "header_line": 1,
            "columns": {"lab_id": "Nº Pedido", "patient_cns": "CNS Paciente"},
            "rows_total": 3,
            "rows_valid": 2,
            "rows_invalid": 1,
            "rows_skipped": 0,
            "skipped": [],
            "issues": [{
                "line": 3,
                "column": "CNS Paciente",
                "value": "123456789012345",
                "code": "cns_invalido",
                "message": bad_cns(3).message,
            }],
        })
    );

    summary.rows_sent = Some(1);
    summary.rows_replaced = Some(0);
    summary.rows_already_sent = Some(1);
    summary.rows_rejected = Some(0);
    summary.rows_pending = Some(0);
    let value: Value = serde_json::from_slice(&summary.to_json().expect("json")).expect("JSON");
    for key in [
        "rows_sent",
        "rows_replaced",
        "rows_already_sent",
        "rows_rejected",
        "rows_pending",
    ] {
        assert!(value[key].is_u64(), "{key}");
    }
    assert!(value.get("error").is_none());
}

#[test]
fn summary_of_an_unreadable_file_carries_the_error() {
    let summary = Summary::unreadable(
        "relatorio.pdf",
        "00".repeat(32),
        None,
        "formato não reconhecido: envie um arquivo CSV ou XLSX",
    );
    let value: Value = serde_json::from_slice(&summary.to_json().expect("json")).expect("JSON");
    assert_eq!(value["format"], Value::Null);
    assert_eq!(value["delimiter"], Value::Null);
    assert_eq!(value["rows_total"], 0);
    assert_eq!(
        value["error"],
        "formato não reconhecido: envie um arquivo CSV ou XLSX"
    );
    assert!(value.get("rows_sent").is_none());
}

#[test]
fn atomic_file_dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lote.resumo.json");
    {
        let mut file = AtomicFile::create(&path).expect("create");
        file.write_all(b"{\"parcial\":").expect("write");
        file.flush().expect("flush");
        assert_eq!(
            listing(dir.path()).len(),
            1,
            "only the temp file while writing"
        );
    }
    assert!(listing(dir.path()).is_empty(), "no file and no temp");
}

#[test]
fn atomic_write_replaces_a_previous_version_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lote.resumo.json");
    write_atomic(&path, "versão 1".as_bytes()).expect("first");
    write_atomic(&path, "versão 2, mais longa".as_bytes()).expect("second");
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        "versão 2, mais longa"
    );

    // An abandoned rewrite leaves the committed version untouched.
    let mut file = AtomicFile::create(&path).expect("create");
    file.write_all(b"lixo").expect("write");
    drop(file);
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        "versão 2, mais longa"
    );
    assert_eq!(listing(dir.path()), ["lote.resumo.json"]);
}

#[test]
fn atomic_write_over_a_name_it_cannot_replace_takes_the_next_free_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lote.erros.csv");
    // What an open Excel workbook is on Windows, a non-empty folder is
    // everywhere: a name a rename cannot replace.
    fs::create_dir_all(path.join("x")).expect("folder");
    fs::write(dir.path().join("lote.erros (2).csv"), "antigo").expect("taken too");
    let written = write_atomic(&path, "novo".as_bytes()).expect("written beside");
    assert_eq!(written, dir.path().join("lote.erros (3).csv"));
    assert_eq!(fs::read_to_string(&written).expect("read"), "novo");
    assert_eq!(
        fs::read_to_string(dir.path().join("lote.erros (2).csv")).expect("read"),
        "antigo"
    );
    // A replaceable name is replaced in place, as before.
    let free = dir.path().join("lote.resumo.json");
    assert_eq!(write_atomic(&free, b"1").expect("first"), free);
    assert_eq!(write_atomic(&free, b"2").expect("second"), free);
}

/// Windows only: a report open in Excel (no delete sharing) is not
/// replaced; the new one goes beside it.
#[cfg(windows)]
#[test]
fn a_report_open_in_excel_is_written_beside_it() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lote.erros.csv");
    fs::write(&path, "aberto").expect("first");
    let excel = fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(&path)
        .expect("held open");
    let written = write_atomic(&path, b"novo").expect("written beside");
    assert_eq!(written, dir.path().join("lote.erros (2).csv"));
    drop(excel);
    assert_eq!(fs::read_to_string(&path).expect("read"), "aberto");
}

#[test]
fn atomic_file_reports_a_missing_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nao-existe").join("x.csv");
    assert!(AtomicFile::create(&path).is_err());
    assert!(ErrorsCsv::create(&path, &headers()).is_err());
}

fn sample_summary() -> Summary {
    let info = SourceInfo {
        file: "lote.csv".into(),
        format: Format::Csv,
        encoding: Some("UTF-8".into()),
        delimiter: Some(';'),
        sheet: None,
        header_line: 1,
        headers: headers(),
    };
    let mut summary = Summary::for_source(&info, "cd".repeat(32));
    summary.rows_sent = Some(7);
    summary
}

#[test]
fn issue_log_lists_the_first_of_each_code_and_counts_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ReportPaths::new(dir.path(), "lote").summary;
    let mut summary = sample_summary();
    let mut log = IssueLog::new();
    let total = 2 * EXAMPLES_PER_CODE + 10;
    let all: Vec<RowIssue> = (0..total)
        .map(|i| {
            if i % 2 == 0 {
                bad_cns(i + 2)
            } else {
                bad_date(i + 2)
            }
        })
        .collect();
    for i in &all {
        log.push(i.clone(), &mut summary).expect("push");
    }
    assert_eq!(log.len(), total);
    let listed = 2 * EXAMPLES_PER_CODE as usize;
    assert_eq!(summary.issues[..], all[..listed]);
    log.write_summary(&summary, &path).expect("written");

    let written: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("JSON");
    assert_eq!(written["issues"].as_array().expect("issues").len(), listed);
    assert_eq!(written["issues_left_out"], json!(10));
    let codes = [bad_cns(2).code, bad_date(3).code];
    assert_eq!(
        written["issue_counts"][&codes[0]],
        json!(EXAMPLES_PER_CODE + 5)
    );
    assert_eq!(
        written["issue_counts"][&codes[1]],
        json!(EXAMPLES_PER_CODE + 5)
    );
}

#[test]
fn issue_log_without_issues_writes_an_empty_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ReportPaths::new(dir.path(), "lote").summary;
    let summary = sample_summary();
    IssueLog::new()
        .write_summary(&summary, &path)
        .expect("written");
    let written: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("JSON");
    assert_eq!(written, serde_json::to_value(&summary).expect("value"));
    assert_eq!(written["issues"], json!([]));
    assert_eq!(listing(dir.path()), vec!["lote.resumo.json"]);
}
