//! The rules applied to one row, in the order a person would check them,
//! collecting every issue instead of stopping at the first.
//!
//! Invariant: pure; reads the row, the column map and the settings only.

use uuid::Uuid;

use super::check::Check;
use super::messages::{self, label, place};
use super::parties::{lab_cnes, patient_cns, performer};
use super::result::result_value;
use super::when::{collected, collection_before_release, issued};
use super::Settings;
use crate::input::Row;
use crate::mapping::{self, ColumnMap};
use crate::model::{ExamCode, Field, LabResult, RowIssue, SpecimenCode, When};
use crate::schemas::{self, code_systems};

/// Namespace of the lab ids derived for rows without an id column (fixed
/// for ever: changing it would resend every such row under a new id).
pub(crate) const LAB_ID_NAMESPACE: Uuid =
    Uuid::from_u128(0x6f1c_2a57_93d4_4e0b_9a3e_52c1_7d0b_e8a4);

pub(super) fn validate_row(
    row: &Row,
    map: &ColumnMap,
    settings: &Settings,
) -> Result<LabResult, Vec<RowIssue>> {
    if row.is_doubtful() {
        // A cut value is not the file's value, a repeated header is no
        // data, a swallowed row is not one cell: nothing of it is sent.
        return Err(super::notes::reader_issues(row, map));
    }
    let short = super::notes::short_row_issues(row, map);
    if !short.is_empty() {
        return Err(short);
    }
    let mut c = Check {
        row,
        map,
        settings,
        issues: Vec::new(),
    };
    let own_id = own_lab_id(&mut c);
    let patient_cns = patient_cns(&mut c);
    let cnes = lab_cnes(&mut c);
    let exam = exam(&mut c);
    let collected = collected(&mut c);
    let mut issued = issued(&mut c);
    if let (Some(collected), Some((at, has_time))) = (collected, issued.as_mut()) {
        collection_before_release(&mut c, collected, *at, *has_time);
        // A release given as a date alone becomes local midnight; when the
        // collection was later that same day, midnight would state a
        // release before the collection: the collection instant is the
        // earliest truthful release time.
        if let (When::Instant(t), false) = (collected, *has_time) {
            if t > *at {
                *at = t;
            }
        }
    }
    let value = result_value(&mut c);
    let exam_key = exam.as_ref().map_or("", |e| e.code.as_str());
    let specimen = specimen(&mut c, exam_key);
    let method = text_or_default(
        &mut c,
        Field::Method,
        settings.defaults.method_for(exam_key),
    );
    if c.optional(Field::Method).is_none() && settings.defaults.method_is_global_for(exam_key) {
        global_method_fits(&mut c, method.as_deref(), exam_key);
    }
    let reference_range = text_or_default(
        &mut c,
        Field::ReferenceRange,
        settings.defaults.reference_range_for(exam_key),
    );
    let category = category(&mut c, exam_key);
    let performer = performer(&mut c, cnes.as_deref());
    let notes: Vec<String> = c
        .optional(Field::Notes)
        .map(str::to_string)
        .into_iter()
        .collect();

    let result = (|| {
        let patient_cns = patient_cns?;
        let exam = exam?;
        let collected = collected?;
        let specimen = specimen?;
        let lab_id = match own_id.ok()? {
            Some(id) => id.to_string(),
            None => derived_lab_id(cnes.as_deref()?, &patient_cns, &exam, &collected, &specimen),
        };
        Some(LabResult {
            line: row.line,
            lab_id,
            patient_cns,
            exam,
            category: category?,
            collected,
            issued: issued?.0,
            value: value?,
            specimen,
            method: method?,
            reference_range: reference_range?,
            notes,
            author: settings.author.clone(),
            performer: performer?,
        })
    })();
    match result {
        Some(result) if c.issues.is_empty() => Ok(result),
        _ => {
            // Every rule that yields nothing has pushed its issue.
            debug_assert!(
                !c.issues.is_empty(),
                "row {} refused without an issue",
                row.line
            );
            Err(c.issues)
        }
    }
}

