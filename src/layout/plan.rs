//! A layout compiled against one file's headers, and its application to
//! one unit (a row, or a group of analyte rows): results to validate,
//! rows skipped with their reason, or issues.
//!
//! Fields the layout fills (a target, an analyte, a composed id, a mapped
//! or date-only value) get a slot appended after the file's own cells; the
//! view [`ColumnMap`] points those fields at their slots, under the header
//! text they came from, so validation messages still name the file's
//! column. The pipeline cuts the slots off before reporting the row.
//!
//! Invariant: pure; decides selection and assembly, never validity.

use std::collections::{HashMap, HashSet};

use super::dates::date_part;
use super::group::{Group, Unit};
use super::statuses::{status_kind, StatusKind};
use super::{LayoutSpec, OtherExams};
use crate::input::Row;
use crate::mapping::{self, value_key, ColumnMap};
use crate::model::{Field, RowIssue};

/// A row (or group) the layout says is not a result to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skip {
    pub line: u64,
    /// Stable name of the reason, e.g. `status_nao_liberado`.
    pub code: &'static str,
    /// The column whose value decided it ("" when none).
    pub column: String,
    pub value: String,
}

impl Skip {
    /// The pt-BR explanation shown in `resumo.json`.
    pub(crate) fn reason(&self) -> String {
        let (c, v) = (&self.column, &self.value);
        match self.code {
            "fora_da_selecao" => {
                format!("coluna \"{c}\" = \"{v}\": fora dos valores de [inbox.select.keep]")
            }
            "status_nao_liberado" => format!(
                "status \"{v}\" (coluna \"{c}\"): o resultado não está liberado; a linha será \
                 enviada quando vier liberada"
            ),
            "outro_exame" => format!(
                "exame \"{v}\" (coluna \"{c}\"): não é um exame da tabela da RNDS nem de \
                 [inbox.exam_codes]; não é enviado"
            ),
            "exame_nao_selecionado" => {
                format!("exame \"{v}\" (coluna \"{c}\"): fora de [inbox.select] exams")
            }
            "alvo_nao_testado" => {
                format!("alvo \"{c}\" vazio: o alvo não foi testado nesta amostra")
            }
            "analito_fora_do_layout" => {
                format!("analito \"{v}\" (coluna \"{c}\"): não está em [inbox.analytes.fields]")
            }
            "analito_agrupado" => {
                format!("analito \"{v}\" (coluna \"{c}\"): incorporado ao resultado do mesmo grupo")
            }
            "grupo_sem_resultado" => {
                format!("analito \"{v}\" (coluna \"{c}\"): o grupo não tem o analito do resultado")
            }
            _ => format!("{}: \"{v}\"", self.code),
        }
    }
}

/// What the layout makes of a unit.
#[derive(Debug)]
pub(crate) enum Mapped {
    /// A result to validate: the row with its slots, and issues the layout
    /// already found (a value no map knows).
    Record {
        row: Row,
        issues: Vec<RowIssue>,
        /// Which [`Plan::view`] to validate it with (one per target).
        view: usize,
    },
    /// Rows that cannot become a result, with why (never validated).
    Invalid {
        row: Row,
        issues: Vec<RowIssue>,
    },
    Skipped(Skip),
}

/// Where a slot's text comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The field's own column in the file (after `date_only`/`values`).
    Column(usize),
    /// The record's target column (melt).
    Target,
    /// The record's target's exam code.
    TargetExam,
    /// The lab id column plus the record's target's suffix.
    SuffixedId(usize),
    /// Columns joined by a separator.
    Compose(Vec<usize>, String),
    /// The value of the analyte with this key (and its name as written).
    Analyte(String, String),
}

#[derive(Debug, Clone)]
struct Slot {
    field: Field,
    source: Source,
    /// Header text of the slot, for messages.
    header: String,
}

#[derive(Debug, Clone)]
struct CompiledTarget {
    column: usize,
    exam_code: String,
    suffix: Option<String>,
}

