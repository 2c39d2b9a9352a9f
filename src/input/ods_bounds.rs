//! How large calamine's dense ranges of an `.ods` will be, before calamine
//! builds them. ODS compresses repetition into attributes
//! (`table:number-rows-repeated`, `table:number-columns-repeated`), and
//! calamine expands every repeat between the first and the last filled
//! cell: a file of a few hundred bytes can ask for billions of cells. This
//! streams `content.xml` once (a bounded read through the zip) and adds up
//! the repeats the way calamine expands them: empty cells after a row's
//! last filled cell and empty rows after a sheet's last filled row (what
//! LibreOffice writes up to the sheet's edge) are never expanded, so they
//! do not count.
//!
//! Invariant: reads, never writes; knows no field meaning.

use std::io::{BufReader, Read, Seek};

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::Reader;

use super::xlsx_scan::MAX_PART_BYTES;
use super::InputError;

/// The most rows a sheet may have: Excel's limit, as for `.xlsx`.
pub(super) const MAX_ROWS: u64 = 1_048_576;
/// The most columns a row may have: Excel's limit (16,384, column XFD).
pub(super) const MAX_COLUMNS: u64 = 16_384;
/// The most cells calamine may expand, all sheets together. calamine keeps
/// an `.ods` whole in memory, each cell twice (its value, 32 bytes, and its
/// formula text, 24 bytes), before our rows copy the texts: 5 million cells
/// are about 300 MB, e.g. 100,000 rows of 50 columns, far above a lab's
/// export (which `.xlsx` and CSV, read as streams, are for).
pub(super) const MAX_CELLS: u64 = 5_000_000;

/// Refuses an `.ods` whose repeated rows or cells would expand past
/// [`MAX_ROWS`], [`MAX_COLUMNS`] or [`MAX_CELLS`]. A zip or XML calamine
/// cannot read passes: calamine words that error better.
pub(super) fn check_dense_size<RS: Read + Seek>(source: &mut RS) -> Result<(), InputError> {
    let Ok(mut archive) = zip::ZipArchive::new(&mut *source) else {
        return Ok(());
    };
    let Ok(content) = archive.by_name("content.xml") else {
        return Ok(());
    };
    let mut xml = Reader::from_reader(BufReader::new(content.take(MAX_PART_BYTES + 1)));
    let mut sizes = Sizes::default();
    let mut buf = Vec::new();
    let mut inner = Vec::new();
    loop {
        let event = match xml.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) if e.name() == QName(b"table:table") => sizes.start_sheet(),
            Event::End(e) if e.name() == QName(b"table:table") => sizes.end_sheet()?,
            Event::Start(e) if e.name() == QName(b"table:table-row") => {
                sizes.start_row(repeats(&e, b"table:number-rows-repeated"));
            }
            Event::End(e) if e.name() == QName(b"table:table-row") => sizes.end_row()?,
            Event::Start(e) if is_cell(&e) => {
                let filled = has_value(&e) || has_content(&mut xml, &mut inner);
                sizes.cell(repeats(&e, b"table:number-columns-repeated"), filled)?;
            }
            Event::Empty(e) if is_cell(&e) => {
                sizes.cell(repeats(&e, b"table:number-columns-repeated"), has_value(&e))?;
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

fn is_cell(e: &BytesStart) -> bool {
    e.name() == QName(b"table:table-cell") || e.name() == QName(b"table:covered-table-cell")
}

/// A value or formula in the cell's attributes.
fn has_value(e: &BytesStart) -> bool {
    e.attributes().flatten().any(|a| {
        a.key == QName(b"office:value-type")
            || a.key == QName(b"table:formula")
            || a.key == QName(b"office:value")
    })
}

/// Reads to the cell's end: whether it holds any element or text.
fn has_content<R: std::io::BufRead>(xml: &mut Reader<R>, buf: &mut Vec<u8>) -> bool {
    let mut depth = 0_u32;
    let mut filled = false;
    loop {
        buf.clear();
        match xml.read_event_into(buf) {
            Ok(Event::Start(_)) => {
                filled = true;
                depth += 1;
            }
            Ok(Event::End(_)) if depth == 0 => return filled,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Empty(_) | Event::CData(_)) => filled = true,
            Ok(Event::Text(t)) => filled |= t.iter().any(|b| !b.is_ascii_whitespace()),
            Ok(Event::Eof) | Err(_) => return filled,
            Ok(_) => {}
        }
    }
}

/// A repeat attribute's count: 1 when absent or unreadable (calamine then
/// refuses the file itself).
fn repeats(e: &BytesStart, name: &[u8]) -> u64 {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| std::str::from_utf8(&a.value).ok()?.trim().parse().ok())
        .unwrap_or(1)
}

