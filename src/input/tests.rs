//! Tests through the public entry points `open` and `open_bytes`.

mod csv_files;
mod fuzz_open;
mod limits;
mod properties;
mod samples;
mod xlsx_files;

use super::{open, open_bytes, ReadOptions, Row, Table};

/// Opens a file under `tests/fixtures/input/`.
fn fixture(name: &str) -> Table {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/input")
        .join(name);
    open(&path, &ReadOptions::default()).unwrap()
}

fn csv_bytes(bytes: &[u8]) -> Table {
    open_bytes("teste.csv", bytes.to_vec(), &ReadOptions::default()).unwrap()
}

fn all_rows(table: Table) -> Vec<Row> {
    table.rows.map(Result::unwrap).collect()
}
