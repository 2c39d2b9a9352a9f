//! Issue 19, "a lab's first month", as the lab's staff meet it through the
//! real binary: the fix loop through Excel, what `enviados.csv` says, the
//! day-one wording.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::harness;

fn rnds_drop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `rnds-drop demo --dir <dir>`: the example files through the simulator.
fn demo(dir: &Path) -> Output {
    let out = rnds_drop()
        .args(["demo", "--dir"])
        .arg(dir)
        .output()
        .expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The one report of `stem` ending in `kind` in `outbox`.
fn report(outbox: &Path, stem: &str, kind: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(outbox)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{stem}.")) && name.ends_with(kind)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{stem} *{kind} in {}: {found:?}",
        outbox.display()
    );
    found[0].clone()
}

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

/// Saves `rows` as Excel would after a person edited them: text stays
/// text, dates stay dates (with a date format), numbers stay numbers.
fn save_as_excel_would(path: &Path, rows: &[Vec<Data>]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            let written = match cell {
                Data::Empty => continue,
                Data::Float(f) => sheet.write_number(r, c, *f),
                Data::Int(i) => sheet.write_number(r, c, *i as f64),
                Data::DateTime(d) => {
                    let moment = ExcelDateTime::from_serial_datetime(d.as_f64()).unwrap();
                    sheet.write_datetime_with_format(r, c, &moment, &date)
                }
                other => sheet.write_string(r, c, text(other)),
            };
            written.expect("cell written");
        }
    }
    book.save(path).expect("workbook saved");
}

/// Item 2: a CSV input gets an `erros.xlsx` whose CNS is a text cell and
/// whose dates are real dates; fixed in "Excel" and dropped again, every
/// row passes. `enviados.csv` names each result the way staff look it up.
#[test]
fn the_fix_loop_goes_through_excel_and_enviados_names_each_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    demo(dir.path());
    let outbox = dir.path().join("saida");

    let errors = report(&outbox, "exames", ".erros.xlsx");
    let rows = sheet_rows(&errors);
    let header: Vec<String> = rows[0].iter().map(text).collect();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (cns, collected, result) = (at("Cartão SUS"), at("Data da Coleta"), at("Resultado"));
    assert_eq!(rows.len(), 3, "header and the two invalid rows: {rows:?}");
    assert_eq!(rows[1][cns], Data::String("123456789012345".into()));
    match &rows[1][collected] {
        Data::DateTime(d) => {
            let (y, m, day, h, min, ..) = d.to_ymd_hms_milli();
            assert_eq!((y, m, day, h, min), (2026, 11, 3, 9, 10));
        }
        other => panic!("collection date is not an Excel date: {other:?}"),
    }

    // Staff fix the two rows in Excel and save.
    let mut fixed = rows.clone();
    fixed[1][cns] = Data::String("759010928159013".into());
    fixed[2][result] = Data::String("NAO DETECTADO".into());
    let again = dir.path().join("exames-corrigido.xlsx");
    save_as_excel_would(&again, &fixed);
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(dir.path().join("conferido"))
        .arg(&again)
        .output()
        .expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let sent = std::fs::read_to_string(report(&outbox, "exames", ".enviados.csv")).unwrap();
    let lines: Vec<&str> = sent.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "linha;id_exame;id_rnds;situacao;paciente;exame;resultado;data_coleta"
    );
    let maria = lines
        .iter()
        .find(|l| l.contains("2026-000101"))
        .expect("MARIA's row");
    assert!(
        maria.ends_with(";enviado;MARIA DA SILVA;94309-2;Não detectável;03/11/2026 08:15"),
        "{maria}"
    );
}

/// `rnds-drop check --config <config> --out <out> <input>`; its exit code
/// and the `resumo.json` it wrote.
fn check(config: &Path, out: &Path, input: &Path) -> (Option<i32>, serde_json::Value, String) {
    let run = rnds_drop()
        .args(["check", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg(input)
        .output()
        .expect("binary runs");
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    let summary = std::fs::read(out.join(format!("{stem}.resumo.json"))).expect("resumo.json");
    (
        run.status.code(),
        serde_json::from_slice(&summary).expect("JSON"),
        stdout(&run),
    )
}

/// The test lab plus the `[[inbox]]` of a layout fixture case, and `extra`.
fn layout_config(dir: &Path, case: &str, extra: &str) -> PathBuf {
    let fixtures = harness::fixtures();
    let text = format!(
        "{}\n{}\n{extra}",
        std::fs::read_to_string(fixtures.join("lab.toml")).unwrap(),
        std::fs::read_to_string(fixtures.join("layouts").join(case).join("inbox.toml")).unwrap()
    );
    let path = dir.join(format!("{case}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Item 8: a GAL batch export without the preset's optional columns
/// (`valorReferencia`, `observacao`) maps exactly as the full one; a
/// configured column the file lacks lists the file's own headers.
#[test]
fn a_preset_maps_an_export_that_lacks_its_optional_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = harness::fixtures().join("layouts/gal_lote/input.csv");
    let text = std::fs::read_to_string(&full).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let dropped: Vec<usize> = ["valorReferencia", "observacao"]
        .iter()
        .map(|name| header.iter().position(|h| h == name).unwrap())
        .collect();
    let mut lean = String::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .split(',')
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, c)| c)
            .collect();
        lean.push_str(&cells.join(","));
        lean.push('\n');
    }
    let lean_path = dir.path().join("lote_sem_opcionais.csv");
    std::fs::write(&lean_path, lean).unwrap();

    let config = layout_config(dir.path(), "gal_lote", "");
    let (full_code, full_summary, _) = check(&config, &dir.path().join("1"), &full);
    let (code, summary, out) = check(&config, &dir.path().join("2"), &lean_path);
    assert_eq!(code, full_code, "{out}");
    assert!(summary["rows_valid"].as_u64().unwrap() > 0, "{summary}");
    for key in ["rows_valid", "rows_invalid", "rows_skipped"] {
        assert_eq!(summary[key], full_summary[key], "{key}: {summary}");
    }

    // A column the lab itself names is still required, and the message
    // lists the file's headers, once each, not the layout's inner names.
    let config = layout_config(dir.path(), "gal_lote", "");
    let own = std::fs::read_to_string(&config)
        .unwrap()
        .replace("patient_cns = \"cns\"", "patient_cns = \"cartao_sus\"");
    std::fs::write(&config, own).unwrap();
    let (_, summary, _) = check(&config, &dir.path().join("3"), &lean_path);
    let message = summary["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "coluna_configurada_ausente")
        .unwrap_or_else(|| panic!("{summary}"))["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = message.split("Colunas do arquivo: ").nth(1).unwrap();
    assert!(!listed.contains("(exam_code)"), "{message}");
    assert_eq!(listed.matches("\"codigoAmostra\"").count(), 1, "{message}");
    assert!(listed.contains("\"coronavirusncov\""), "{message}");
}
