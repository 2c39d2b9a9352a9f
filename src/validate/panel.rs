//! Result columns of a multi-pathogen panel (SIVEP's `PCR_RESUL`: any
//! respiratory virus). Such a column is a SARS-CoV-2 result only on rows
//! where the file's own marker column says the virus is SARS-CoV-2; every
//! other row is refused with a reason. The panels are data in
//! `schemas/panels.toml`.
//!
//! Invariant: pure; loads only its embedded table; never turns a panel
//! result into a SARS-CoV-2 result without the file saying so.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::mapping::{self, ColumnMap};
use crate::model::{Field, RowIssue};

const PANELS: &str = include_str!("../../schemas/panels.toml");

/// One panel result column and the column that names the pathogen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Panel {
    /// The system whose layout this is (for messages).
    pub system: String,
    /// Header of the panel's result column.
    pub result: String,
    /// Header of the column that says SARS-CoV-2 was the virus detected.
    pub marker: String,
    /// Values of `marker` that mean "SARS-CoV-2".
    pub marker_values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PanelFile {
    #[serde(default)]
    panel: Vec<Panel>,
}

/// Every panel of the embedded table (empty if the table does not parse:
/// a test asserts it does, and an empty table refuses nothing silently
/// because [`load`] reports the defect).
pub(crate) fn panels() -> &'static [Panel] {
    static CELL: OnceLock<Vec<Panel>> = OnceLock::new();
    CELL.get_or_init(|| load().unwrap_or_default())
}

/// Parses `schemas/panels.toml`.
pub(crate) fn load() -> Result<Vec<Panel>, toml::de::Error> {
    toml::from_str::<PanelFile>(PANELS).map(|f| f.panel)
}

/// How the result column of a file relates to a panel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PanelColumns<'a> {
    pub panel: &'a Panel,
    /// Index of the marker column, when the file has it.
    pub marker: Option<usize>,
}

/// The panel whose result column is the one mapped to `Field::Result`.
/// Called for every row: the panels' keys are folded once, and the
/// header's key is compared without being allocated.
pub(crate) fn of_map(map: &ColumnMap) -> Option<PanelColumns<'static>> {
    static RESULT_KEYS: OnceLock<Vec<String>> = OnceLock::new();
    let keys =
        RESULT_KEYS.get_or_init(|| panels().iter().map(|p| mapping::key(&p.result)).collect());
    let header = map.header(Field::Result)?;
    let at = keys.iter().position(|k| mapping::has_key(header, k))?;
    let panel = panels().get(at)?;
    let marker_key = mapping::key(&panel.marker);
    let marker = map
        .headers
        .iter()
        .position(|h| mapping::key(h) == marker_key);
    Some(PanelColumns { panel, marker })
}

/// Does the row's marker cell say SARS-CoV-2?
pub(crate) fn says_sars_cov_2(columns: &PanelColumns, cells: &[String]) -> bool {
    let Some(cell) = columns.marker.and_then(|i| cells.get(i)) else {
        return false;
    };
    let value = mapping::key(cell);
    !value.is_empty()
        && columns
            .panel
            .marker_values
            .iter()
            .any(|v| mapping::key(v) == value)
}

/// The file-level issue of a panel result column without its marker
/// column: no row of the file can say which virus it found.
pub(crate) fn file_issue(map: &ColumnMap, header_line: u64) -> Option<RowIssue> {
    let columns = of_map(map)?;
    if columns.marker.is_some() {
        return None;
    }
    let p = columns.panel;
    Some(RowIssue {
        line: header_line,
        column: p.result.clone(),
        value: String::new(),
        code: "resultado_de_painel".into(),
        message: format!(
            "Linha {header_line} (cabeçalho): a coluna \"{}\" ({}) traz o resultado do painel \
             respiratório inteiro (qualquer vírus), e o arquivo não tem a coluna \"{}\", que diz \
             se o vírus encontrado é o SARS-CoV-2. Sem ela nenhuma linha pode ser enviada como \
             resultado de SARS-CoV-2: exporte o arquivo com a coluna \"{}\".",
            p.result, p.system, p.marker, p.marker
        ),
    })
}

/// Why a row's panel result is not sent as a SARS-CoV-2 result, completing
/// `"<place>: "`.
pub(crate) fn row_reason(columns: &PanelColumns, detected: bool) -> String {
    let p = columns.panel;
    if detected {
        format!(
            "o resultado \"detectável\" da coluna \"{}\" ({}) vale para o painel respiratório \
             inteiro, e a coluna \"{}\" desta linha não indica SARS-CoV-2: o vírus encontrado é \
             outro (por exemplo, influenza). A linha não é enviada à RNDS como resultado de \
             SARS-CoV-2; se o SARS-CoV-2 também foi detectado, marque \"{}\" no sistema de \
             origem e exporte de novo.",
            p.result, p.system, p.marker, p.marker
        )
    } else {
        format!(
            "a coluna \"{}\" ({}) traz o resultado do painel respiratório inteiro, e o arquivo \
             não diz se o SARS-CoV-2 fazia parte do painel desta linha (a coluna \"{}\" só marca \
             o SARS-CoV-2 quando ele é detectado). A linha não é enviada à RNDS, porque o \
             resultado de SARS-CoV-2 seria adivinhado.",
            p.result, p.system, p.marker
        )
    }
}

/// Why a row whose marker says SARS-CoV-2 but whose panel result is not
/// "detectable" is refused: the two columns contradict each other.
pub(crate) fn contradiction(columns: &PanelColumns) -> String {
    let p = columns.panel;
    format!(
        "a coluna \"{}\" marca SARS-CoV-2 como detectado, mas o resultado do painel em \"{}\" \
         não é \"detectável\": as duas colunas se contradizem. Corrija a linha no sistema de \
         origem e exporte de novo.",
        p.marker, p.result
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_table_parses_and_names_sivep() {
        let panels = load().expect("schemas/panels.toml parses");
        assert!(panels
            .iter()
            .any(|p| p.result == "PCR_RESUL" && p.marker == "PCR_SARS2"));
    }
}
