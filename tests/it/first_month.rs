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