/// Running counts, as calamine will expand them.
#[derive(Debug, Default)]
struct Sizes {
    /// Cells of the sheets already closed.
    cells: u64,
    /// Rows of this sheet from its first filled row to its last one.
    rows: u64,
    /// Empty rows since the last filled one: expanded only if a filled
    /// row follows.
    empty_rows: u64,
    /// The widest row of this sheet, up to its last filled cell.
    width: u64,
    /// This row's repeat count.
    row_repeats: u64,
    /// Columns seen so far in this row.
    column: u64,
    /// Columns up to this row's last filled cell.
    row_width: u64,
}

impl Sizes {
    fn start_sheet(&mut self) {
        self.rows = 0;
        self.empty_rows = 0;
        self.width = 0;
    }

    fn end_sheet(&mut self) -> Result<(), InputError> {
        self.cells = self
            .cells
            .saturating_add(self.rows.saturating_mul(self.width));
        self.start_sheet();
        if self.cells > MAX_CELLS {
            return Err(too_large(&format!(
                "mais de {} células",
                thousands(MAX_CELLS)
            )));
        }
        Ok(())
    }

    fn start_row(&mut self, repeats: u64) {
        self.row_repeats = repeats;
        self.column = 0;
        self.row_width = 0;
    }

    fn cell(&mut self, repeats: u64, filled: bool) -> Result<(), InputError> {
        self.column = self.column.saturating_add(repeats);
        if filled {
            self.row_width = self.column;
            if self.row_width > MAX_COLUMNS {
                return Err(too_large(&format!(
                    "mais de {} colunas",
                    thousands(MAX_COLUMNS)
                )));
            }
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), InputError> {
        if self.row_width == 0 {
            if self.rows > 0 {
                self.empty_rows = self.empty_rows.saturating_add(self.row_repeats);
            }
            return Ok(());
        }
        self.rows = self
            .rows
            .saturating_add(self.empty_rows)
            .saturating_add(self.row_repeats);
        self.empty_rows = 0;
        self.width = self.width.max(self.row_width);
        if self.rows > MAX_ROWS {
            return Err(too_large(&format!(
                "mais de {} linhas",
                thousands(MAX_ROWS)
            )));
        }
        if self
            .cells
            .saturating_add(self.rows.saturating_mul(self.width))
            > MAX_CELLS
        {
            return Err(too_large(&format!(
                "mais de {} células",
                thousands(MAX_CELLS)
            )));
        }
        Ok(())
    }
}

fn too_large(what: &str) -> InputError {
    InputError::Xlsx(format!(
        "a planilha .ods repete linhas ou células preenchidas até formar {what}, mais do que o \
         conector lê de uma planilha .ods; o arquivo não foi lido. Confira se não há uma linha \
         ou coluna preenchida até o fim da planilha, ou salve-a como .xlsx ou CSV"
    ))
}

/// `n` with the dot Brazilians put between thousands.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    /// An ODS zip holding only `content.xml` with `table` as its one sheet.
    fn ods(table: &str) -> Cursor<Vec<u8>> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("content.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        write!(
            zip,
            "<office:document-content><office:body><office:spreadsheet>\
             <table:table table:name=\"A\">{table}</table:table>\
             </office:spreadsheet></office:body></office:document-content>"
        )
        .unwrap();
        let mut bytes = zip.finish().unwrap();
        bytes.set_position(0);
        bytes
    }

    fn row(repeats: u64, cells: &str) -> String {
        format!(
            "<table:table-row table:number-rows-repeated=\"{repeats}\">{cells}</table:table-row>"
        )
    }

    const FILLED: &str =
        "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
    const EMPTY_TO_EDGE: &str = "<table:table-cell table:number-columns-repeated=\"16383\"/>";

    #[test]
    fn trailing_empty_rows_and_cells_do_not_count() {
        let table = format!(
            "{}{}",
            row(1, &format!("{FILLED}{EMPTY_TO_EDGE}")),
            row(1_048_575, EMPTY_TO_EDGE)
        );
        assert!(super::check_dense_size(&mut ods(&table)).is_ok());
    }

    #[test]
    fn empty_rows_between_filled_ones_count() {
        let wide = format!("{EMPTY_TO_EDGE}{FILLED}");
        let table = format!("{}{}{}", row(1, FILLED), row(400, ""), row(1, &wide));
        let refused = super::check_dense_size(&mut ods(&table)).unwrap_err();
        assert!(
            refused.to_string().contains("5.000.000 células"),
            "{refused}"
        );
        let table = format!("{}{}", row(1, FILLED), row(1_048_576, FILLED));
        let refused = super::check_dense_size(&mut ods(&table)).unwrap_err();
        assert!(
            refused.to_string().contains("1.048.576 linhas"),
            "{refused}"
        );
    }

    #[test]
    fn thousands_are_dotted() {
        assert_eq!(super::thousands(5_000_000), "5.000.000");
        assert_eq!(super::thousands(16_384), "16.384");
        assert_eq!(super::thousands(999), "999");
    }
}
