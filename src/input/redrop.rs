//! A corrected `erros.csv`/`erros.xlsx` dropped again: its trailing
//! `erro_coluna;erro_valor;erro_mensagem` columns (one set per earlier
//! round) and its whole-file lines are ours, not the lab's data. They are
//! left out when the file is read, so the new report never carries them
//! twice beside the new ones.
//!
//! Invariant: knows the layout of our own errors files, nothing else.

use crate::report::{ERROR_COLUMNS, FILE_NOTE_COLUMN};

/// Where our error columns start, when `headers` end with one or more sets
/// of them after at least one column of the lab's own.
pub(super) fn error_columns_at(headers: &[String]) -> Option<usize> {
    let n = ERROR_COLUMNS.len();
    let mut at = headers.len();
    while at > n
        && headers[at - n..]
            .iter()
            .zip(ERROR_COLUMNS)
            .all(|(h, e)| h.trim().eq_ignore_ascii_case(e))
    {
        at -= n;
    }
    (at < headers.len()).then_some(at)
}

/// Is the row with these `cell`s one of our whole-file lines? `cell(i)`
/// gives the text of column `i`.
pub(super) fn is_file_note(
    at: usize,
    width: usize,
    cell: impl Fn(usize) -> Option<String>,
) -> bool {
    (at..width)
        .step_by(ERROR_COLUMNS.len())
        .any(|i| cell(i).is_some_and(|c| c.trim() == FILE_NOTE_COLUMN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> Vec<String> {
        text.split(';').map(str::to_owned).collect()
    }

    #[test]
    fn trailing_error_columns_are_ours_once_or_twice_but_never_alone() {
        let once = headers("cns;resultado;erro_coluna;erro_valor;erro_mensagem");
        assert_eq!(error_columns_at(&once), Some(2));
        let twice = headers(
            "cns;erro_coluna;erro_valor;erro_mensagem;erro_coluna;erro_valor;erro_mensagem",
        );
        assert_eq!(error_columns_at(&twice), Some(1));
        assert_eq!(
            error_columns_at(&headers("erro_coluna;erro_valor;erro_mensagem")),
            None
        );
        assert_eq!(
            error_columns_at(&headers("cns;erro_valor;erro_mensagem")),
            None
        );
    }

    #[test]
    fn whole_file_lines_are_recognised_by_their_marker() {
        let row = headers("Linha 1 (cabeçalho): ...;;(arquivo);;Linha 1 (cabeçalho): ...");
        assert!(is_file_note(2, 5, |i| row.get(i).cloned()));
        let data = headers("X-1;;CNS;123;Linha 2: ...");
        assert!(!is_file_note(2, 5, |i| data.get(i).cloned()));
    }
}
