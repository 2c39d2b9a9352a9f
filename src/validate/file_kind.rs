//! Files that are not patient results at all: a mapping table
//! (`de_para.csv`), an instrument plate export. They get one sentence
//! saying what they are, instead of a list of missing columns and one
//! line per row. The instrument headers are data in
//! `schemas/file_kinds.toml`.
//!
//! Invariant: pure; looks at the column map only, never a row.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::mapping::{self, ColumnMap};
use crate::model::{Field, RowIssue};

const FILE_KINDS: &str = include_str!("../../schemas/file_kinds.toml");

/// `code` of the issue of a file that holds no patient results.
pub(crate) const NOT_RESULTS: &str = "nao_e_arquivo_de_resultados";
/// `code` of the issue of an instrument (PCR plate) export.
pub(crate) const INSTRUMENT_EXPORT: &str = "exportacao_de_equipamento";

/// Is `code` the issue of a file whose rows are not results at all (so no
/// row is worth listing)?
pub(crate) fn is_not_results(code: &str) -> bool {
    code == NOT_RESULTS || code == INSTRUMENT_EXPORT
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileKinds {
    pub instrument_min_headers: usize,
    pub instrument_headers: Vec<String>,
}

/// Parses `schemas/file_kinds.toml`.
pub(crate) fn load() -> Result<FileKinds, toml::de::Error> {
    toml::from_str(FILE_KINDS)
}

fn instrument_keys() -> &'static (usize, Vec<String>) {
    static CELL: OnceLock<(usize, Vec<String>)> = OnceLock::new();
    CELL.get_or_init(|| {
        let kinds = load().unwrap_or_default();
        let keys = kinds
            .instrument_headers
            .iter()
            .map(|h| mapping::key(h))
            .collect();
        (kinds.instrument_min_headers.max(1), keys)
    })
}

/// The one issue of a file that is not a patient results export, if it is
/// one.
pub(crate) fn not_results_issue(map: &ColumnMap, header_line: u64) -> Option<RowIssue> {
    let has_patient = [Field::PatientCns, Field::PatientCpf, Field::PatientName]
        .into_iter()
        .any(|f| map.has(f));
    let (min, keys) = instrument_keys();
    // Plate exports combine a channel with a target ("FAM E gene", "FAM
    // C(t)"): a header counts when it starts with a listed one (short keys
    // such as "ct" must match whole).
    let instrument_headers = map
        .headers
        .iter()
        .map(|h| mapping::key(h))
        .filter(|h| {
            keys.iter()
                .any(|k| h == k || (k.len() >= 3 && h.starts_with(k.as_str())))
        })
        .count();
    let issue = |code: &str, message: String| RowIssue {
        line: header_line,
        column: String::new(),
        value: String::new(),
        code: code.into(),
        message,
    };
    if !map.has(Field::PatientCns) && instrument_headers >= *min {
        return Some(issue(
            INSTRUMENT_EXPORT,
            format!(
                "Linha {header_line} (cabeçalho): este arquivo é uma exportação de equipamento \
                 (placa de PCR: poços, canais, Ct), não uma lista de resultados de pacientes; \
                 nele não há o CNS de nenhum paciente, e nenhuma linha pode ir para a RNDS. \
                 Coloque na pasta de entrada a exportação de resultados do sistema do \
                 laboratório, que liga cada amostra ao paciente."
            ),
        ));
    }
    if !has_patient && !map.has(Field::Result) && !map.has(Field::CollectionDate) {
        let shown: Vec<String> = map
            .headers
            .iter()
            .take(6)
            .map(|h| format!("\"{h}\""))
            .collect();
        let more = if map.headers.len() > shown.len() {
            ", …"
        } else {
            ""
        };
        return Some(issue(
            NOT_RESULTS,
            format!(
                "Linha {header_line} (cabeçalho): este arquivo não é uma exportação de resultados \
                 de exames: não tem colunas de paciente, de data de coleta nem de resultado \
                 (colunas: {}{more}). Nada dele pode ir para a RNDS. Se for uma tabela de apoio \
                 (um de-para de exames, por exemplo), tire-a da pasta de entrada.",
                shown.join(", ")
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_kinds_table_parses() {
        let kinds = load().expect("schemas/file_kinds.toml parses");
        assert!(kinds.instrument_min_headers >= 2);
        assert!(kinds.instrument_headers.iter().any(|h| h == "Well"));
    }
}
