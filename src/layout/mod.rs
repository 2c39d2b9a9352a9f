//! Layouts: how the rows of one export become results. A layout is data
//! (the `[[inbox]]` keys below, or a preset in `schemas/layouts/`): value
//! maps per field, row selection (exams, statuses, column values), one
//! column per target (melt), one row per analyte (pivot by key), composed
//! fields and columns declared as dates. [`Plan`] applies it to a file.
//!
//! Invariant: pure; knows the header texts and the cells, never a
//! validation rule, FHIR or I/O. A row outside the selection is a
//! [`Skip`] (counted and explained), never an issue; a value a map does not
//! know is an issue, never passed through.

mod dates;
mod group;
mod plan;
mod presets;
mod statuses;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::model::Field;

pub(crate) use group::{Grouper, Unit};
pub(crate) use plan::{Mapped, Plan, Skip};
#[cfg(test)]
pub(crate) use presets::preset_defects;
pub(crate) use presets::{preset, preset_names};
#[cfg(test)]
pub(crate) use statuses::statuses_defect;

/// The layout keys of an `[[inbox]]`; a preset file in `schemas/layouts/`
/// has exactly these keys too (plus `description`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutSpec {
    /// One sentence on what the layout is for (presets only).
    #[serde(default)]
    pub description: Option<String>,
    /// Field → header text.
    #[serde(default)]
    pub columns: BTreeMap<Field, String>,
    /// Local exam code or name → LOINC (or GAL) code.
    #[serde(default)]
    pub exam_codes: BTreeMap<String, String>,
    /// Field → (value as written → value the core understands).
    #[serde(default)]
    pub values: BTreeMap<Field, BTreeMap<String, String>>,
    /// Which rows are results to send.
    #[serde(default)]
    pub select: Select,
    /// One column per target: the columns that are results.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// One row per analyte, grouped by key.
    #[serde(default)]
    pub analytes: Option<Analytes>,
    /// Field → several columns joined.
    #[serde(default)]
    pub compose: BTreeMap<Field, Compose>,
    /// Date fields whose time part is ignored.
    #[serde(default)]
    pub date_only: Vec<Field>,
    /// Fields of `columns` that came from a preset, not the inbox's own
    /// keys: used when the file has the column, left out when it does not
    /// (a real export of the layout may lack an optional column; what RNDS
    /// requires is then missing loudly by its own rule).
    #[serde(skip)]
    pub preset_columns: BTreeSet<Field>,
}

/// `[inbox.select]`: which rows are results to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// `"error"` (default): a row whose exam is in neither RNDS table nor
    /// `exam_codes` is an error to fix. `"skip"`: such a row is another
    /// exam (hemograma, glicose…) and is skipped.
    #[serde(default)]
    pub other_exams: OtherExams,
    /// When not empty, only rows whose exam cell is one of these (case,
    /// accents and punctuation ignored) are results; the others are skipped.
    #[serde(default)]
    pub exams: Vec<String>,
    /// Header text → the values a row must have in that column to be a
    /// result; rows with another value are skipped.
    #[serde(default)]
    pub keep: BTreeMap<String, Vec<String>>,
    /// Statuses that mean "released", besides `schemas/statuses.toml`.
    #[serde(default)]
    pub send_statuses: Vec<String>,
    /// Statuses that mean "not a result yet / never", besides
    /// `schemas/statuses.toml`.
    #[serde(default)]
    pub skip_statuses: Vec<String>,
}

/// What to do with a row whose exam is in no table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtherExams {
    #[default]
    Error,
    Skip,
}

/// `[[inbox.targets]]`: one target column that holds a result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Header text of the target column (e.g. `coronavirusncov`).
    pub column: String,
    /// LOINC (or GAL) code of the exam this column is the result of.
    pub exam_code: String,
    /// Appended to the row's lab id as `<id>-<suffix>`; required when a
    /// layout has more than one target, so each result has its own id.
    #[serde(default)]
    pub id_suffix: Option<String>,
}

/// `[inbox.analytes]`: rows of one visit/sample, one per analyte.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analytes {
    /// Header text(s) of the column(s) whose values identify a group.
    pub key: Vec<String>,
    /// Header text of the column naming the analyte.
    pub name_column: String,
    /// Header text of the column holding the analyte's value.
    pub value_column: String,
    /// Analyte name → the field its value feeds. Exactly one analyte must
    /// feed `result`.
    pub fields: BTreeMap<String, Field>,
    /// Most rows one group may have (a bound on memory).
    #[serde(default = "default_max_group_rows")]
    pub max_group_rows: usize,
}

fn default_max_group_rows() -> usize {
    1000
}

/// `[inbox.compose.<field>]`: a field made of several columns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// Header texts, in order.
    pub columns: Vec<String>,
    /// Put between the parts (default `-`).
    #[serde(default = "default_separator")]
    pub separator: String,
}

fn default_separator() -> String {
    "-".into()
}

