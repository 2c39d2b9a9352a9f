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
