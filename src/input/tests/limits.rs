//! What the reader does with hostile or odd input: Excel's stored
//! date-times, lines and cells past the caps, quotes never closed, sheets
//! past Excel's limits and workbooks that would inflate to gigabytes.

use std::io::Write;

use rust_xlsxwriter::{Format as CellFormat, Workbook};

use super::{all_rows, csv_bytes};
use crate::input::{open_bytes, InputError, ReadNote, ReadOptions, MAX_CELL_CHARS, MAX_LINE_BYTES};

fn read_xlsx(bytes: Vec<u8>) -> Result<crate::input::Table, InputError> {
    open_bytes("planilha.xlsx", bytes, &ReadOptions::default())
}

/// The error of a file that fails, at open or while its rows are read.
fn first_error(table: Result<crate::input::Table, InputError>) -> InputError {
    match table {
        Err(error) => error,
        Ok(table) => table
            .rows
            .filter_map(Result::err)
            .next()
            .expect("the file should fail"),
    }
}

#[test]
fn typed_date_times_read_as_the_exact_second() {
    // `25/10/2021 13:00` typed in Excel is stored as 44494.54166666666,
    // which calamine splits into 12:59:59.999.
    let mut workbook = Workbook::new();
    let moment = CellFormat::new().set_num_format("dd/mm/yyyy hh:mm");
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "Paciente").unwrap();
    sheet.write_string(0, 1, "Data da coleta").unwrap();
    sheet.write_string(1, 0, "Ana").unwrap();
    sheet
        .write_number_with_format(1, 1, 44_494.541_666_666_66, &moment)
        .unwrap();
    sheet.write_string(2, 0, "Bia").unwrap();
    sheet
        .write_number_with_format(2, 1, 44494.5, &moment)
        .unwrap();
    let rows = all_rows(read_xlsx(workbook.save_to_buffer().unwrap()).unwrap());
    assert_eq!(rows[0].cells, ["Ana", "2021-10-25 13:00:00"]);
    // What versions before the fix read is kept, for the lab id they derived.
    assert_eq!(
        rows[0].notes,
        [ReadNote::LegacyText {
            column: 1,
            text: "2021-10-25 12:59:59".into()
        }]
    );
    assert_eq!(rows[1].cells, ["Bia", "2021-10-25 12:00:00"]);
    assert!(rows[1].notes.is_empty());
}

#[test]
fn a_huge_line_is_cut_and_noted_and_the_next_rows_read() {
    let mut file = b"Paciente;CNS;Resultado\nAna;700512345678901;Detect\xC3\xA1vel\n".to_vec();
    file.extend_from_slice(b"Bia;");
    file.resize(file.len() + MAX_LINE_BYTES * 2, b'x');
    file.extend_from_slice(b"\nCaio;898001160660004;Negativo\n");
    let rows = all_rows(csv_bytes(&file));
    assert_eq!(rows.len(), 3);
    assert!(!rows[0].is_cut());
    assert_eq!(rows[1].line, 3);
    assert!(rows[1].is_cut());
    assert!(rows[1]
        .notes
        .iter()
        .any(|n| matches!(n, ReadNote::LineTooLong { bytes } if *bytes == (4 + MAX_LINE_BYTES * 2) as u64)));
    assert!(rows[1].cells.iter().all(|c| c.len() <= MAX_CELL_CHARS));
    assert_eq!(rows[2].line, 4);
    assert_eq!(rows[2].cells, ["Caio", "898001160660004", "Negativo"]);
}

#[test]
fn a_cell_longer_than_excel_allows_is_cut_and_noted() {
    let long = "é".repeat(MAX_CELL_CHARS + 1);
    let file = format!("Paciente;Observação\nAna;{long}\nBia;ok\n");
    let rows = all_rows(csv_bytes(file.as_bytes()));
    assert_eq!(rows[0].cells[1].chars().count(), MAX_CELL_CHARS);
    assert_eq!(
        rows[0].notes,
        [ReadNote::CellTooLong {
            column: 1,
            chars: MAX_CELL_CHARS + 1,
            last_line: 2
        }]
    );
    assert!(!rows[1].is_cut());
}

