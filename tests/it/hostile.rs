//! The hostile set through the real binary: every file gets `check` a
//! report with a pt-BR reason and exit 1 or 2, never 5 and never a panic.
//! Small cases live in `tests/fixtures/hostile/<case>/` (`input.*` and
//! `expect.json`: exit code and a piece of the reason); big ones are
//! generated here, at test time.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness;

struct Case {
    name: String,
    input: PathBuf,
    exit: i32,
    reason: String,
}

/// Runs `check` on the case; returns the summary and the errors file text.
fn check(case: &Case, out: &Path) -> (Value, String) {
    let result = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(out)
        .arg(&case.input)
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
    assert_eq!(
        result.status.code(),
        Some(case.exit),
        "{}: {stderr}",
        case.name
    );
    let stem = case.input.file_stem().unwrap().to_string_lossy();
    let summary = std::fs::read(out.join(format!("{stem}.resumo.json")))
        .unwrap_or_else(|e| panic!("{}: no resumo.json ({e})", case.name));
    let errors = std::fs::read_to_string(out.join(format!("{stem}.erros.csv"))).unwrap_or_default();
    (serde_json::from_slice(&summary).unwrap(), errors)
}

/// Every text staff read in the summary: the file's reason and the issues.
fn reasons(summary: &Value) -> String {
    let mut text = summary["error"].as_str().unwrap_or_default().to_owned();
    for issue in summary["issues"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(issue["message"].as_str().unwrap_or_default());
    }
    text
}

fn assert_case(case: &Case) {
    let out = tempfile::tempdir().unwrap();
    let (summary, errors) = check(case, out.path());
    let reasons = reasons(&summary);
    assert!(
        reasons.contains(&case.reason),
        "{}: {:?} not in {reasons}",
        case.name,
        case.reason
    );
    // What staff open in Excel never starts a cell with a formula.
    for line in errors.lines() {
        assert!(
            !line.starts_with('=') && !line.contains(";="),
            "{}: {line}",
            case.name
        );
    }
}

fn fixture_cases() -> Vec<Case> {
    let root = harness::fixtures().join("hostile");
    let mut cases: Vec<Case> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let input = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_stem().is_some_and(|s| s == "input"))
                .unwrap_or_else(|| panic!("{} has no input.*", dir.display()));
            let expect: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expect.json")).unwrap()).unwrap();
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                input,
                exit: expect["exit"].as_i64().unwrap() as i32,
                reason: expect["reason"].as_str().unwrap().to_owned(),
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

#[test]
fn every_small_hostile_file_gets_a_report_with_its_reason() {
    let cases = fixture_cases();
    assert!(cases.len() >= 8, "hostile fixtures missing");
    for case in &cases {
        assert_case(case);
    }
}

const HEADER: &str = "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia";
const ROW: &str = "P-1;Ana;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;Swab nasofaríngeo;RT-PCR";

#[test]
fn generated_hostile_files_get_a_report_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut huge_line = format!("{HEADER}\n{ROW}\nP-2;").into_bytes();
    huge_line.resize(huge_line.len() + (3 << 20), b'x');
    huge_line.extend_from_slice(format!("\n{}\n", ROW.replace("P-1", "P-3")).as_bytes());
    let mut open_quote = format!("{HEADER}\n{ROW}\nP-2;\"Bia\n");
    while open_quote.len() < 9 << 20 {
        open_quote.push_str(ROW);
        open_quote.push('\n');
    }
    let mut truncated = {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        for (column, header) in HEADER.split(';').enumerate() {
            sheet.write_string(0, column as u16, header).unwrap();
        }
        for (column, cell) in ROW.split(';').enumerate() {
            sheet.write_string(1, column as u16, cell).unwrap();
        }
        workbook.save_to_buffer().unwrap()
    };
    truncated.truncate(truncated.len() * 2 / 3);
    let cases = [
        Case {
            name: "huge_line".into(),
            input: write("linha_enorme.csv", &huge_line),
            exit: 1,
            reason: "Linha 3: a linha tem 3145732 bytes, mais que o limite de 1 MB por linha"
                .into(),
        },
        Case {
            name: "open_quote_9mb".into(),
            input: write("aspas.csv", open_quote.as_bytes()),
            exit: 2,
            reason: "a linha 3 abre aspas (\") que não se fecham".into(),
        },
        Case {
            name: "truncated_xlsx".into(),
            input: write("cortada.xlsx", &truncated),
            exit: 2,
            reason: "corrompid".into(),
        },
    ];
    for case in &cases {
        assert_case(case);
    }
}