#[derive(Debug, Clone)]
struct CompiledAnalytes {
    key: Vec<usize>,
    name: usize,
    value: usize,
    /// Analyte key → field.
    fields: HashMap<String, Field>,
    max_group_rows: usize,
}

/// A layout ready to apply to the rows of one file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    width: usize,
    plain: bool,
    /// One column map per target (a target's result slot carries its own
    /// header), or one when there are no targets.
    views: Vec<ColumnMap>,
    slots: Vec<Slot>,
    values: HashMap<Field, HashMap<String, String>>,
    /// The left-hand sides of each value map as written, for messages.
    value_wordings: HashMap<Field, Vec<String>>,
    date_only: Vec<Field>,
    keep: Vec<(usize, HashSet<String>)>,
    exams: HashSet<String>,
    other_exams: OtherExams,
    exam_codes: std::collections::BTreeMap<String, String>,
    send_statuses: HashSet<String>,
    skip_statuses: HashSet<String>,
    targets: Vec<CompiledTarget>,
    analytes: Option<CompiledAnalytes>,
    /// Header texts the layout names that the file lacks.
    missing: Vec<String>,
}

fn find(headers: &[String], wanted: &str) -> Option<usize> {
    let key = mapping::key(wanted);
    headers
        .iter()
        .position(|h| h.trim() == wanted.trim())
        .or_else(|| headers.iter().position(|h| mapping::key(h) == key))
}

/// Slots: who fills each field the layout touches (targets, analytes,
/// composed fields, then mapped or date-only fields from their own column).
fn slots(
    spec: &LayoutSpec,
    base: &ColumnMap,
    targets: &[CompiledTarget],
    analytes: Option<&CompiledAnalytes>,
    compose: Vec<(Field, Vec<usize>, String, String)>,
) -> Vec<Slot> {
    let headers = &base.headers;
    let mut slots: Vec<Slot> = Vec::new();
    let own_header = |f: Field| base.header(f).unwrap_or(f.name()).to_string();
    if !targets.is_empty() {
        slots.push(Slot {
            field: Field::Result,
            source: Source::Target,
            header: String::new(),
        });
        slots.push(Slot {
            field: Field::ExamCode,
            source: Source::TargetExam,
            header: String::new(),
        });
        if let Some(&id) = base.by_field.get(&Field::LabId) {
            slots.push(Slot {
                field: Field::LabId,
                source: Source::SuffixedId(id),
                header: own_header(Field::LabId),
            });
        }
    }
    if let (Some(a), Some(spec_a)) = (&analytes, &spec.analytes) {
        let value_header = headers.get(a.value).cloned().unwrap_or_default();
        for (name, field) in &spec_a.fields {
            slots.retain(|s| s.field != *field);
            slots.push(Slot {
                field: *field,
                source: Source::Analyte(value_key(name), name.clone()),
                header: format!("{value_header} ({name})"),
            });
        }
    }
    for (field, columns, separator, header) in compose {
        slots.retain(|s| s.field != field);
        slots.push(Slot {
            field,
            source: Source::Compose(columns, separator),
            header,
        });
    }
    // Mapped or date-only fields read from their own column.
    for field in spec.values.keys().chain(&spec.date_only) {
        if slots.iter().any(|s| s.field == *field) {
            continue;
        }
        if let Some(&i) = base.by_field.get(field) {
            slots.push(Slot {
                field: *field,
                source: Source::Column(i),
                header: own_header(*field),
            });
        }
    }

    slots
}

/// One column view per target (its headers named after the target column),
/// or the single view when the layout has no targets.
fn views(
    view: &ColumnMap,
    targets: &[CompiledTarget],
    slots: &[Slot],
    width: usize,
) -> Vec<ColumnMap> {
    let headers = &view.headers;
    let mut views = Vec::new();
    for target in targets.iter().map(Some).chain(std::iter::once(None)) {
        if target.is_none() && !views.is_empty() {
            break;
        }
        let mut v = view.clone();
        if let Some(t) = target {
            let column = headers.get(t.column).cloned().unwrap_or_default();
            for (k, slot) in slots.iter().enumerate() {
                match slot.source {
                    Source::Target => v.headers[width + k] = column.clone(),
                    Source::TargetExam => {
                        v.headers[width + k] = format!("{column} (exam_code)");
                    }
                    _ => {}
                }
            }
        }
        views.push(v);
    }
    views
}