#[test]
fn a_quote_left_open_over_many_megabytes_stops_the_file_with_its_line() {
    let mut file = String::from("Paciente;Resultado\nAna;Negativo\nBia;\"Positivo\n");
    let row = "Caio;Negativo\n";
    while file.len() < 9 << 20 {
        file.push_str(row);
    }
    // Within the first rows the open itself fails; later, the row stream.
    let error = first_error(open_bytes(
        "teste.csv",
        file.into_bytes(),
        &ReadOptions::default(),
    ));
    let text = error.to_string();
    assert!(text.contains("linha 3 abre aspas"), "{text}");
    assert!(matches!(error, InputError::Csv { line: 3, .. }));
}

#[test]
fn our_errors_file_comes_back_without_the_formula_guard() {
    let file = "Paciente;Obs;erro_coluna;erro_valor;erro_mensagem\n\
                Ana;'=1+1;Obs;'=1+1;x\n\
                Bia;''=2;Obs;;x\n\
                Caio;'-3;;;x\n";
    let rows = all_rows(csv_bytes(file.as_bytes()));
    assert_eq!(rows[0].cells[1], "=1+1");
    assert_eq!(rows[1].cells[1], "'=2");
    // Not a quote we add: left as typed.
    assert_eq!(rows[2].cells[1], "'-3");
    // Any other file keeps its quotes.
    let other = all_rows(csv_bytes(b"Paciente;Obs\nAna;'=1+1\n"));
    assert_eq!(other[0].cells[1], "'=1+1");
}

/// A workbook written by hand, for what rust_xlsxwriter refuses to write.
fn hand_made_xlsx(sheet_xml: &str, shared_strings: Option<&[u8]>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut part = |name: &str, bytes: &[u8]| {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    };
    part(
        "xl/workbook.xml",
        br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Plan1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
    );
    part(
        "xl/_rels/workbook.xml.rels",
        br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
    );
    part("xl/worksheets/sheet1.xml", sheet_xml.as_bytes());
    if let Some(strings) = shared_strings {
        part("xl/sharedStrings.xml", strings);
    }
    zip.finish().unwrap().into_inner()
}

fn inline(cell: &str, text: &str) -> String {
    format!(r#"<c r="{cell}" t="inlineStr"><is><t>{text}</t></is></c>"#)
}

#[test]
fn hand_made_workbooks_read_like_excel_ones() {
    let sheet = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">{}{}</row><row r="2">{}{}</row></sheetData></worksheet>"#,
        inline("A1", "Paciente"),
        inline("B1", "CNS"),
        inline("A2", "Ana"),
        inline("B2", "700512345678901"),
    );
    let rows = all_rows(read_xlsx(hand_made_xlsx(&sheet, None)).unwrap());
    assert_eq!(rows[0].cells, ["Ana", "700512345678901"]);
}

#[test]
fn rows_past_excels_last_row_stop_the_file() {
    let sheet = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">{}{}</row><row r="2">{}</row><row r="1048577">{}</row></sheetData></worksheet>"#,
        inline("A1", "Paciente"),
        inline("B1", "CNS"),
        inline("A2", "Ana"),
        inline("A1048577", "Bia"),
    );
    let error = first_error(read_xlsx(hand_made_xlsx(&sheet, None))).to_string();
    assert!(error.contains("limite do Excel"), "{error}");
}

#[test]
fn a_part_that_would_inflate_past_the_limit_is_refused_before_reading() {
    let sheet = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">{}</row></sheetData></worksheet>"#,
        inline("A1", "Paciente"),
    );
    let mut strings =
        br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#.to_vec();
    strings.resize((65 << 20) as usize, b' ');
    strings.extend_from_slice(b"</sst>");
    let error = read_xlsx(hand_made_xlsx(&sheet, Some(&strings)))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("xl/sharedStrings.xml"), "{error}");
    assert!(error.contains("mais que o limite de 64 MB"), "{error}");
}
