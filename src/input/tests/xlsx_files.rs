//! XLSX workbooks generated at test time with rust_xlsxwriter.

use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Formula, Workbook};

use super::all_rows;
use crate::input::{open, open_bytes, Format, InputError, ReadOptions, Row, Table};

fn read(bytes: Vec<u8>, options: &ReadOptions) -> Result<Table, InputError> {
    open_bytes("resultados.xlsx", bytes, options)
}

fn texts(row: &Row) -> Vec<&str> {
    row.cells.iter().map(String::as_str).collect()
}

/// A sheet typed by lab staff: title, blank row, header, numbers stored as
/// numbers, dates, a formula, a blank row inside the data and a total row.
pub(super) fn staff_workbook() -> Vec<u8> {
    let mut workbook = Workbook::new();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    let moment = CellFormat::new().set_num_format("dd/mm/yyyy hh:mm");
    let sheet = workbook.add_worksheet();
    sheet.set_name("Resultados").unwrap();
    sheet
        .write_string(0, 0, "Laboratório X - Resultados COVID")
        .unwrap();
    let headers = [
        "Paciente",
        "CNS",
        "Data da coleta",
        "Liberação",
        "Ct",
        "Resultado",
        "Total de alvos",
        "Serial",
        "Conferido",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string(2, column as u16, *header).unwrap();
    }
    sheet.write_string(3, 0, " Ana Souza ").unwrap();
    sheet.write_number(3, 1, 700_512_345_678_901.0).unwrap();
    sheet
        .write_datetime_with_format(3, 2, ExcelDateTime::from_ymd(2021, 6, 8).unwrap(), &date)
        .unwrap();
    let released = ExcelDateTime::from_ymd(2021, 6, 8)
        .unwrap()
        .and_hms(9, 23, 0)
        .unwrap();
    sheet
        .write_datetime_with_format(3, 3, released, &moment)
        .unwrap();
    sheet.write_number(3, 4, 38.5).unwrap();
    sheet.write_string(3, 5, "Detectável").unwrap();
    sheet
        .write_formula(3, 6, Formula::new("=1+2").set_result("3"))
        .unwrap();
    sheet.write_number(3, 7, 44355.0).unwrap();
    sheet.write_boolean(3, 8, true).unwrap();
    sheet.write_string(5, 0, "Bruno Lima").unwrap();
    sheet.write_number(5, 1, 898_001_160_660_004.0).unwrap();
    sheet
        .write_formula(5, 4, Formula::new("=NA()").set_result("#N/A"))
        .unwrap();
    sheet.write_string(5, 5, "Não detectável").unwrap();
    sheet.write_boolean(5, 8, false).unwrap();
    sheet.write_string(6, 0, "TOTAL:").unwrap();
    sheet.write_number(6, 6, 2.0).unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn staff_sheet_reads_with_exact_rows_and_texts() {
    let table = read(staff_workbook(), &ReadOptions::default()).unwrap();
    assert_eq!(table.info.format, Format::Xlsx);
    assert_eq!(table.info.sheet.as_deref(), Some("Resultados"));
    assert_eq!(table.info.encoding, None);
    assert_eq!(table.info.header_line, 3);
    assert_eq!(
        table.info.headers,
        [
            "Paciente",
            "CNS",
            "Data da coleta",
            "Liberação",
            "Ct",
            "Resultado",
            "Total de alvos",
            "Serial",
            "Conferido"
        ]
    );
    let rows = all_rows(table);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].line, 4);
    assert_eq!(
        texts(&rows[0]),
        [
            "Ana Souza",
            "700512345678901",
            "2021-06-08",
            "2021-06-08 09:23:00",
            "38.5",
            "Detectável",
            "3",
            "44355",
            "VERDADEIRO"
        ]
    );
    assert_eq!(rows[1].line, 6);
    assert_eq!(
        texts(&rows[1]),
        [
            "Bruno Lima",
            "898001160660004",
            "",
            "",
            "",
            "Não detectável",
            "",
            "",
            "FALSO"
        ]
    );
}