/// Why a group of analyte rows cannot be joined into one result, if it cannot.
fn group_problem(group: &Group, results: usize) -> Option<(&'static str, &'static str)> {
    if group.no_key {
        Some((
            "grupo_sem_chave",
            "as colunas de agrupamento ([inbox.analytes] key) estão vazias: não se sabe a \
             que resultado esta linha pertence. Preencha a chave e exporte de novo.",
        ))
    } else if group.reopened {
        Some((
            "grupo_disperso",
            "outras linhas com a mesma chave ([inbox.analytes] key) aparecem antes, \
             separadas desta por linhas de outra chave; as linhas de um grupo devem vir \
             juntas. Nada deste grupo foi juntado nem enviado: exporte o arquivo ordenado \
             pela chave.",
        ))
    } else if group.truncated {
        Some((
            "grupo_grande_demais",
            "o grupo passa de [inbox.analytes] max_group_rows linhas; nada deste grupo foi \
             enviado. Confira a chave de agrupamento ou aumente o limite.",
        ))
    } else if results > 1 {
        Some((
            "resultado_repetido_no_grupo",
            "o grupo tem mais de uma linha com o analito do resultado; não se sabe qual \
             enviar. Deixe uma só linha de resultado por grupo.",
        ))
    } else {
        None
    }
}

/// A field composed of several columns, all filled or none (an issue when
/// only some are).
fn composed(
    row: &Row,
    slot: &Slot,
    columns: &[usize],
    separator: &str,
    issues: &mut Vec<RowIssue>,
) -> String {
    let cell = |row: &Row, i: usize| row.cells.get(i).map_or("", |c| c.trim()).to_string();
    let parts: Vec<String> = columns.iter().map(|&i| cell(row, i)).collect();
    if parts.iter().any(|p| mapping::is_blank_optional(p)) {
        if parts.iter().any(|p| !mapping::is_blank_optional(p)) {
            issues.push(RowIssue {
                line: row.line,
                column: slot.header.clone(),
                value: parts.join(separator),
                code: "campo_composto_incompleto".into(),
                message: format!(
                    "Linha {}: {} é formado pelas colunas {} e alguma delas está \
                     vazia. Preencha todas e exporte de novo.",
                    row.line,
                    slot.field.label(),
                    slot.header
                ),
            });
        }
        String::new()
    } else {
        parts.join(separator)
    }
}

/// Each analyte value of a group by key; a field fed twice with different
/// values is an issue, not a choice.
fn analyte_values(
    a: &CompiledAnalytes,
    mapped: &[(Field, Row)],
    name_header: &str,
    issues: &mut Vec<RowIssue>,
) -> HashMap<String, String> {
    let analyte = |row: &Row| row.cells.get(a.name).map_or("", |c| c.trim()).to_string();
    let mut values: HashMap<String, String> = HashMap::new();
    for (field, row) in mapped {
        let name = analyte(row);
        let value = row.cells.get(a.value).map_or("", |c| c.trim()).to_string();
        let key = value_key(&name);
        match values.get(&key) {
            Some(previous) if *previous != value => issues.push(RowIssue {
                line: row.line,
                column: name_header.to_owned(),
                value: name.clone(),
                code: "analito_repetido".into(),
                message: format!(
                    "Linha {}: o analito \"{name}\" ({}) aparece mais de uma vez no grupo \
                     com valores diferentes (\"{previous}\" e \"{value}\"); não se sabe \
                     qual vale. Deixe uma só linha desse analito.",
                    row.line,
                    crate::model::Field::name(*field)
                ),
            }),
            _ => {
                values.insert(key, value);
            }
        }
    }
    values
}

