//! Fuzzing the real entry point, [`open`] on a file: arbitrary bytes and
//! mutated real exports (`shared/samples`, `tests/fixtures`, a small ODS)
//! under every accepted extension, read whole or as a snapshot
//! (`byte_limit`). Never a panic, every row within the caps, and the row
//! stream ends. The case counts keep the run to a few seconds (see
//! [`cases`]).

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::input::caps::MAX_RECORD_BYTES;
use crate::input::{open, ReadOptions, MAX_CELL_CHARS};

/// The extensions the inbox takes; a file is read by content first.
const EXTENSIONS: &[&str] = &["csv", "txt", "xlsx", "ods"];

/// Bytes a mutation inserts: the ones CSV quoting, delimiting, line
/// breaking, encoding detection and zip headers turn on.
const INTERESTING: &[u8] = b"\"\";,\t|\n\r\0\xFF\xEF\xBB\xBFPK\x03\x04";

/// Every real export and input fixture, read once.
fn seeds() -> &'static [(String, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = Vec::new();
        for folder in [
            root.join("../shared/samples"),
            root.join("tests/fixtures/input"),
        ] {
            let mut entries: Vec<_> = std::fs::read_dir(&folder)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| {
                    path.extension()
                        .is_some_and(|ext| ext == "csv" || ext == "xlsx")
                })
                .collect();
            entries.sort();
            for path in entries {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                seeds.push((name, std::fs::read(&path).unwrap()));
            }
        }
        seeds.push(("exames.ods".to_owned(), small_ods()));
        assert!(seeds.len() >= 10, "samples missing: {}", seeds.len());
        seeds
    })
}

/// A one-sheet OpenDocument spreadsheet, as LibreOffice stores one
/// (`mimetype` first, uncompressed).
fn small_ods() -> Vec<u8> {
    const CONTENT: &str = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0""#,
        r#" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0""#,
        r#" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">"#,
        r#"<office:body><office:spreadsheet><table:table table:name="Exames">"#,
        r#"<table:table-row><table:table-cell office:value-type="string"><text:p>Paciente</text:p></table:table-cell>"#,
        r#"<table:table-cell office:value-type="string"><text:p>CNS</text:p></table:table-cell>"#,
        r#"<table:table-cell office:value-type="string"><text:p>Resultado</text:p></table:table-cell></table:table-row>"#,
        r#"<table:table-row><table:table-cell office:value-type="string"><text:p>Maria</text:p></table:table-cell>"#,
        r#"<table:table-cell office:value-type="string"><text:p>898001160660002</text:p></table:table-cell>"#,
        r#"<table:table-cell office:value-type="string"><text:p>Detectável</text:p></table:table-cell></table:table-row>"#,
        r#"</table:table></office:spreadsheet></office:body></office:document-content>"#,
    );
    const MANIFEST: &str = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">"#,
        r#"<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>"#,
        r#"<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>"#,
        r#"</manifest:manifest>"#,
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(MANIFEST.as_bytes()).unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(CONTENT.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, prop::sample::Index),
    Remove(prop::sample::Index),
    /// Copies up to 256 bytes from the first place to the second.
    Repeat(prop::sample::Index, prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            1..256usize
        )
            .prop_map(|(from, to, len)| Mutation::Repeat(from, to, len)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        bytes.push(b'"');
        return;
    }
    match mutation {
        Mutation::Set(at, value) => {
            let at = at.index(bytes.len());
            bytes[at] = *value;
        }
        Mutation::Insert(at, which) => {
            let at = at.index(bytes.len() + 1);
            bytes.insert(at, INTERESTING[which.index(INTERESTING.len())]);
        }
        Mutation::Remove(at) => {
            bytes.remove(at.index(bytes.len()));
        }
        Mutation::Repeat(from, to, len) => {
            let from = from.index(bytes.len());
            let end = (from + len).min(bytes.len());
            let piece = bytes[from..end].to_vec();
            let to = to.index(bytes.len() + 1);
            bytes.splice(to..to, piece);
        }
    }
}

/// Writes `bytes` as `name` in a fresh folder, opens it with the real
/// entry point and reads every row, checking the caps.
fn open_and_read(name: &str, bytes: &[u8], byte_limit: Option<u64>) -> Result<(), TestCaseError> {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let options = ReadOptions {
        sheet: None,
        byte_limit,
    };
    let Ok(table) = open(&path, &options) else {
        return Ok(());
    };
    let width = table.info.headers.len();
    // A row needs at least a line break or a sheet cell of input: more
    // items than that would be a loop, not a reading.
    let most = bytes.len() + 16;
    let mut rows = table.rows;
    for item in rows.by_ref().take(most) {
        let Ok(row) = item else { continue };
        prop_assert_eq!(row.cells.len(), width);
        let mut chars = 0;
        for cell in &row.cells {
            let cell_chars = cell.chars().count();
            prop_assert!(cell_chars <= MAX_CELL_CHARS, "cell of {cell_chars} chars");
            chars += cell_chars;
        }
        prop_assert!(chars as u64 <= MAX_RECORD_BYTES, "row of {chars} chars");
    }
    prop_assert!(
        rows.next().is_none(),
        "more than {most} rows from {} bytes",
        bytes.len()
    );
    Ok(())
}

/// Cases per target: 256 in the test suite (a few seconds); `.ci/run`'s
/// fuzz stage sets `RNDS_FUZZ_CASES` for a longer, still bounded run.
fn cases() -> u32 {
    std::env::var("RNDS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn mutated_real_exports_open_without_panic_within_the_caps(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 0..12),
        truncate_at in proptest::option::of(any::<prop::sample::Index>()),
        byte_limit in proptest::option::of(any::<prop::sample::Index>()),
        extension in any::<prop::sample::Index>(),
        keep_name in any::<bool>(),
    ) {
        let (name, original) = &seeds()[seed.index(seeds().len())];
        let mut bytes = original.clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        if let Some(at) = truncate_at {
            bytes.truncate(at.index(bytes.len() + 1));
        }
        let name = if keep_name {
            name.clone()
        } else {
            format!("exames.{}", EXTENSIONS[extension.index(EXTENSIONS.len())])
        };
        let limit = byte_limit.map(|at| at.index(bytes.len() + 1) as u64);
        open_and_read(&name, &bytes, limit)?;
    }

    #[test]
    fn arbitrary_files_open_without_panic_within_the_caps(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        byte_limit in proptest::option::of(any::<prop::sample::Index>()),
        extension in any::<prop::sample::Index>(),
    ) {
        let name = format!("exames.{}", EXTENSIONS[extension.index(EXTENSIONS.len())]);
        let limit = byte_limit.map(|at| at.index(bytes.len() + 1) as u64);
        open_and_read(&name, &bytes, limit)?;
    }
}

#[test]
fn every_seed_opens_unmutated() {
    for (name, bytes) in seeds() {
        // The header-only GAL export has no data rows but still opens.
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        if let Err(error) = open(&path, &ReadOptions::default()) {
            panic!("{name}: {error}");
        }
    }
}
