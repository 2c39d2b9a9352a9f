//! Layout detection shared by CSV and XLSX: which delimiter a CSV uses,
//! which row is the header (skipping title and blank rows typed above it),
//! and which rows carry no data (blank rows, "Total" summary rows).
//!
//! Invariant: meaning-free heuristics on cell shapes only; it never looks for
//! a particular column name or value wording.

/// Delimiters tried, in order of preference when they score the same.
const CANDIDATE_DELIMITERS: [u8; 4] = [b';', b',', b'\t', b'|'];

/// How many non-blank rows are inspected to find the header.
pub(crate) const HEADER_SEARCH_ROWS: usize = 30;

/// Picks the delimiter that splits the first lines into a consistent number
/// (> 1) of fields; quoted sections are honoured by parsing with `csv`.
/// Falls back to `;` (the usual Brazilian export) for a one-column file.
pub(crate) fn sniff_delimiter(sample: &[u8]) -> u8 {
    let mut best = (b';', 0usize, 0usize);
    for delimiter in CANDIDATE_DELIMITERS {
        let (rows, width) = consistent_width(sample, delimiter);
        if width > 1 && (rows, width) > (best.1, best.2) {
            best = (delimiter, rows, width);
        }
    }
    best.0
}

/// The most frequent field count over the first non-blank records, and how
/// many records have it (ties favour the wider count).
fn consistent_width(sample: &[u8], delimiter: u8) -> (usize, usize) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(sample);
    let mut counts: Vec<(usize, usize)> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut seen = 0;
    while seen < HEADER_SEARCH_ROWS {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            continue;
        }
        seen += 1;
        match counts.iter_mut().find(|(width, _)| *width == record.len()) {
            Some((_, rows)) => *rows += 1,
            None => counts.push((record.len(), 1)),
        }
    }
    counts
        .into_iter()
        .map(|(width, rows)| (rows, width))
        .max()
        .unwrap_or((0, 0))
}

/// Index of the header among the first rows: the first row whose non-empty
/// cells are at least half of the widest row seen (and at least two when the
/// table is wider than one column) and are mostly text rather than numbers
/// or dates. `None` when no row qualifies.
pub(crate) fn find_header<R: AsRef<[S]>, S: AsRef<str>>(rows: &[R]) -> Option<usize> {
    let filled = |row: &R| {
        row.as_ref()
            .iter()
            .filter(|cell| !cell.as_ref().is_empty())
            .count()
    };
    let widest = rows.iter().map(filled).max().unwrap_or(0);
    if widest == 0 {
        return None;
    }
    let needed = widest.div_ceil(2).max(widest.min(2));
    rows.iter().position(|row| {
        let non_empty = filled(row);
        let numeric = row
            .as_ref()
            .iter()
            .filter(|cell| looks_numeric(cell.as_ref()))
            .count();
        non_empty >= needed && numeric * 2 < non_empty
    })
}

/// A number, date or time as typed in a cell: digits with separators only.
pub(crate) fn looks_numeric(cell: &str) -> bool {
    cell.bytes().any(|byte| byte.is_ascii_digit())
        && cell
            .bytes()
            .all(|byte| byte.is_ascii_digit() || b".,-+/: %".contains(&byte))
}

/// A row with no non-empty cell.
pub(crate) fn is_blank<S: AsRef<str>>(cells: &[S]) -> bool {
    cells.iter().all(|cell| cell.as_ref().is_empty())
}

/// A summary row typed below the data: its first non-empty cell starts with
/// "Total" (any case, e.g. `TOTAL:`, `Total geral`) and the rest is numbers
/// or at most one other cell.
pub(crate) fn is_total_row<S: AsRef<str>>(cells: &[S]) -> bool {
    let mut non_empty = cells
        .iter()
        .map(AsRef::as_ref)
        .filter(|cell| !cell.is_empty());
    let Some(first) = non_empty.next() else {
        return false;
    };
    if !starts_with_total(first) {
        return false;
    }
    let others: Vec<&str> = non_empty.collect();
    others.len() <= 1 || others.iter().all(|cell| looks_numeric(cell))
}

fn starts_with_total(cell: &str) -> bool {
    let Some(head) = cell.get(..5) else {
        return false;
    };
    if !head.eq_ignore_ascii_case("total") {
        return false;
    }
    // "Totalmente ..." is a sentence, not a summary label.
    !cell[5..].starts_with(|next: char| next.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_ignores_commas_inside_text_columns() {
        let sample = "A|B|C\n1|Covid 19, PCR|x\n2|Covid 19, PCR|y\n";
        assert_eq!(sniff_delimiter(sample.as_bytes()), b'|');
        let quoted = "a,b,c\n\"x;y\",2,3\n\"z;w\",5,6\n";
        assert_eq!(sniff_delimiter(quoted.as_bytes()), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
    }

    #[test]
    fn header_skips_title_and_blank_rows() {
        let rows = vec![
            vec!["Laboratório X - Resultados COVID", "", ""],
            vec!["", "", ""],
            vec!["Paciente", "CNS", "Resultado"],
            vec!["Ana", "700512345678901", "Detectável"],
        ];
        assert_eq!(find_header(&rows), Some(2));
        let numbers = vec![vec!["1", "2"], vec!["3", "4"]];
        assert_eq!(find_header(&numbers), None);
    }

    #[test]
    fn total_rows_are_recognised() {
        assert!(is_total_row(&["", "TOTAL:", "12", "", "3,5"]));
        assert!(is_total_row(&["Total", "", ""]));
        assert!(!is_total_row(&["Totalmente", "Ana", "Positivo"]));
        assert!(!is_total_row(&["Total", "Ana", "Positivo"]));
        assert!(!is_total_row(&["Tot"]));
    }
}
