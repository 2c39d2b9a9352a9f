//! Which layout a file has, as far as its header tells. Today: one row per
//! result ("tidy", mapped through the synonym table), a panel result
//! column, or not results at all. Layout presets (one column per target,
//! analyte rows) plug in here: [`recognise`] is the one place that names
//! the layout.
//!
//! Invariant: pure; reads the header and the column map only.

use crate::mapping::ColumnMap;
use crate::model::RowIssue;
use crate::validate::{file_kind, panel};

/// The layout recognised, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One row per result, columns found through the synonym table.
    Tidy,
    /// One row per case whose result column covers a whole panel of
    /// pathogens (SIVEP-Gripe): only rows marked SARS-CoV-2 are results.
    Panel { system: String, result: String },
    /// An instrument (PCR plate) export: wells, not patients.
    Instrument,
    /// Not a results file at all (a mapping table, for instance).
    NotResults,
}

impl Layout {
    /// One pt-BR line naming the layout.
    pub fn describe(&self) -> String {
        match self {
            Layout::Tidy => "uma linha por resultado (colunas reconhecidas pelos nomes)".into(),
            Layout::Panel { system, result } => format!(
                "{system}: uma linha por caso, com o resultado de um painel de vírus na coluna \
                 \"{result}\" (só as linhas marcadas como SARS-CoV-2 são resultados)"
            ),
            Layout::Instrument => "exportação de equipamento (placa de PCR), sem pacientes".into(),
            Layout::NotResults => "não é um arquivo de resultados de exames".into(),
        }
    }
}

/// Names the layout of a file from its header, its column map and its
/// file-level issues.
pub fn recognise(_headers: &[String], columns: &ColumnMap, file_issues: &[RowIssue]) -> Layout {
    if file_issues
        .iter()
        .any(|i| i.code == file_kind::INSTRUMENT_EXPORT)
    {
        return Layout::Instrument;
    }
    if file_issues.iter().any(|i| i.code == file_kind::NOT_RESULTS) {
        return Layout::NotResults;
    }
    if let Some(p) = panel::of_map(columns) {
        return Layout::Panel {
            system: p.panel.system.clone(),
            result: p.panel.result.clone(),
        };
    }
    Layout::Tidy
}
