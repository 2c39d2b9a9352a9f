//! Arbitrary bytes never make the reader panic.

use proptest::prelude::*;

use crate::input::{open_bytes, ReadOptions};

fn read_everything(name: &str, bytes: Vec<u8>) {
    if let Ok(table) = open_bytes(name, bytes, &ReadOptions::default()) {
        let width = table.info.headers.len();
        for row in table.rows.flatten() {
            assert_eq!(row.cells.len(), width);
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_everything("qualquer.csv", bytes);
    }

    #[test]
    fn arbitrary_rows_below_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        crlf in any::<bool>(),
    ) {
        let mut bytes = if crlf {
            b"Paciente;CNS;Resultado\r\n".to_vec()
        } else {
            b"Paciente;CNS;Resultado\n".to_vec()
        };
        bytes.extend(body);
        read_everything("lote.csv", bytes);
    }

    #[test]
    fn text_like_rows_come_below_the_header(
        lines in proptest::collection::vec("[a-zãé0-9 ;,\"|\t\r\u{13}\u{a0}]{0,40}", 0..40),
    ) {
        let mut text = String::from("Paciente;CNS;Resultado\n");
        for line in &lines {
            text.push_str(line);
            text.push('\n');
        }
        // Random lines may out-vote the header's layout; that is allowed,
        // but whatever is read must sit below the detected header.
        if let Ok(table) = open_bytes("lote.csv", text.into_bytes(), &ReadOptions::default()) {
            let header_line = table.info.header_line;
            prop_assert!(header_line >= 1);
            for row in table.rows {
                let row = row.map_err(|error| TestCaseError::fail(error.to_string()))?;
                prop_assert!(row.line > header_line);
                prop_assert!(row.cells.iter().all(|cell| cell.trim() == cell));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_named_xlsx_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(body);
        read_everything("planilha.xlsx", bytes);
    }
}

/// A valid workbook, built once, for the corruption property below.
fn valid_workbook() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(super::xlsx_files::staff_workbook)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn corrupted_workbooks_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = valid_workbook().to_vec();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        read_everything("lote.xlsx", bytes);
    }
}