const WORKBOOK_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Plan1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// A workbook written by hand (deflated, as Excel writes them): the
/// header and one good row as inline strings, then `extra` sheet XML, and
/// `shared_strings` as `xl/sharedStrings.xml` when given.
fn hand_made_xlsx(extra: &str, shared_strings: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let row = |number: usize, texts: &str| {
        let mut cells = String::new();
        for (column, text) in texts.split(';').enumerate() {
            let letter = char::from(b'A' + column as u8);
            cells.push_str(&format!(
                r#"<c r="{letter}{number}" t="inlineStr"><is><t>{text}</t></is></c>"#
            ));
        }
        format!(r#"<row r="{number}">{cells}</row>"#)
    };
    let sheet = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{}{}{extra}</sheetData></worksheet>"#,
        row(1, HEADER),
        row(2, ROW),
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut part = |name: &str, bytes: &[u8]| {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    };
    part("xl/workbook.xml", WORKBOOK_XML.as_bytes());
    part("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes());
    part("xl/worksheets/sheet1.xml", sheet.as_bytes());
    if let Some(strings) = shared_strings {
        part("xl/sharedStrings.xml", strings);
    }
    zip.finish().unwrap().into_inner()
}

/// Makes the zip's local header and directory say `part` inflates to
/// `declared` bytes (what an attacker's zip does; the data stays as is).
fn lie_about_size(zip: &mut [u8], part: &str, declared: u32) {
    let le16 = |zip: &[u8], at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (size_at, name_at, name_len) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (at + 22, at + 30, le16(zip, at + 26)),
            b"PK\x01\x02" => (at + 24, at + 46, le16(zip, at + 28)),
            _ => continue,
        };
        if zip.get(name_at..name_at + name_len) == Some(part.as_bytes()) {
            zip[size_at..size_at + 4].copy_from_slice(&declared.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local header and directory entry of {part}");
}

#[test]
fn xlsx_caps_hold_on_the_inflated_bytes_and_on_one_cell_while_read() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    // 70 MB of shared strings (past the 64 MB cap) declared as 1,000 bytes.
    let item = "<si><t>x</t></si>";
    let count = (70 << 20) / item.len();
    let mut strings = format!(
        r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" uniqueCount="{count}">"#
    );
    strings.push_str(&item.repeat(count));
    strings.push_str("</sst>");
    let mut lying = hand_made_xlsx("", Some(strings.as_bytes()));
    lie_about_size(&mut lying, "xl/sharedStrings.xml", 1000);
    // One inline cell of 2 MB: refused before calamine builds its text.
    let long_cell = format!(
        r#"<row r="3"><c r="A3" t="inlineStr"><is><t>{}</t></is></c></row>"#,
        "x".repeat(2 << 20)
    );
    let cases = [
        Case {
            name: "lying_zip_directory".into(),
            input: write("diretorio_mentiroso.xlsx", &lying),
            exit: 2,
            reason: "(xl/sharedStrings.xml) tem mais de 64 MB de dados descompactados".into(),
        },
        Case {
            name: "huge_inline_cell".into(),
            input: write("celula_enorme.xlsx", &hand_made_xlsx(&long_cell, None)),
            exit: 2,
            reason: "com mais de 1 MB de texto; o Excel não grava células tão longas".into(),
        },
    ];
    for case in &cases {
        assert_case(case);
    }
}

/// `check` on `input` into `out`; returns the exit code.
fn check_into(input: &Path, out: &Path) -> i32 {
    let result = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(out)
        .arg(input)
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    result.status.code().unwrap()
}

fn summary_of(out: &Path, stem: &str) -> Value {
    let path = out.join(format!("{stem}.resumo.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_file_of_garbage_rows_is_one_file_problem_not_a_million_row_problems() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lixo.csv");
    std::fs::write(&input, format!("{HEADER}\n{}", "x;\n".repeat(5000))).unwrap();
    let out = dir.path().join("saida");
    assert_eq!(check_into(&input, &out), 2);
    let summary = summary_of(&out, "lixo");
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("das primeiras 1000 linhas de dados, 1000 têm problema"),
        "{summary}"
    );
    assert_eq!(summary["issues"], serde_json::json!([]));
    assert!(!out.join("lixo.erros.csv").exists());
}

#[test]
fn a_long_list_of_bad_rows_is_cut_with_a_closing_line_the_fix_loop_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let bad_rows = 10_050;
    let mut file = format!("{HEADER}\n");
    for n in 0..bad_rows {
        // Half the rows are valid: not a garbage file, just many errors.
        file.push_str(&ROW.replace("P-1", &format!("P-{n}")));
        file.push('\n');
        let bad = ROW.replace("P-1", &format!("Q-{n}"));
        file.push_str(&bad.replace("759010928159013", "123"));
        file.push('\n');
    }
    let input = dir.path().join("lote.csv");
    std::fs::write(&input, file).unwrap();
    let out = dir.path().join("saida");
    assert_eq!(check_into(&input, &out), 1);

    let summary = summary_of(&out, "lote");
    assert_eq!(summary["rows_invalid"], bad_rows);
    let listed = summary["issues"].as_array().unwrap().len() as u64;
    assert!(listed <= 50, "{listed} issues listed");
    assert_eq!(
        summary["issues_left_out"].as_u64().unwrap() + listed,
        bad_rows
    );
    let errors = std::fs::read_to_string(out.join("lote.erros.csv")).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines.len(),
        1 + 10_000 + 1,
        "header, the cap, the closing line"
    );
    let last = lines.last().unwrap();
    assert!(
        last.contains("Mais 50 linhas com problema não foram listadas")
            && last.contains("(arquivo)"),
        "{last}"
    );

    // The lab fixes the listed rows and drops the errors file back: the
    // closing line is ours, not a row.
    let fixed = dir.path().join("lote_corrigido.csv");
    std::fs::write(&fixed, errors.replace(";123;", ";759010928159013;")).unwrap();
    let again = dir.path().join("de_novo");
    assert_eq!(check_into(&fixed, &again), 0);
    let summary = summary_of(&again, "lote_corrigido");
    assert_eq!(summary["rows_total"], 10_000);
    assert_eq!(summary["rows_valid"], 10_000);
}