#[test]
fn two_row_merged_header_is_combined() {
    let mut workbook = Workbook::new();
    let plain = CellFormat::new();
    let sheet = workbook.add_worksheet();
    sheet.merge_range(0, 0, 1, 0, "Amostra", &plain).unwrap();
    sheet.merge_range(0, 1, 0, 2, "FAM", &plain).unwrap();
    sheet.write_string(1, 1, "E gene").unwrap();
    sheet.write_string(1, 2, "C(t)").unwrap();
    sheet.write_string(0, 3, "Interpretação").unwrap();
    sheet.write_string(2, 0, "A01").unwrap();
    sheet.write_string(2, 1, "+").unwrap();
    sheet.write_number(2, 2, 21.13).unwrap();
    sheet.write_string(2, 3, "Positivo").unwrap();
    let table = read(workbook.save_to_buffer().unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(table.info.header_line, 1);
    assert_eq!(
        table.info.headers,
        ["Amostra", "FAM E gene", "FAM C(t)", "Interpretação"]
    );
    let rows = all_rows(table);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].line, 3);
    assert_eq!(texts(&rows[0]), ["A01", "+", "21.13", "Positivo"]);
}

fn two_sheet_workbook() -> Vec<u8> {
    let mut workbook = Workbook::new();
    workbook.add_worksheet().set_name("Capa").unwrap();
    let data = workbook.add_worksheet();
    data.set_name("Dados").unwrap();
    data.write_string(0, 0, "amostra").unwrap();
    data.write_string(0, 1, "resultado").unwrap();
    data.write_number(1, 0, 1001.0).unwrap();
    data.write_string(1, 1, "Positivo").unwrap();
    let other = workbook.add_worksheet();
    other.set_name("Controles").unwrap();
    other.write_string(0, 0, "controle").unwrap();
    other.write_string(0, 1, "situação").unwrap();
    other.write_string(1, 0, "PC").unwrap();
    other.write_string(1, 1, "válido").unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn first_sheet_with_data_or_the_chosen_one() {
    let table = read(two_sheet_workbook(), &ReadOptions::default()).unwrap();
    assert_eq!(table.info.sheet.as_deref(), Some("Dados"));
    assert_eq!(texts(&all_rows(table)[0]), ["1001", "Positivo"]);

    let chosen = ReadOptions {
        sheet: Some("Controles".into()),
        ..ReadOptions::default()
    };
    let table = read(two_sheet_workbook(), &chosen).unwrap();
    assert_eq!(table.info.headers, ["controle", "situação"]);

    let missing = ReadOptions {
        sheet: Some("Plan9".into()),
        ..ReadOptions::default()
    };
    let error = read(two_sheet_workbook(), &missing).err().unwrap();
    assert!(
        error.to_string().contains("\"Plan9\" não existe"),
        "{error}"
    );
    assert!(
        error.to_string().contains("Capa, Dados, Controles"),
        "{error}"
    );
}

#[test]
fn unreadable_workbooks_are_clear_errors() {
    let mut empty = Workbook::new();
    empty.add_worksheet();
    let error = read(empty.save_to_buffer().unwrap(), &ReadOptions::default())
        .err()
        .unwrap();
    assert!(error.to_string().contains("nenhuma aba"), "{error}");

    let mut truncated = staff_workbook();
    truncated.truncate(truncated.len() / 2);
    let error = read(truncated, &ReadOptions::default()).err().unwrap();
    assert!(matches!(error, InputError::Xlsx(_)), "{error}");
    // calamine's "Zip error: ... Could not find EOCD" stays out of it.
    let text = error.to_string();
    assert!(text.contains("corrompido (incompleto"), "{text}");
    assert!(!text.contains("Zip") && !text.contains("EOCD"), "{text}");

    // Encrypted workbooks are Compound File Binary containers, not zips.
    let mut protected = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    protected.resize(4096, 0);
    let error = read(protected, &ReadOptions::default()).err().unwrap();
    assert!(error.to_string().contains("protegida por senha"), "{error}");

    let error = read(
        b"amostra;resultado\n1;2\n".to_vec(),
        &ReadOptions::default(),
    )
    .err()
    .unwrap();
    assert!(
        error.to_string().contains("não é uma planilha XLSX"),
        "{error}"
    );
}

#[test]
fn opens_a_workbook_from_disk() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("lote.xlsx");
    std::fs::write(&path, staff_workbook()).unwrap();
    let table = open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(table.info.file, "lote.xlsx");
    assert_eq!(table.info.header_line, 3);
    assert_eq!(table.rows.count(), 2);
}
