//! File-level issues: required fields that have neither a column nor a
//! default, reported once on the header line.
//!
//! Invariant: pure; looks at the column map and the settings, never a row.

use super::messages::label;
use super::{file_kind, panel, Settings};
use crate::mapping::{self, ColumnMap};
use crate::model::{Field, RowIssue};

/// What a required field lacks at file level: a column and a default.
pub(super) fn file_issues(map: &ColumnMap, settings: &Settings, header_line: u64) -> Vec<RowIssue> {
    // A file that is not results at all gets that one sentence, not a list
    // of every column it lacks.
    if let Some(issue) = file_kind::not_results_issue(map, header_line) {
        return vec![issue];
    }
    let defaults = &settings.defaults;
    let any_exam =
        |pick: fn(&crate::config::ExamDefaults) -> bool| defaults.exams.values().any(pick);
    let mut issues = Vec::new();
    let missing = |field: Field, config_hint: Option<&str>, issues: &mut Vec<RowIssue>| {
        issues.push(missing_column(map, field, config_hint, header_line));
    };
    for (field, wanted) in &map.missing_overrides {
        issues.push(missing_override(map, *field, wanted, header_line));
    }
    for field in [
        Field::PatientCns,
        Field::CollectionDate,
        Field::IssuedDate,
        Field::Result,
    ] {
        if !map.has(field) {
            missing(field, None, &mut issues);
        }
    }
    if !map.has(Field::ExamCode) && !map.has(Field::ExamName) && defaults.exam_code.is_none() {
        missing(
            Field::ExamCode,
            Some(
                "exam_code = \"<código LOINC>\", só se todas as linhas do arquivo forem desse \
                 exame",
            ),
            &mut issues,
        );
    }
    if !map.has(Field::Specimen)
        && defaults.specimen.is_none()
        && !any_exam(|e| e.specimen.is_some())
    {
        missing(
            Field::Specimen,
            Some("specimen = \"<código da amostra>\", só se todas as linhas forem dessa amostra"),
            &mut issues,
        );
    }
    if !map.has(Field::Method) && defaults.method.is_none() && !any_exam(|e| e.method.is_some()) {
        missing(Field::Method, Some("method = \"RT-PCR\""), &mut issues);
    }
    if !map.has(Field::ReferenceRange)
        && defaults.reference_range.is_none()
        && !any_exam(|e| e.reference_range.is_some())
    {
        missing(
            Field::ReferenceRange,
            Some("reference_range = \"Não detectável\""),
            &mut issues,
        );
    }
    issues.extend(panel::file_issue(map, header_line));
    if defaults.category.is_none() && !any_exam(|e| e.category.is_some()) {
        issues.push(RowIssue {
            line: header_line,
            column: String::new(),
            value: String::new(),
            code: "categoria_ausente".into(),
            message: format!(
                "Linha {header_line} (cabeçalho): nenhuma linha deste arquivo pode ser enviada: \
                 nenhuma categoria (BRSubgrupoTabelaSUS) está configurada. Defina category em [defaults] (ex.: \"0202\" laboratório clínico, \
                 \"0214\" teste rápido)."
            ),
        });
    }
    issues
}

/// A required field with neither a column nor a default: the names it is
/// recognized by and how to name it in the configuration.
fn missing_column(
    map: &ColumnMap,
    field: Field,
    config_hint: Option<&str>,
    header_line: u64,
) -> RowIssue {
    let known = mapping::header_wordings(field)
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = config_hint
        .map(|h| format!(", ou defina um valor padrão em [defaults] ({h})"))
        .unwrap_or_default();
    let cpf_note = match field {
        Field::PatientCns if map.has(Field::PatientCpf) => {
            " O arquivo tem CPF, mas a RNDS identifica o paciente só pelo CNS: o CPF não \
             pode ser usado."
        }
        Field::PatientCns => " A RNDS identifica o paciente só pelo CNS.",
        _ => "",
    };
    RowIssue {
        line: header_line,
        column: String::new(),
        value: String::new(),
        code: "coluna_ausente".into(),
        message: format!(
            "Linha {header_line} (cabeçalho): nenhuma linha deste arquivo pode ser enviada: \
             nenhuma coluna com {} foi encontrada.{cpf_note} Nomes reconhecidos: {known}. \
             Renomeie a coluna para um desses nomes ou indique-a em [inbox.columns] \
             ({} = \"nome da coluna\"){hint}.",
            label(field),
            field.name()
        ),
    }
}

/// A column named in [inbox.columns] that the file does not have.
fn missing_override(map: &ColumnMap, field: Field, wanted: &str, header_line: u64) -> RowIssue {
    // The file's own headers, once each (not the layout's slots).
    let mut own: Vec<&str> = Vec::new();
    for h in map.headers.iter().take(map.file_headers) {
        if !own.contains(&h.as_str()) {
            own.push(h);
        }
    }
    let headers = own
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ");
    RowIssue {
        line: header_line,
        column: wanted.to_owned(),
        value: String::new(),
        code: "coluna_configurada_ausente".into(),
        message: format!(
            "Linha {header_line} (cabeçalho): a configuração ([inbox.columns] {} = \"{wanted}\") \
             diz que {} está na coluna \"{wanted}\", mas o arquivo não tem essa coluna (ou \
             ela já foi usada para outro campo). Colunas do arquivo: {headers}. Corrija o \
             nome em [inbox.columns] ou o cabeçalho do arquivo.",
            field.name(),
            label(field)
        ),
    }
}