/// Same row, same id: a UUIDv5 of the result's identifying content.
pub(crate) fn derived_lab_id(
    cnes: &str,
    cns: &str,
    exam: &ExamCode,
    collected: &When,
    specimen: &SpecimenCode,
) -> String {
    let name = format!(
        "{cnes}|{cns}|{}|{}|{}",
        exam.code,
        collected.to_fhir(),
        specimen.code
    );
    Uuid::new_v5(&LAB_ID_NAMESPACE, name.as_bytes()).to_string()
}

/// The longest lab id accepted (a FHIR `id` is at most 64 characters too).
pub(crate) const MAX_LAB_ID_CHARS: usize = 64;

/// The row's own lab id (`Ok(None)` when it has none and one is derived).
/// It goes to RNDS and back into the reports staff open in Excel, so only
/// a plain character set is accepted: ASCII letters, digits and `-_./`.
fn own_lab_id<'a>(c: &mut Check<'a>) -> Result<Option<&'a str>, ()> {
    let Some(id) = c.optional(Field::LabId) else {
        return Ok(None);
    };
    let allowed = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '/');
    let mut refused: Vec<char> = Vec::new();
    for ch in id.chars().filter(|&ch| !allowed(ch)) {
        if !refused.contains(&ch) {
            refused.push(ch);
        }
    }
    let length = id.chars().count();
    let reason = if !refused.is_empty() {
        let shown: String = refused
            .iter()
            .take(10)
            .map(|ch| match ch {
                ' ' => "espaço".to_owned(),
                other => format!("{other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        format!("tem caracteres não aceitos ({shown})")
    } else if length > MAX_LAB_ID_CHARS {
        format!("tem {length} caracteres")
    } else {
        return Ok(Some(id));
    };
    let message = format!(
        "{}: o identificador do exame \"{id}\" {reason}; ele vai para a RNDS, por isso só são \
         aceitos letras sem acento, dígitos e - _ . / (até {MAX_LAB_ID_CHARS} caracteres). \
         Confira se a coluna certa foi exportada como identificador do exame e corrija-o no \
         sistema do laboratório.",
        c.place(Field::LabId)
    );
    c.push(Some(Field::LabId), "id_exame_invalido", message);
    Err(())
}

/// Code column, then the per-lab table, then the exam name; else the default.
fn exam(c: &mut Check) -> Option<ExamCode> {
    let by_table = |text: &str| {
        c.settings
            .exam_codes
            .get(text)
            .and_then(|target| mapping::exam_code(target))
    };
    let code_cell = c.value(Field::ExamCode);
    let name_cell = c.value(Field::ExamName);
    if let Some(code) = code_cell {
        let found = mapping::exam_code(code)
            .or_else(|| by_table(code))
            .or_else(|| mapping::exam_by_name(code))
            .or_else(|| name_cell.and_then(mapping::exam_by_name));
        if found.is_none() {
            unknown_exam(c, Field::ExamCode, code);
        }
        return found;
    }
    if let Some(name) = name_cell {
        // Many exports put the code itself in a column headed "Exame".
        let found = mapping::exam_by_name(name)
            .or_else(|| mapping::exam_code(name))
            .or_else(|| by_table(name));
        if found.is_none() {
            unknown_exam(c, Field::ExamName, name);
        }
        return found;
    }
    if let Some(default) = c.settings.defaults.exam_code.as_deref() {
        let found = mapping::exam_code(default).or_else(|| by_table(default));
        if found.is_none() {
            let message = format!(
                "{}: o exame padrão \"{default}\" configurado em [defaults] exam_code não está \
                 na tabela BRNomeExameLOINC nem na BRNomeExameGAL. Corrija a configuração.",
                place(c.row.line, "")
            );
            c.push(None, "exame_desconhecido", message);
        }
        return found;
    }
    let field = if c.map.has(Field::ExamCode) || !c.map.has(Field::ExamName) {
        Field::ExamCode
    } else {
        Field::ExamName
    };
    c.required_empty(field);
    None
}

fn unknown_exam(c: &mut Check, field: Field, value: &str) {
    let message = messages::unknown_exam(&c.place(field), value);
    c.push(Some(field), "exame_desconhecido", message);
}

/// A global `[defaults] method` is written for one kind of exam; on a row
/// of another kind (RT-PCR on an antibody test) it would be a false
/// statement sent to RNDS, so the row is refused with the fix.
fn global_method_fits(c: &mut Check, method: Option<&str>, exam: &str) {
    let Some(method) = method else { return };
    if let Some((method_kind, exam_kind)) = super::exam_kind::mismatch(method, exam) {
        let message = format!(
            "{}: o exame {exam} é um teste {} e receberia o método padrão \"{method}\" de \
             [defaults] method, que é de um teste {}. Defina o método deste exame na \
             configuração ([defaults.exams.\"{exam}\"] method = \"...\") ou preencha a coluna \
             de método no arquivo.",
            place(c.row.line, ""),
            exam_kind.words(),
            method_kind.words()
        );
        c.push(None, "metodo_padrao_de_outro_exame", message);
    }
}

fn specimen(c: &mut Check, exam: &str) -> Option<SpecimenCode> {
    if let Some(text) = c.value(Field::Specimen) {
        let found = mapping::specimen(text);
        if found.is_none() {
            let message = format!(
                "{}: a amostra \"{text}\" não é reconhecida. Use o código (ex.: SWNAFA, SER, \
                 SGHEM) ou o nome das tabelas BRTipoAmostraGAL ou HL7 v2-0487 (ex.: \"Swab \
                 nasofaríngeo\", \"Soro\").",
                c.place(Field::Specimen)
            );
            c.push(Some(Field::Specimen), "amostra_desconhecida", message);
        }
        return found;
    }
    if let Some(default) = c.settings.defaults.specimen_for(exam) {
        let found = mapping::specimen(default);
        if found.is_none() {
            let message = format!(
                "{}: a amostra padrão \"{default}\" da configuração ([defaults] specimen \
                 ou [defaults.exams] specimen) não é reconhecida. Corrija a configuração: \
                 specimen = \"<código da amostra>\", com um código de BRTipoAmostraGAL ou \
                 HL7 v2-0487.",
                place(c.row.line, "")
            );
            c.push(None, "amostra_desconhecida", message);
        }
        found
    } else {
        c.required_empty(Field::Specimen);
        None
    }
}

fn text_or_default(c: &mut Check, field: Field, default: Option<&str>) -> Option<String> {
    if let Some(text) = c.optional(field) {
        return Some(text.to_string());
    }
    if let Some(default) = default.filter(|d| !d.trim().is_empty()) {
        return Some(default.to_string());
    }
    let key = match field {
        Field::Method => "method",
        _ => "reference_range",
    };
    let message = format!(
        "{}: falta {} e não há valor padrão. Preencha a coluna ou defina {key} em \
         [defaults] (ou em [defaults.exams.\"<código>\"]) na configuração.",
        c.place(field),
        label(field)
    );
    c.push(
        c.map.has(field).then_some(field),
        "campo_obrigatorio",
        message,
    );
    None
}

fn category(c: &mut Check, exam_key: &str) -> Option<String> {
    let Some(category) = c.settings.defaults.category_for(exam_key) else {
        let message = format!(
            "{}: nenhuma categoria (BRSubgrupoTabelaSUS) configurada para o exame \"{exam_key}\". \
             Defina category em [defaults] (ex.: \"0202\" laboratório clínico, \"0214\" teste \
             rápido).",
            place(c.row.line, "")
        );
        c.push(None, "categoria_ausente", message);
        return None;
    };
    if !code_systems().contains(schemas::SUBGROUP_SUS, category) {
        let message = format!(
            "{}: a categoria \"{category}\" configurada não está na tabela BRSubgrupoTabelaSUS \
             (ex.: \"0202\" laboratório clínico, \"0214\" teste rápido). Corrija a configuração.",
            place(c.row.line, "")
        );
        c.push(None, "categoria_invalida", message);
        return None;
    }
    Some(category.to_string())
}
