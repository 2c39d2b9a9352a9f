//! CSV layouts: encodings, delimiters, line endings, quoting, odd rows and
//! files that cannot be read.

use super::{all_rows, csv_bytes, fixture};
use crate::input::{open_bytes, Format, InputError, ReadNote, ReadOptions, Row};

fn row(line: u64, cells: &[&str]) -> Row {
    Row::new(line, cells.iter().map(|cell| (*cell).to_owned()).collect())
}

#[test]
fn windows_1252_with_semicolons_and_crlf() {
    let table = fixture("cp1252_semicolon_crlf.csv");
    assert_eq!(table.info.format, Format::Csv);
    assert_eq!(table.info.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(table.info.delimiter, Some(';'));
    assert_eq!(table.info.header_line, 1);
    assert_eq!(
        table.info.headers,
        ["Paciente", "Cartão SUS", "Resultado", "Data da coleta"]
    );
    assert_eq!(
        all_rows(table),
        [
            row(
                2,
                &[
                    "José da Conceição",
                    "700512345678901",
                    "Não detectável",
                    "08/06/2021"
                ]
            ),
            row(
                4,
                &[
                    "Maria Antônia",
                    "898001160660004",
                    "Detectável",
                    "09/06/2021"
                ]
            ),
        ]
    );
}

#[test]
fn utf8_with_bom_and_a_quoted_comma() {
    let table = fixture("utf8_bom_comma.csv");
    assert_eq!(table.info.encoding.as_deref(), Some("UTF-8 (BOM)"));
    assert_eq!(table.info.delimiter, Some(','));
    assert_eq!(table.info.headers, ["Paciente", "CNS", "Resultado"]);
    assert_eq!(
        all_rows(table),
        [row(
            2,
            &["Conceição", "700512345678901", "Não detectável, repetir"]
        )]
    );
}

#[test]
fn pipe_delimiter_with_trailing_blank_line() {
    let table = fixture("pipe_trailing_blank.csv");
    assert_eq!(table.info.encoding.as_deref(), Some("UTF-8"));
    assert_eq!(table.info.delimiter, Some('|'));
    let rows = all_rows(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1],
        row(3, &["A2", "Covid 19, Material", "Swab de nasofaringe"])
    );
}

#[test]
fn tab_delimiter() {
    let table = fixture("tab_delimited.csv");
    assert_eq!(table.info.delimiter, Some('\t'));
    assert_eq!(table.info.headers, ["amostra", "paciente", "resultado"]);
    assert_eq!(
        all_rows(table)[1],
        row(3, &["1002", "Bruno Lima", "Negativo"])
    );
}

#[test]
fn quoted_newline_keeps_following_line_numbers() {
    let table = fixture("quoted_newline.csv");
    assert_eq!(
        all_rows(table),
        [
            row(
                2,
                &["1001", "coleta repetida\nna segunda-feira", "Detectável"]
            ),
            row(4, &["1002", "\"sem\" observação", "Não detectável"]),
            row(5, &["1003", "", "Inconclusivo"]),
        ]
    );
}

#[test]
fn title_rows_total_row_and_ragged_rows() {
    let table = fixture("title_total_ragged.csv");
    assert_eq!(table.info.header_line, 3);
    assert_eq!(
        table.info.headers,
        ["Amostra", "Paciente", "Resultado", "Ct"]
    );
    assert_eq!(
        all_rows(table),
        [
            row(4, &["1", "Ana", "Detectável", "23,5"]),
            // Ragged: its missing cell is noted (no default may fill it).
            Row {
                notes: vec![ReadNote::ShortRow { cells: 3, width: 4 }],
                ..row(5, &["2", "Bruno", "Não detectável", ""])
            },
            row(6, &["3", "Carla", "Detectável", "30,1"]),
        ]
    );
}

#[test]
fn crlf_blank_rows_and_trailing_blank_lines_keep_line_numbers() {
    let table = csv_bytes(b"\r\n\r\na;b\r\n1;2\r\n\r\n;\r\n3;4\r\n\r\n\r\n");
    assert_eq!(table.info.header_line, 3);
    assert_eq!(all_rows(table), [row(4, &["1", "2"]), row(7, &["3", "4"])]);
}

#[test]
fn latin1_stray_ff_and_control_bytes_are_repaired() {
    let bytes =
        b"\xFFid;tipo;valor\n1;Eletroquimioluminesc\xEAncia \x13 ECLIA;\xA0Negativo\x01\xA0\n"
            .to_vec();
    let table = csv_bytes(&bytes);
    assert_eq!(table.info.headers, ["id", "tipo", "valor"]);
    assert_eq!(
        all_rows(table),
        [row(
            2,
            &["1", "Eletroquimioluminescência – ECLIA", "Negativo"]
        )]
    );
}

#[test]
fn utf8_nbsp_inside_a_value_becomes_a_space() {
    let table = csv_bytes("a;b\n1;Não\u{a0}detectável\n".as_bytes());
    assert_eq!(all_rows(table), [row(2, &["1", "Não detectável"])]);
}

#[test]
fn header_only_file_has_no_rows() {
    let table = csv_bytes(b"amostra;resultado\n");
    assert_eq!(table.info.headers, ["amostra", "resultado"]);
    assert_eq!(all_rows(table), []);
}

#[test]
fn streams_a_file_larger_than_the_sniffed_prefix() {
    let mut text = String::from("amostra;resultado\n");
    for number in 0..20_000 {
        text.push_str(&format!("{number};Não detectável\n"));
    }
    // A cp1252 byte far past the prefix still decides the encoding.
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"20000;N\xE3o detect\xE1vel\n");
    let table = csv_bytes(&bytes);
    assert_eq!(table.info.encoding.as_deref(), Some("windows-1252"));
    let rows = all_rows(table);
    assert_eq!(rows.len(), 20_001);
    assert_eq!(rows[20_000], row(20_002, &["20000", "Não detectável"]));
    assert_eq!(rows[19_999].cells[1], "NÃ£o detectÃ¡vel");
}

fn open_error(name: &str, bytes: &[u8]) -> InputError {
    match open_bytes(name, bytes.to_vec(), &ReadOptions::default()) {
        Ok(table) => panic!("expected an error, read {:?}", table.info),
        Err(error) => error,
    }
}

#[test]
fn unreadable_files_are_clear_errors() {
    assert!(matches!(open_error("vazio.csv", b""), InputError::Empty));
    assert!(matches!(
        open_error("brancos.csv", b"\n\r\n ; \n"),
        InputError::Empty
    ));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";
    let error = open_error("foto.csv", png);
    assert!(matches!(error, InputError::UnknownFormat(_)));
    assert!(error.to_string().contains("não é texto"), "{error}");
    assert!(matches!(
        open_error("numeros.csv", b"1;2\n3;4\n"),
        InputError::NoHeader
    ));
}

#[test]
fn classic_mac_line_endings() {
    let table = csv_bytes(b"amostra;resultado\r1;Positivo\r2;Negativo\r");
    assert_eq!(table.info.headers, ["amostra", "resultado"]);
    let rows = all_rows(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].cells, ["2", "Negativo"]);
}