impl LayoutSpec {
    /// `self` (an inbox's own keys) over `base` (a preset): maps are merged
    /// key by key, lists and sections given by the inbox replace the
    /// preset's.
    pub(crate) fn over(&self, base: &LayoutSpec) -> LayoutSpec {
        let merge = |own: &BTreeMap<String, String>, base: &BTreeMap<String, String>| {
            let mut m = base.clone();
            m.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            m
        };
        let mut columns = base.columns.clone();
        columns.extend(self.columns.iter().map(|(k, v)| (*k, v.clone())));
        let preset_columns = base
            .columns
            .keys()
            .chain(&base.preset_columns)
            .filter(|field| !self.columns.contains_key(field))
            .copied()
            .collect();
        let mut values = base.values.clone();
        for (field, map) in &self.values {
            let merged = merge(map, values.get(field).unwrap_or(&BTreeMap::new()));
            values.insert(*field, merged);
        }
        let mut compose = base.compose.clone();
        compose.extend(self.compose.iter().map(|(k, v)| (*k, v.clone())));
        let select = if self.select == Select::default() {
            base.select.clone()
        } else {
            self.select.clone()
        };
        LayoutSpec {
            description: self.description.clone().or(base.description.clone()),
            columns,
            exam_codes: merge(&self.exam_codes, &base.exam_codes),
            values,
            select,
            targets: if self.targets.is_empty() {
                base.targets.clone()
            } else {
                self.targets.clone()
            },
            analytes: self.analytes.clone().or(base.analytes.clone()),
            compose,
            date_only: if self.date_only.is_empty() {
                base.date_only.clone()
            } else {
                self.date_only.clone()
            },
            preset_columns,
        }
    }

    /// `columns` as they apply to a file with these `headers`: a preset's
    /// column the file lacks is left out (see `preset_columns`).
    pub(crate) fn columns_for(&self, headers: &[String]) -> BTreeMap<Field, String> {
        self.columns
            .iter()
            .filter(|(field, wanted)| {
                !self.preset_columns.contains(field)
                    || crate::mapping::find_header(headers, wanted).is_some()
            })
            .map(|(field, wanted)| (*field, wanted.clone()))
            .collect()
    }

    /// Does the layout do anything beyond renaming columns?
    pub(crate) fn is_plain(&self) -> bool {
        self.values.is_empty()
            && self.select == Select::default()
            && self.targets.is_empty()
            && self.analytes.is_none()
            && self.compose.is_empty()
            && self.date_only.is_empty()
    }

    /// Problems a configuration must not start with (pt-BR, they reach the
    /// person writing the config).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.targets.len() > 1 {
            let mut suffixes: Vec<&str> = self
                .targets
                .iter()
                .filter_map(|t| t.id_suffix.as_deref())
                .collect();
            suffixes.sort_unstable();
            suffixes.dedup();
            if suffixes.len() != self.targets.len() {
                out.push(
                    "[[inbox.targets]]: com mais de um alvo, cada alvo precisa de um id_suffix \
                     próprio (o identificador de cada resultado na RNDS tem de ser único)"
                        .to_string(),
                );
            }
        }
        for t in &self.targets {
            if crate::mapping::exam_code(&t.exam_code).is_none() {
                out.push(format!(
                    "[[inbox.targets]] column = \"{}\": exam_code = \"{}\" não está na tabela \
                     BRNomeExameLOINC nem na BRNomeExameGAL",
                    t.column, t.exam_code
                ));
            }
        }
        if let Some(a) = &self.analytes {
            let results = a.fields.values().filter(|f| **f == Field::Result).count();
            if results != 1 {
                out.push(format!(
                    "[inbox.analytes.fields]: exatamente um analito deve alimentar \"result\" \
                     (há {results})"
                ));
            }
            if a.key.is_empty() {
                out.push("[inbox.analytes] key: indique ao menos uma coluna de agrupamento".into());
            }
            if a.max_group_rows == 0 {
                out.push("[inbox.analytes] max_group_rows deve ser pelo menos 1".into());
            }
            if !self.targets.is_empty() {
                out.push("[inbox.analytes] e [[inbox.targets]] não podem ser usados juntos".into());
            }
        }
        for field in &self.date_only {
            if !matches!(field, Field::CollectionDate | Field::IssuedDate) {
                out.push(format!(
                    "date_only: \"{}\" não é um campo de data (use collection_date ou issued_date)",
                    field.name()
                ));
            }
        }
        for (field, map) in &self.values {
            if matches!(field, Field::ExamCode | Field::ExamName) {
                out.push(format!(
                    "[inbox.values.{}]: exames são mapeados em [inbox.exam_codes]",
                    field.name()
                ));
            }
            if map.is_empty() {
                out.push(format!("[inbox.values.{}] está vazio", field.name()));
            }
        }
        out
    }
}

/// The layout an inbox asks for: its preset (if any) with its own keys on
/// top. Errors are pt-BR sentences for the configuration report.
pub(crate) fn resolve(name: Option<&str>, own: &LayoutSpec) -> Result<LayoutSpec, String> {
    let spec = match name {
        Some(name) => {
            let base = preset(name).ok_or_else(|| {
                format!(
                    "layout = \"{name}\" não existe. Layouts disponíveis: {}",
                    preset_names().join(", ")
                )
            })?;
            own.over(&base)
        }
        None => own.clone(),
    };
    let problems = spec.problems();
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests;
