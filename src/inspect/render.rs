//! The pt-BR text of `inspecionar` and its ready-to-paste `[[inbox]]`
//! snippet.
//!
//! Invariant: text only; decides nothing.

use std::fmt::Write;

use super::{layout_headers, Inspection, Layout, MidnightColumn};
use crate::input::{Format, SourceInfo};
use crate::layout::{preset, LayoutSpec};
use crate::model::Field;
use crate::pipeline::FileJob;
use crate::report::SkippedRows;

/// Unused columns listed by name (the rest are counted).
const UNUSED_SHOWN: usize = 12;
/// Problem kinds listed (the rest are counted).
const PROBLEMS_SHOWN: usize = 8;

/// How a field gets its value in this file.
enum Source {
    Column(String),
    Default(String),
    /// Filled in by rnds-drop itself (derived lab id, the config's CNES).
    Built(&'static str),
    Missing,
    Unused,
}

/// Fields RNDS needs, in the order a person checks them; `true` = required.
const FIELDS: [(Field, bool); 17] = [
    (Field::LabId, false),
    (Field::PatientCns, true),
    (Field::CollectionDate, true),
    (Field::CollectionTime, false),
    (Field::IssuedDate, true),
    (Field::IssuedTime, false),
    (Field::ExamCode, true),
    (Field::ExamName, false),
    (Field::Result, true),
    (Field::ResultUnit, false),
    (Field::Interpretation, false),
    (Field::Specimen, true),
    (Field::Method, true),
    (Field::ReferenceRange, true),
    (Field::Notes, false),
    (Field::LabCnes, false),
    (Field::Performer, false),
];

fn source(i: &Inspection, job: &FileJob, field: Field, assumed: bool) -> Source {
    if let Some(h) = i.columns.header(field) {
        return Source::Column(h.to_string());
    }
    let d = &job.validate.defaults;
    let configured = |v: Option<&str>| match v {
        Some(v) if !assumed => Source::Default(v.to_string()),
        _ => Source::Missing,
    };
    if assumed && matches!(field, Field::Method | Field::ReferenceRange) {
        return Source::Built("a definir em [defaults] na configuração");
    }
    match field {
        Field::LabId => Source::Built("derivado do CNES, CNS, exame, coleta e amostra"),
        Field::LabCnes => Source::Built("o CNES de [lab] na configuração"),
        Field::ExamCode if i.columns.has(Field::ExamName) => Source::Unused,
        Field::ExamCode => configured(d.exam_code.as_deref()),
        Field::Specimen => configured(d.specimen.as_deref()),
        Field::Method => configured(d.method_for("")),
        Field::ReferenceRange => configured(d.reference_range_for("")),
        _ => Source::Missing,
    }
}

/// The whole report of one file.
pub fn render(i: &Inspection, job: &FileJob, assumed: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "═══ {} ═══", i.file);
    let Some(src) = &i.source else {
        let _ = writeln!(
            out,
            "✗ não foi possível ler o arquivo: {}",
            i.error.as_deref().unwrap_or("motivo desconhecido")
        );
        return out;
    };
    write_reading(&mut out, src);
    if let Some(layout) = &i.layout {
        let _ = writeln!(out, "Leiaute: {}", layout.describe());
    }
    write_fields(&mut out, i, job, assumed);
    write_unused_columns(&mut out, i, job, src);
    if !i.file_issues.is_empty() {
        let _ = writeln!(
            out,
            "O que falta para a RNDS (nenhuma linha pode ser enviada):"
        );
        for issue in &i.file_issues {
            let _ = writeln!(out, "  ✗ {}", issue.message);
        }
    }
    let not_results = matches!(i.layout, Some(Layout::Instrument | Layout::NotResults));
    if not_results {
        let _ = writeln!(
            out,
            "Linhas: {} · nenhuma é um resultado de exame de paciente",
            i.rows_total
        );
    } else {
        let _ = writeln!(
            out,
            "Linhas: {} · {} seriam enviadas · {} ignoradas (não são resultados a enviar) · {} com problema",
            i.rows_total, i.rows_valid, i.rows_skipped, i.rows_invalid
        );
    }
    write_skipped_and_problems(&mut out, i);
    for m in &i.midnight {
        let _ = writeln!(out, "! {}", midnight_warning(m));
    }
    if let Some(name) = &i.preset {
        let how = if i.preset_applied {
            "as contagens acima já usam esse leiaute"
        } else {
            "as contagens acima usam a configuração dada"
        };
        let _ = writeln!(
            out,
            "(o cabeçalho tem todas as colunas do leiaute pronto \"{name}\": {how})"
        );
    }
    if assumed {
        let _ = writeln!(
            out,
            "(sem --config: contei as linhas supondo que a configuração vai definir category, \
             method e reference_range em [defaults]; fuso America/Sao_Paulo)"
        );
    }
    if !not_results {
        let _ = writeln!(out, "Trecho para a configuração (cole no rnds-drop.toml):");
        for line in snippet(i, job, assumed).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let verdict = verdict(i);
    let _ = writeln!(out, "{verdict}");
    out
}

/// How the file was read: format, encoding, separator or sheet, header line.
fn write_reading(out: &mut String, src: &SourceInfo) {
    match src.format {
        Format::Csv => {
            let delimiter = match src.delimiter {
                Some('\t') => "tabulação".to_string(),
                Some(c) => format!("\"{c}\""),
                None => "?".into(),
            };
            let _ = writeln!(
                out,
                "Leitura: CSV · codificação {} · separador {delimiter} · cabeçalho na linha {}",
                src.encoding.as_deref().unwrap_or("?"),
                src.header_line
            );
        }
        Format::Xlsx => {
            let _ = writeln!(
                out,
                "Leitura: XLSX · planilha \"{}\" · cabeçalho na linha {}",
                src.sheet.as_deref().unwrap_or("?"),
                src.header_line
            );
        }
    }
}

/// Where each field comes from: a column, a default or nowhere.
fn write_fields(out: &mut String, i: &Inspection, job: &FileJob, assumed: bool) {
    let _ = writeln!(out, "Campos (campo ← coluna do arquivo ou valor padrão):");
    for (field, required) in FIELDS {
        let text = match source(i, job, field, assumed) {
            Source::Column(h) => format!("← coluna \"{h}\""),
            Source::Default(v) => format!("← valor padrão da configuração: \"{v}\""),
            Source::Built(how) => format!("← {how}"),
            Source::Missing if required => "✗ não encontrado".into(),
            Source::Missing | Source::Unused => "— (opcional, ausente)".into(),
        };
        let _ = writeln!(out, "  {:<36} {text}", field.label());
    }
    for field in [Field::PatientCpf, Field::PatientName] {
        if let Some(h) = i.columns.header(field) {
            let _ = writeln!(
                out,
                "  {:<36} ← coluna \"{h}\" (lida só para os relatórios; não vai para a RNDS)",
                field.label()
            );
        }
    }
}

/// The file's columns that no field and no layout uses.
fn write_unused_columns(out: &mut String, i: &Inspection, job: &FileJob, src: &SourceInfo) {
    let used: Vec<usize> = i.columns.by_field.values().copied().collect();
    let preset_spec = i.preset.as_deref().and_then(preset);
    let by_layout: Vec<String> = layout_headers(&job.layout)
        .into_iter()
        .chain(preset_spec.as_ref().map(layout_headers).unwrap_or_default())
        .map(crate::mapping::key)
        .collect();
    let unused: Vec<String> = src
        .headers
        .iter()
        .enumerate()
        .filter(|(n, h)| {
            !used.contains(n) && !h.is_empty() && !by_layout.contains(&crate::mapping::key(h))
        })
        .map(|(_, h)| format!("\"{h}\""))
        .collect();
    if !unused.is_empty() {
        let more = unused.len().saturating_sub(UNUSED_SHOWN);
        let shown: Vec<&str> = unused
            .iter()
            .take(UNUSED_SHOWN)
            .map(String::as_str)
            .collect();
        let tail = if more > 0 {
            format!(" e mais {more}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "Colunas não usadas ({}): {}{tail}",
            unused.len(),
            shown.join(", ")
        );
    }
}

/// Why rows are skipped and what is wrong with the rest, most rows first.
fn write_skipped_and_problems(out: &mut String, i: &Inspection) {
    let mut skipped: Vec<&SkippedRows> = i.skipped.iter().collect();
    skipped.sort_by_key(|s| std::cmp::Reverse(s.rows));
    for s in skipped.iter().take(PROBLEMS_SHOWN) {
        let _ = writeln!(out, "  {} ignorada(s) · {}", s.rows, s.reason);
    }
    if skipped.len() > PROBLEMS_SHOWN {
        let _ = writeln!(
            out,
            "  … e mais {} motivos para ignorar linhas",
            skipped.len() - PROBLEMS_SHOWN
        );
    }
    for p in i.problems.iter().take(PROBLEMS_SHOWN) {
        let example = p.examples.first().map_or("", |e| e.message.as_str());
        let _ = writeln!(out, "  {} linha(s) · {}: {example}", p.rows, p.code);
        if !p.values.is_empty() {
            out.push_str(&values_line(p));
        }
    }
    if let Some(p) = i.problems.iter().find(|p| p.code == "exame_desconhecido") {
        out.push_str(&other_exams_suggestion(p));
    }
    if i.problems.len() > PROBLEMS_SHOWN {
        let _ = writeln!(
            out,
            "  … e mais {} tipos de problema (veja-os todos com rnds-drop check)",
            i.problems.len() - PROBLEMS_SHOWN
        );
    }
}

/// The last line: can the file be sent as it is?
fn verdict(i: &Inspection) -> String {
    if i.sendable_as_is() {
        "✓ pode ser enviado como está".to_string()
    } else if !i.file_issues.is_empty() {
        "✗ não pode ser enviado: resolva o que falta acima".to_string()
    } else if i.rows_valid == 0 {
        "✗ nenhuma linha seria enviada como está".to_string()
    } else {
        format!(
            "✗ não pode ser enviado como está: {} de {} linhas seriam recusadas",
            i.rows_invalid, i.rows_total
        )
    }
}

fn midnight_warning(m: &MidnightColumn) -> String {
    let hours: Vec<String> = m.utc_hours.iter().map(|h| format!("{h:02}h")).collect();
    let when = if m.on_the_hour {
        "sempre em hora cheia"
    } else {
        "sempre na mesma hora"
    };
    format!(
        "a coluna \"{}\" tem data e hora com fuso nos {} valores, {when} ({} UTC; 03h UTC é \
         meia-noite em Brasília, 04h no Amazonas, 05h no Acre): parecem datas gravadas como \
         meia-noite, não horários de verdade. Declare a coluna como data (date_only no \
         [[inbox]], a hora é ignorada); senão, num fuso diferente do de quem gravou, a data muda \
         de dia.",
        m.header,
        m.values,
        hours.join(", ")
    )
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The `[[inbox]]` snippet: every column found (so the mapping no longer
/// depends on recognition), what is missing as commented placeholders.
pub fn snippet(i: &Inspection, job: &FileJob, assumed: bool) -> String {
    let mut out = String::new();
    out.push_str("[[inbox]]\npath = \"entrada\"\noutbox = \"saida\"\n");
    if let Some(sheet) = i.source.as_ref().and_then(|s| s.sheet.as_deref()) {
        let _ = writeln!(out, "sheet = {}", quoted(sheet));
    }
    let preset_spec = i.preset.as_deref().and_then(|n| Some((n, preset(n)?)));
    if let Some((name, _)) = &preset_spec {
        let _ = writeln!(out, "layout = {}", quoted(name));
    }
    let dates = date_only_fields(i);
    if !dates.is_empty() {
        let _ = writeln!(out, "date_only = [{}]", dates.join(", "));
    }
    out.push_str("\n[inbox.columns]\n");
    write_columns(&mut out, i, job, assumed, preset_spec.as_ref());
    write_exam_codes(&mut out, i, job);
    let defaults = defaults_lines(i, job, assumed);
    if !defaults.is_empty() {
        out.push_str("\n[inbox.defaults]\n");
        out.push_str(&defaults);
    }
    out
}

/// Date fields whose values are dates stored as midnight, as TOML strings.
fn date_only_fields(i: &Inspection) -> Vec<String> {
    i.midnight
        .iter()
        .filter_map(|m| {
            i.columns
                .by_field
                .iter()
                .find(|(_, &n)| i.columns.headers.get(n) == Some(&m.header))
                .map(|(f, _)| *f)
        })
        .filter(|f| matches!(f, Field::CollectionDate | Field::IssuedDate))
        .map(|f| quoted(f.name()))
        .collect()
}

/// `[inbox.columns]`: each column found, each missing required one commented.
fn write_columns(
    out: &mut String,
    i: &Inspection,
    job: &FileJob,
    assumed: bool,
    preset_spec: Option<&(&str, LayoutSpec)>,
) {
    let width = i.source.as_ref().map_or(0, |s| s.headers.len());
    for (field, required) in FIELDS
        .iter()
        .copied()
        .chain([(Field::PatientCpf, false), (Field::PatientName, false)])
    {
        let covered = has_default(i, job, field, assumed)
            || i.columns.has(field)
            || (field == Field::ExamCode && i.columns.has(Field::ExamName));
        let from_preset = preset_spec
            .and_then(|(_, spec)| spec.columns.get(&field))
            .is_some_and(|h| Some(h.as_str()) == i.columns.header(field));
        // Fields the layout fills (a target, an analyte) point past the
        // file's own columns: they are no header to name.
        let own_column = i.columns.by_field.get(&field).is_some_and(|&n| n < width);
        match (i.columns.header(field).filter(|_| own_column), required) {
            (Some(_), _) if from_preset => {}
            (Some(h), _) => {
                let _ = writeln!(out, "{} = {}", field.name(), quoted(h));
            }
            (None, true) if !covered => {
                let _ = writeln!(
                    out,
                    "# {} = \"<nome da coluna>\"   # obrigatório: não encontrado",
                    field.name()
                );
            }
            _ => {}
        }
    }
}

/// The exam code table, or a commented hint of how to write one.
fn write_exam_codes(out: &mut String, i: &Inspection, job: &FileJob) {
    if !job.validate.exam_codes.is_empty() {
        out.push_str("\n[inbox.exam_codes]\n");
        for (local, code) in &job.validate.exam_codes {
            let _ = writeln!(out, "{} = {}", quoted(local), quoted(code));
        }
    } else if !i.columns.has(Field::ExamCode) && !i.columns.has(Field::ExamName) {
        out.push_str(
            "\n# Sem coluna de exame: só se TODAS as linhas forem do mesmo exame de SARS-CoV-2.\n",
        );
    } else {
        out.push_str(
            "\n# Códigos internos de exame de SARS-CoV-2 → LOINC, se houver:\n\
             # [inbox.exam_codes]\n\
             # \"<código do laboratório>\" = \"<código LOINC>\"\n",
        );
    }
}

/// The `[inbox.defaults]` lines for fields that have no column.
fn defaults_lines(i: &Inspection, job: &FileJob, assumed: bool) -> String {
    let mut defaults = String::new();
    for (field, key, placeholder) in [
        (Field::ExamCode, "exam_code", "<código LOINC>"),
        (Field::Specimen, "specimen", "<código da amostra>"),
        (Field::Method, "method", "<método>"),
        (
            Field::ReferenceRange,
            "reference_range",
            "<valor de referência>",
        ),
    ] {
        let has_column =
            i.columns.has(field) || (field == Field::ExamCode && i.columns.has(Field::ExamName));
        if has_column {
            continue;
        }
        match source(i, job, field, assumed) {
            Source::Default(v) => {
                let _ = writeln!(defaults, "{key} = {}", quoted(&v));
            }
            Source::Built(_) => {
                let _ = writeln!(
                    defaults,
                    "# {key} = \"{placeholder}\"   # defina aqui ou em [defaults]"
                );
            }
            _ => {
                let _ = writeln!(defaults, "# {key} = \"{placeholder}\"   # obrigatório");
            }
        }
    }
    if assumed {
        defaults
            .push_str("# category = \"0202\"   # 0202 laboratório clínico, 0214 teste rápido\n");
    }
    defaults
}

fn has_default(i: &Inspection, job: &FileJob, field: Field, assumed: bool) -> bool {
    matches!(source(i, job, field, assumed), Source::Default(_))
}

/// Every distinct value of a problem that names unknown values, with its
/// rows: `    valores (linhas): "TSH" (3) · "COVID PCR" (1)`.
fn values_line(p: &super::ProblemCount) -> String {
    let listed: Vec<String> = p
        .values
        .iter()
        .map(|(value, rows)| {
            if value.is_empty() {
                format!("(vazio) ({rows})")
            } else {
                format!("\"{value}\" ({rows})")
            }
        })
        .collect();
    let more = if p.rows_of_other_values > 0 {
        format!(
            " · e mais {} linha(s) com outros valores (veja o erros.xlsx do check)",
            p.rows_of_other_values
        )
    } else {
        String::new()
    };
    format!("    valores (linhas): {}{more}\n", listed.join(" · "))
}

/// Words that mark an exam name as SARS-CoV-2 (case and accents aside).
const SARS_COV_2_MARKS: [&str; 6] = ["covid", "sars", "corona", "ncov", "cov2", "cov-2"];

fn looks_like_sars_cov_2(name: &str) -> bool {
    let lower = name.to_lowercase();
    SARS_COV_2_MARKS.iter().any(|m| lower.contains(m))
}

/// Distinct values with their rows, borrowed from a [`super::ProblemCount`].
type ValueRows<'a> = Vec<&'a (String, u64)>;

/// When most unknown exams are other exams (TSH, hemograma…), the file is
/// a LIS export of every exam: suggest skipping other exams, after mapping
/// the SARS-CoV-2 names, which `skip` would otherwise ignore unsent.
fn other_exams_suggestion(p: &super::ProblemCount) -> String {
    let (covid, other): (ValueRows<'_>, ValueRows<'_>) = p
        .values
        .iter()
        .partition(|(value, _)| looks_like_sars_cov_2(value));
    let other_rows: u64 = other.iter().map(|(_, rows)| rows).sum();
    let covid_rows: u64 = covid.iter().map(|(_, rows)| rows).sum();
    if other_rows <= covid_rows + p.rows_of_other_values {
        return String::new();
    }
    let names = |list: &[&(String, u64)]| {
        list.iter()
            .take(5)
            .map(|(v, _)| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "  Sugestão: a maioria dos exames desconhecidos não é de SARS-CoV-2 ({}): o arquivo \
         parece trazer todos os exames do laboratório. Acrescente ao [[inbox]]\n    \
         [inbox.select]\n    other_exams = \"skip\"\n  para ignorar (sem erro) as linhas de \
         outros exames.\n",
        names(&other)
    );
    if !covid.is_empty() {
        out.push_str(&format!(
            "  Antes, mapeie em [inbox.exam_codes] os nomes que parecem de SARS-CoV-2 ({}), \
             cada um com o código LOINC do exame que ele é: com other_exams = \"skip\", um nome \
             não mapeado seria ignorado, não enviado.\n",
            names(&covid)
        ));
    }
    out
}