/// A field filled from the group's analyte rows.
fn analyte_text(
    row: &Row,
    slot: &Slot,
    key: &str,
    name: &str,
    analytes: Option<&HashMap<String, String>>,
    issues: &mut Vec<RowIssue>,
) -> String {
    if let Some(value) = analytes.and_then(|v| v.get(key)) {
        value.clone()
    } else {
        // An analyte field never falls back to a default:
        // its row may sit elsewhere in the file.
        issues.push(RowIssue {
            line: row.line,
            column: slot.header.clone(),
            value: String::new(),
            code: "analito_ausente".into(),
            message: format!(
                "Linha {}: o grupo desta linha não tem a linha do analito \
             \"{name}\", que dá {}. A linha não foi enviada: exporte o \
             grupo completo, com as linhas do mesmo grupo juntas.",
                row.line,
                slot.field.label(),
            ),
        });
        String::new()
    }
}

impl Plan {
    /// Compiles `spec` against a file whose columns were mapped into `base`.
    pub(crate) fn new(spec: &LayoutSpec, base: ColumnMap) -> Plan {
        let headers = base.headers.clone();
        let width = headers.len();
        let mut missing = Vec::new();
        let mut locate = |name: &str| {
            let found = find(&headers, name);
            if found.is_none() && !missing.iter().any(|m| m == name) {
                missing.push(name.to_string());
            }
            found
        };
        let targets: Vec<CompiledTarget> = spec
            .targets
            .iter()
            .filter_map(|t| {
                Some(CompiledTarget {
                    column: locate(&t.column)?,
                    exam_code: t.exam_code.clone(),
                    suffix: t.id_suffix.clone(),
                })
            })
            .collect();
        let analytes = spec.analytes.as_ref().and_then(|a| {
            let key: Option<Vec<usize>> = a.key.iter().map(|k| locate(k)).collect();
            Some(CompiledAnalytes {
                key: key?,
                name: locate(&a.name_column)?,
                value: locate(&a.value_column)?,
                fields: a
                    .fields
                    .iter()
                    .map(|(name, f)| (value_key(name), *f))
                    .collect(),
                max_group_rows: a.max_group_rows,
            })
        });
        let keep = spec
            .select
            .keep
            .iter()
            .filter_map(|(column, values)| {
                Some((
                    locate(column)?,
                    values.iter().map(|v| value_key(v)).collect(),
                ))
            })
            .collect();
        let mut compose = Vec::new();
        for (field, c) in &spec.compose {
            let columns: Option<Vec<usize>> = c.columns.iter().map(|h| locate(h)).collect();
            if let Some(columns) = columns {
                compose.push((*field, columns, c.separator.clone(), c.columns.join(" + ")));
            }
        }

        let slots = slots(spec, &base, &targets, analytes.as_ref(), compose);

        let mut view = base;
        for (k, slot) in slots.iter().enumerate() {
            view.by_field.insert(slot.field, width + k);
            view.headers.push(slot.header.clone());
        }
        // A date-only field ignores its time column.
        for field in &spec.date_only {
            match field {
                Field::CollectionDate => view.by_field.remove(&Field::CollectionTime),
                Field::IssuedDate => view.by_field.remove(&Field::IssuedTime),
                _ => None,
            };
        }
        let views = views(&view, &targets, &slots, width);
        let set = |v: &[String]| v.iter().map(|s| value_key(s)).collect::<HashSet<_>>();
        Plan {
            width,
            // A status column selects rows even without other layout keys.
            plain: spec.is_plain() && !view.has(Field::Status),
            views,
            slots,
            values: spec
                .values
                .iter()
                .map(|(f, m)| {
                    let map = m.iter().map(|(k, v)| (value_key(k), v.clone())).collect();
                    (*f, map)
                })
                .collect(),
            value_wordings: spec
                .values
                .iter()
                .map(|(f, m)| (*f, m.keys().map(|k| format!("\"{k}\"")).collect()))
                .collect(),
            date_only: spec.date_only.clone(),
            keep,
            exams: set(&spec.select.exams),
            other_exams: spec.select.other_exams,
            exam_codes: spec.exam_codes.clone(),
            send_statuses: set(&spec.select.send_statuses),
            skip_statuses: set(&spec.select.skip_statuses),
            targets,
            analytes,
            missing,
        }
    }

