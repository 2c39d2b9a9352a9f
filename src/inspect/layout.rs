//! Which layout a file has, as far as its header tells: a preset of
//! `schemas/layouts/` whose columns the file has (one column per target,
//! analyte rows, the GAL export), one row per result ("tidy", mapped
//! through the synonym table), a panel result column, or not results at
//! all. [`recognise`] is the one place that names the layout.
//!
//! Invariant: pure; reads the header and the column map only.

use crate::layout::{preset, preset_names, LayoutSpec};
use crate::mapping::{self, ColumnMap};
use crate::model::RowIssue;
use crate::validate::{file_kind, panel};

/// The layout recognised, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A preset of `schemas/layouts/` (`layout = "<name>"`).
    Preset { name: String, description: String },
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
    pub(crate) fn describe(&self) -> String {
        match self {
            Layout::Preset { name, description } => format!("{description} (layout = \"{name}\")"),
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

/// Headers a layout reads (its columns, targets, analyte and composed
/// columns).
pub(crate) fn layout_headers(spec: &LayoutSpec) -> Vec<&str> {
    let mut headers = preset_headers(spec);
    headers.extend(
        spec.compose
            .values()
            .flat_map(|c| c.columns.iter().map(String::as_str)),
    );
    headers
}

/// Headers a preset needs the file to have.
fn preset_headers(spec: &LayoutSpec) -> Vec<&str> {
    let mut headers: Vec<&str> = spec.columns.values().map(String::as_str).collect();
    headers.extend(spec.targets.iter().map(|t| t.column.as_str()));
    if let Some(a) = &spec.analytes {
        headers.extend(a.key.iter().map(String::as_str));
        headers.push(&a.name_column);
        headers.push(&a.value_column);
    }
    headers
}

/// The preset whose every column (at least three) the file has, the one
/// naming the most columns when several do.
pub(crate) fn matching_preset(headers: &[String]) -> Option<(&'static str, LayoutSpec)> {
    let keys: Vec<String> = headers.iter().map(|h| mapping::key(h)).collect();
    preset_names()
        .into_iter()
        .filter_map(|name| Some((name, preset(name)?)))
        .filter(|(_, spec)| {
            let wanted = preset_headers(spec);
            wanted.len() >= 3 && wanted.iter().all(|h| keys.contains(&mapping::key(h)))
        })
        .max_by_key(|(_, spec)| preset_headers(spec).len())
}

/// Names the layout of a file from its column map, its file-level issues
/// and the preset it matched.
pub(crate) fn recognise(
    columns: &ColumnMap,
    file_issues: &[RowIssue],
    preset: Option<(&str, &LayoutSpec)>,
) -> Layout {
    if file_issues
        .iter()
        .any(|i| i.code == file_kind::INSTRUMENT_EXPORT)
    {
        return Layout::Instrument;
    }
    if file_issues.iter().any(|i| i.code == file_kind::NOT_RESULTS) {
        return Layout::NotResults;
    }
    if let Some((name, spec)) = preset {
        return Layout::Preset {
            name: name.to_string(),
            description: spec.description.clone().unwrap_or_default(),
        };
    }
    if let Some(p) = panel::of_map(columns) {
        return Layout::Panel {
            system: p.panel.system.clone(),
            result: p.panel.result.clone(),
        };
    }
    Layout::Tidy
}