    /// The column map validation reads for a record (with the slots).
    pub(crate) fn view(&self, index: usize) -> &ColumnMap {
        self.views.get(index).unwrap_or(&self.views[0])
    }

    /// The number of the file's own cells (slots come after).
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// Nothing to do beyond renaming columns: rows go straight to validation.
    pub(crate) fn is_plain(&self) -> bool {
        self.plain
    }

    /// Key columns when the layout groups analyte rows.
    pub(crate) fn group_key(&self) -> Option<(Vec<usize>, usize)> {
        self.analytes
            .as_ref()
            .map(|a| (a.key.clone(), a.max_group_rows))
    }

    /// Header texts the layout names that the file does not have.
    pub(crate) fn missing_columns(&self) -> &[String] {
        &self.missing
    }

    /// Applies the layout to one unit.
    pub(crate) fn apply(&self, unit: Unit, out: &mut Vec<Mapped>) {
        match unit {
            Unit::Row(row) => self.apply_row(row, out),
            Unit::Group(group) => self.apply_group(group, out),
        }
    }

    fn header(&self, i: usize) -> String {
        self.views[0].headers.get(i).cloned().unwrap_or_default()
    }

    fn cell<'r>(&self, row: &'r Row, field: Field) -> Option<(usize, &'r str)> {
        let &i = self.views[0].by_field.get(&field)?;
        (i < self.width).then(|| (i, row.cells.get(i).map_or("", |c| c.trim())))
    }

    /// Selection on the row itself: kept columns, status, exam.
    fn selection(&self, row: &Row, issues: &mut Vec<RowIssue>) -> Option<Skip> {
        let skip = |code, column: String, value: &str| Skip {
            line: row.line,
            code,
            column,
            value: value.to_string(),
        };
        for (i, allowed) in &self.keep {
            let v = row.cells.get(*i).map_or("", |c| c.trim());
            if !allowed.contains(&value_key(v)) {
                return Some(skip("fora_da_selecao", self.header(*i), v));
            }
        }
        if let Some((i, raw)) = self.cell(row, Field::Status) {
            let mapped = match self.values.get(&Field::Status) {
                Some(map) if !raw.is_empty() => map.get(&value_key(raw)).map(String::as_str),
                _ => Some(raw),
            };
            let key = mapped.map(value_key);
            let kind = match &key {
                Some(k) if self.skip_statuses.contains(k) => Some(StatusKind::Skip),
                Some(k) if self.send_statuses.contains(k) => Some(StatusKind::Send),
                Some(k) => status_kind(k),
                None => None,
            };
            match kind {
                Some(StatusKind::Skip) => {
                    return Some(skip("status_nao_liberado", self.header(i), raw))
                }
                Some(StatusKind::Send) => {}
                None => issues.push(RowIssue {
                    line: row.line,
                    column: self.header(i),
                    value: raw.to_string(),
                    code: "status_desconhecido".into(),
                    message: format!(
                        "Linha {}, coluna \"{}\": o status \"{raw}\" não é conhecido: não se sabe \
                         se o resultado está liberado, então a linha não foi enviada. Acrescente \
                         esse status em [inbox.select] send_statuses (liberado) ou skip_statuses \
                         (pendente, cancelado) na configuração.",
                        row.line,
                        self.header(i)
                    ),
                }),
            }
        }
        if self.targets.is_empty() {
            let exam = self
                .cell(row, Field::ExamCode)
                .filter(|(_, v)| !v.is_empty())
                .or_else(|| self.cell(row, Field::ExamName));
            // An empty exam (or `null`) is validation's business: a
            // required field, never "another exam".
            if let Some((i, v)) = exam.filter(|(_, v)| !mapping::is_null(v)) {
                if !self.exams.is_empty() && !self.exams.contains(&value_key(v)) {
                    return Some(skip("exame_nao_selecionado", self.header(i), v));
                }
                if self.other_exams == OtherExams::Skip && !self.exam_known(v) {
                    return Some(skip("outro_exame", self.header(i), v));
                }
            }
        }
        None
    }

    fn exam_known(&self, v: &str) -> bool {
        mapping::exam_code(v).is_some()
            || self
                .exam_codes
                .get(v)
                .is_some_and(|c| mapping::exam_code(c).is_some())
            || mapping::exam_by_name(v).is_some()
    }

    fn apply_row(&self, row: Row, out: &mut Vec<Mapped>) {
        let mut issues = Vec::new();
        if let Some(skip) = self.selection(&row, &mut issues) {
            out.push(Mapped::Skipped(skip));
            return;
        }
        if self.targets.is_empty() {
            out.push(self.record(row, None, None, issues));
            return;
        }
        let last = self.targets.len() - 1;
        let mut row = Some(row);
        for (t, target) in self.targets.iter().enumerate() {
            let Some(source) = row.as_ref() else { break };
            let cell = source.cells.get(target.column).map_or("", |c| c.trim());
            // A value the result map sends to "" also means "not tested"
            // (files that write `-` or `NT` for an untested target).
            let mapped_empty = self
                .values
                .get(&Field::Result)
                .and_then(|m| m.get(&value_key(cell)))
                .is_some_and(|v| v.trim().is_empty());
            if mapping::is_null(cell) || mapped_empty {
                out.push(Mapped::Skipped(Skip {
                    line: source.line,
                    code: "alvo_nao_testado",
                    column: self.header(target.column),
                    value: cell.to_string(),
                }));
                continue;
            }
            // The last target takes the row; earlier ones copy it.
            let this = if t == last { row.take() } else { row.clone() };
            if let Some(this) = this {
                out.push(self.record(this, Some(t), None, issues.clone()));
            }
        }
    }

    fn apply_group(&self, mut group: Group, out: &mut Vec<Mapped>) {
        let Some(a) = &self.analytes else {
            for row in group.rows {
                self.apply_row(row, out);
            }
            return;
        };
        let analyte = |row: &Row| row.cells.get(a.name).map_or("", |c| c.trim()).to_string();
        let field_of = |row: &Row| a.fields.get(&value_key(&analyte(row))).copied();
        let name_header = self.header(a.name);
        let mut mapped = Vec::new();
        for row in std::mem::take(&mut group.rows) {
            match field_of(&row) {
                Some(f) => mapped.push((f, row)),
                None => out.push(Mapped::Skipped(Skip {
                    line: row.line,
                    code: "analito_fora_do_layout",
                    column: name_header.clone(),
                    value: analyte(&row),
                })),
            }
        }
        if mapped.is_empty() {
            return;
        }
        let results = mapped.iter().filter(|(f, _)| *f == Field::Result).count();
        let problem = group_problem(&group, results);
        if results == 0 && problem.is_none() {
            for (_, row) in mapped {
                out.push(Mapped::Skipped(Skip {
                    line: row.line,
                    code: "grupo_sem_resultado",
                    column: name_header.clone(),
                    value: analyte(&row),
                }));
            }
            return;
        }
        if let Some((code, text)) = problem {
            for (_, row) in mapped {
                let issue = RowIssue {
                    line: row.line,
                    column: name_header.clone(),
                    value: analyte(&row),
                    code: code.into(),
                    message: format!("Linha {}: {text}", row.line),
                };
                out.push(Mapped::Invalid {
                    row,
                    issues: vec![issue],
                });
            }
            return;
        }
        let Some(index) = mapped.iter().position(|(f, _)| *f == Field::Result) else {
            return;
        };
        let (_, base) = mapped.swap_remove(index);
        let mut issues = Vec::new();
        if let Some(skip) = self.selection(&base, &mut issues) {
            out.push(Mapped::Skipped(skip.clone()));
            for (_, row) in mapped {
                out.push(Mapped::Skipped(Skip {
                    line: row.line,
                    ..skip.clone()
                }));
            }
            return;
        }
        let mut values = analyte_values(a, &mapped, &name_header, &mut issues);
        let base_value = base.cells.get(a.value).map_or("", |c| c.trim()).to_string();
        values.insert(value_key(&analyte(&base)), base_value);
        for (_, row) in &mapped {
            out.push(Mapped::Skipped(Skip {
                line: row.line,
                code: "analito_agrupado",
                column: name_header.clone(),
                value: analyte(row),
            }));
        }
        out.push(self.record(base, None, Some(&values), issues));
    }

    /// The row with its slots filled, value maps applied.
    fn record(
        &self,
        mut row: Row,
        target: Option<usize>,
        analytes: Option<&HashMap<String, String>>,
        mut issues: Vec<RowIssue>,
    ) -> Mapped {
        if self.slots.is_empty() {
            return Mapped::Record {
                row,
                issues,
                view: 0,
            };
        }
        let cell = |row: &Row, i: usize| row.cells.get(i).map_or("", |c| c.trim()).to_string();
        row.cells.resize(self.width, String::new());
        for (k, slot) in self.slots.iter().enumerate() {
            let t = target.unwrap_or(0);
            let mut header = slot.header.clone();
            let _ = k;
            let mut text = match &slot.source {
                Source::Column(i) => cell(&row, *i),
                Source::Target => {
                    let column = self.targets.get(t).map_or(0, |x| x.column);
                    header = self.header(column);
                    cell(&row, column)
                }
                Source::TargetExam => {
                    header = self.targets.get(t).map_or(String::new(), |x| {
                        format!("{} (exam_code)", self.header(x.column))
                    });
                    self.targets
                        .get(t)
                        .map_or(String::new(), |x| x.exam_code.clone())
                }
                Source::SuffixedId(i) => {
                    let id = cell(&row, *i);
                    match self.targets.get(t).and_then(|x| x.suffix.as_deref()) {
                        Some(s) if !mapping::is_blank_optional(&id) => format!("{id}-{s}"),
                        _ => id,
                    }
                }
                Source::Compose(columns, separator) => {
                    composed(&row, slot, columns, separator, &mut issues)
                }
                Source::Analyte(key, name) => {
                    analyte_text(&row, slot, key, name, analytes, &mut issues)
                }
            };
            if self.date_only.contains(&slot.field) {
                text = date_part(&text).to_string();
            }
            if let Some(map) = self.values.get(&slot.field) {
                // `-` is a result wording, elsewhere it means "nothing".
                let blank = if slot.field == Field::Result {
                    mapping::is_null(&text)
                } else {
                    mapping::is_blank_optional(&text)
                };
                if !blank {
                    if let Some(to) = map.get(&value_key(&text)) {
                        text = to.clone();
                    } else if !text.trim().is_empty() {
                        let known = self
                            .value_wordings
                            .get(&slot.field)
                            .map(|w| w.join(", "))
                            .unwrap_or_default();
                        issues.push(RowIssue {
                            line: row.line,
                            column: header.clone(),
                            value: text.clone(),
                            code: "valor_nao_mapeado".into(),
                            message: format!(
                                "Linha {}, coluna \"{header}\": o valor \"{text}\" não está em \
                                 [inbox.values.{}] (valores conhecidos: {}). A linha não foi \
                                 enviada: acrescente o valor à tabela ou corrija o arquivo.",
                                row.line,
                                slot.field.name(),
                                known
                            ),
                        });
                        text.clear();
                    }
                }
            }
            row.cells.push(text);
        }
        Mapped::Record {
            row,
            issues,
            view: target.unwrap_or(0),
        }
    }
}
