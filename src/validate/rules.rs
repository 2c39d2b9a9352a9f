//! The rules applied to one row, in the order a person would check them,
//! collecting every issue instead of stopping at the first.
//!
//! Invariant: pure; reads the row, the column map and the settings only.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use uuid::Uuid;

use super::dates;
use super::ids;
use super::messages::{date_reason, id_reason, label, place};
use super::Settings;
use crate::input::Row;
use crate::mapping::{self, ColumnMap};
use crate::model::{
    ExamCode, Field, LabResult, Party, Qualitative, ResultValue, RowIssue, SpecimenCode, When,
};
use crate::schemas::{self, code_systems};

/// Namespace of the lab ids derived for rows without an id column (fixed
/// for ever: changing it would resend every such row under a new id).
pub const LAB_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a57_93d4_4e0b_9a3e_52c1_7d0b_e8a4);

struct Check<'a> {
    row: &'a Row,
    map: &'a ColumnMap,
    settings: &'a Settings,
    issues: Vec<RowIssue>,
}

impl<'a> Check<'a> {
    fn column(&self, field: Field) -> &'a str {
        self.map.header(field).unwrap_or("")
    }

    /// The cell of `field` unless it is missing, empty or a null token.
    fn value(&self, field: Field) -> Option<&'a str> {
        self.map
            .cell(self.row, field)
            .filter(|v| !mapping::is_null(v))
            .map(str::trim)
    }

    /// Like [`Check::value`], for optional columns where `-` means nothing.
    fn optional(&self, field: Field) -> Option<&'a str> {
        self.map
            .cell(self.row, field)
            .filter(|v| !mapping::is_blank_optional(v))
            .map(str::trim)
    }

    fn raw(&self, field: Field) -> &'a str {
        self.map.cell(self.row, field).unwrap_or("")
    }

    fn place(&self, field: Field) -> String {
        place(self.row.line, self.column(field))
    }

    fn push(&mut self, field: Option<Field>, code: &str, message: String) {
        let (column, value) = match field {
            Some(f) => (self.column(f).to_string(), self.raw(f).to_string()),
            None => (String::new(), String::new()),
        };
        self.issues.push(RowIssue {
            line: self.row.line,
            column,
            value,
            code: code.to_string(),
            message,
        });
    }

    fn required_empty(&mut self, field: Field) {
        let message = format!(
            "{}: {} está vazio. Preencha esse campo no sistema do laboratório e exporte de novo.",
            self.place(field),
            label(field)
        );
        self.push(Some(field), "campo_obrigatorio", message);
    }
}

pub fn validate_row(
    row: &Row,
    map: &ColumnMap,
    settings: &Settings,
) -> Result<LabResult, Vec<RowIssue>> {
    let mut c = Check {
        row,
        map,
        settings,
        issues: Vec::new(),
    };
    let patient_cns = patient_cns(&mut c);
    let cnes = lab_cnes(&mut c);
    let exam = exam(&mut c);
    let collected = collected(&mut c);
    let issued = issued(&mut c);
    if let (Some(collected), Some((issued, issued_has_time))) = (collected, issued) {
        collection_before_release(&mut c, collected, issued, issued_has_time);
    }
    let value = result_value(&mut c);
    let specimen = specimen(&mut c);
    let exam_key = exam.as_ref().map_or("", |e| e.code.as_str());
    let method = text_or_default(
        &mut c,
        Field::Method,
        settings.defaults.method_for(exam_key),
    );
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

    match (
        patient_cns,
        cnes,
        exam,
        collected,
        issued,
        value,
        specimen,
        method,
        reference_range,
        category,
        performer,
    ) {
        (
            Some(patient_cns),
            Some(cnes),
            Some(exam),
            Some(collected),
            Some((issued, _)),
            Some(value),
            Some(specimen),
            Some(method),
            Some(reference_range),
            Some(category),
            Some(performer),
        ) if c.issues.is_empty() => {
            let lab_id = match c.optional(Field::LabId) {
                Some(id) => id.to_string(),
                None => derived_lab_id(&cnes, &patient_cns, &exam, &collected, &specimen),
            };
            Ok(LabResult {
                line: row.line,
                lab_id,
                patient_cns,
                exam,
                category,
                collected,
                issued,
                value,
                specimen,
                method,
                reference_range,
                notes,
                author: settings.author.clone(),
                performer,
            })
        }
        _ => Err(c.issues),
    }
}

/// Same row, same id: a UUIDv5 of the result's identifying content.
pub fn derived_lab_id(
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

fn patient_cns(c: &mut Check) -> Option<String> {
    if let Some(cns) = c.value(Field::PatientCns) {
        return match ids::check_cns(cns) {
            Ok(cns) => Some(cns),
            Err(problem) => {
                let message = format!(
                    "{}: o CNS \"{cns}\" é inválido ({}). Confira o número no cartão do paciente.",
                    c.place(Field::PatientCns),
                    id_reason(problem, "o CNS")
                );
                c.push(Some(Field::PatientCns), "cns_invalido", message);
                None
            }
        };
    }
    let cns_field = c.map.has(Field::PatientCns).then_some(Field::PatientCns);
    let place = place(c.row.line, c.column(Field::PatientCns));
    match c.value(Field::PatientCpf) {
        Some(cpf) => {
            let cpf_check = ids::check_cpf(cpf);
            let also = match cpf_check {
                Ok(_) => String::new(),
                Err(problem) => format!(
                    " Além disso, o CPF \"{cpf}\" é inválido ({}).",
                    id_reason(problem, "o CPF")
                ),
            };
            let message = format!(
                "{place}: o paciente tem CPF \"{cpf}\" mas não tem CNS. A RNDS identifica o \
                 paciente só pelo CNS (Cartão Nacional de Saúde): o CPF não pode ser usado. \
                 Informe o CNS do paciente.{also}"
            );
            c.push(cns_field, "cns_ausente", message);
            if let Err(problem) = cpf_check {
                let message = format!(
                    "{}: o CPF \"{cpf}\" é inválido ({}). Confira o documento do paciente.",
                    c.place(Field::PatientCpf),
                    id_reason(problem, "o CPF")
                );
                c.push(Some(Field::PatientCpf), "cpf_invalido", message);
            }
        }
        None => {
            let message = format!(
                "{place}: o CNS do paciente está vazio. A RNDS exige o CNS (Cartão Nacional de \
                 Saúde) do paciente; preencha-o no cadastro e exporte de novo."
            );
            c.push(cns_field, "cns_ausente", message);
        }
    }
    None
}

fn lab_cnes(c: &mut Check) -> Option<String> {
    let Some(cnes) = c.value(Field::LabCnes) else {
        return Some(c.settings.lab_cnes.clone());
    };
    match ids::normalize_cnes(cnes) {
        Ok(cnes) => Some(cnes),
        Err(problem) => {
            let message = format!(
                "{}: o CNES \"{cnes}\" é inválido ({}). O CNES tem até 7 dígitos; confira o \
                 cadastro do estabelecimento.",
                c.place(Field::LabCnes),
                id_reason(problem, "o CNES")
            );
            c.push(Some(Field::LabCnes), "cnes_invalido", message);
            None
        }
    }
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
        let found = mapping::exam_by_name(name).or_else(|| by_table(name));
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
    let message = format!(
        "{}: o exame \"{value}\" não é um código LOINC da RNDS (BRNomeExameLOINC), nem um \
         código GAL, nem um nome de exame conhecido. Se for um código interno do laboratório, \
         acrescente-o em [inbox.exam_codes] na configuração (ex.: \"{value}\" = \"94309-2\").",
        c.place(field)
    );
    c.push(Some(field), "exame_desconhecido", message);
}

/// Date cell (+ optional time cell) → When, with the format and future rules.
fn moment(c: &mut Check, date_field: Field, time_field: Field) -> Option<When> {
    let Some(text) = c.value(date_field) else {
        c.required_empty(date_field);
        return None;
    };
    let parsed = dates::parse(text);
    if let Err(problem) = parsed {
        let message = format!(
            "{}: \"{text}\" não é uma data válida ({}).",
            c.place(date_field),
            date_reason(problem)
        );
        c.push(Some(date_field), "data_invalida", message);
    }
    let time = match c.value(time_field) {
        Some(t) => match dates::parse_time(t) {
            Ok(time) => Some(time),
            Err(problem) => {
                let message = format!(
                    "{}: \"{t}\" não é um horário válido ({}; use hh:mm, ex.: 09:30).",
                    c.place(time_field),
                    date_reason(problem)
                );
                c.push(Some(time_field), "data_invalida", message);
                return None;
            }
        },
        None => None,
    };
    let when = dates::resolve(parsed.ok()?, time, c.settings.timezone);
    if is_future(c, &when) {
        let message = format!(
            "{}: {} \"{text}\" está no futuro. Confira a data (dia/mês/ano) e o relógio do \
             sistema do laboratório.",
            c.place(date_field),
            label(date_field)
        );
        c.push(Some(date_field), "data_futura", message);
        return None;
    }
    Some(when)
}

fn is_future(c: &Check, when: &When) -> bool {
    match when {
        When::Instant(t) => *t > c.settings.now,
        When::Date(d) => *d > today(c),
    }
}

fn today(c: &Check) -> NaiveDate {
    c.settings
        .now
        .with_timezone(&c.settings.timezone)
        .date_naive()
}

fn collected(c: &mut Check) -> Option<When> {
    moment(c, Field::CollectionDate, Field::CollectionTime)
}

/// The release instant, and whether the file gave its time of day.
fn issued(c: &mut Check) -> Option<(DateTime<FixedOffset>, bool)> {
    match moment(c, Field::IssuedDate, Field::IssuedTime)? {
        When::Instant(t) => Some((t, true)),
        When::Date(d) => {
            let midnight = d.and_time(NaiveTime::MIN);
            Some((dates::local_instant(c.settings.timezone, midnight), false))
        }
    }
}

fn collection_before_release(
    c: &mut Check,
    collected: When,
    issued: DateTime<FixedOffset>,
    issued_has_time: bool,
) {
    let tz = c.settings.timezone;
    let after = match collected {
        When::Instant(t) if issued_has_time => t > issued,
        When::Instant(t) => {
            t.with_timezone(&tz).date_naive() > issued.with_timezone(&tz).date_naive()
        }
        When::Date(d) => d > issued.with_timezone(&tz).date_naive(),
    };
    if after {
        let message = format!(
            "{}: a coleta (\"{}\") é posterior à liberação do resultado (\"{}\", coluna \"{}\"). \
             Confira as duas datas.",
            c.place(Field::CollectionDate),
            c.raw(Field::CollectionDate).trim(),
            c.raw(Field::IssuedDate).trim(),
            c.column(Field::IssuedDate)
        );
        c.push(
            Some(Field::CollectionDate),
            "coleta_apos_liberacao",
            message,
        );
    }
}

/// `16,1` → `16.1`; None unless the whole text is a plain decimal number.
fn decimal(text: &str) -> Option<String> {
    let (int, frac) = match text.find([',', '.']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    Some(match frac {
        Some(f) => format!("{int}.{f}"),
        None => int.to_string(),
    })
}

fn result_value(c: &mut Check) -> Option<ResultValue> {
    let Some(text) = c.value(Field::Result) else {
        c.required_empty(Field::Result);
        return None;
    };
    let unit = c.optional(Field::ResultUnit);
    let meaning = mapping::qualitative(text);
    if let Some(number) = decimal(text).filter(|_| unit.is_some() || meaning.is_none()) {
        return quantity(c, number, unit);
    }
    if meaning.is_none() {
        let suggestion = mapping::closest_result_wording(text)
            .map(|w| format!(" Você quis dizer \"{w}\"?"))
            .unwrap_or_default();
        let message = format!(
            "{}: o resultado \"{text}\" não é reconhecido.{suggestion} Use Detectável, Não \
             detectável ou Inconclusivo (ou os códigos 1, 2, 3); o resultado nunca é \
             adivinhado.",
            c.place(Field::Result)
        );
        c.push(Some(Field::Result), "resultado_desconhecido", message);
    }
    meaning.map(ResultValue::Qualitative)
}

fn quantity(c: &mut Check, value: String, unit: Option<&str>) -> Option<ResultValue> {
    if unit.is_none() {
        let message = format!(
            "{}: o resultado numérico \"{}\" não tem unidade. Preencha a coluna de unidade{}.",
            c.place(Field::Result),
            c.raw(Field::Result).trim(),
            c.map
                .header(Field::ResultUnit)
                .map(|h| format!(" (\"{h}\")"))
                .unwrap_or_else(|| " (ex.: \"Unidade\")".into())
        );
        c.push(Some(Field::Result), "unidade_ausente", message);
    }
    let interpretation = interpretation(c);
    Some(ResultValue::Quantity {
        value,
        unit: unit?.to_string(),
        interpretation: interpretation?,
    })
}

fn interpretation(c: &mut Check) -> Option<Qualitative> {
    let Some(text) = c.value(Field::Interpretation) else {
        let message = format!(
            "{}: o resultado numérico \"{}\" precisa de uma interpretação (Detectável, Não \
             detectável ou Inconclusivo) numa coluna \"Interpretação\".",
            c.place(Field::Result),
            c.raw(Field::Result).trim()
        );
        c.push(Some(Field::Result), "interpretacao_ausente", message);
        return None;
    };
    let meaning = mapping::qualitative(text);
    if meaning.is_none() {
        let suggestion = mapping::closest_result_wording(text)
            .map(|w| format!(" Você quis dizer \"{w}\"?"))
            .unwrap_or_default();
        let message = format!(
            "{}: a interpretação \"{text}\" não é reconhecida.{suggestion} Use Detectável, \
             Não detectável ou Inconclusivo.",
            c.place(Field::Interpretation)
        );
        c.push(
            Some(Field::Interpretation),
            "resultado_desconhecido",
            message,
        );
    }
    meaning
}

fn specimen(c: &mut Check) -> Option<SpecimenCode> {
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
    match c.settings.defaults.specimen.as_deref() {
        Some(default) => {
            let found = mapping::specimen(default);
            if found.is_none() {
                let message = format!(
                    "{}: a amostra padrão \"{default}\" de [defaults] specimen não é \
                     reconhecida. Corrija a configuração (ex.: specimen = \"SWNAFA\").",
                    place(c.row.line, "")
                );
                c.push(None, "amostra_desconhecida", message);
            }
            found
        }
        None => {
            c.required_empty(Field::Specimen);
            None
        }
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
        "{}: {} está vazio e não há valor padrão. Preencha a coluna ou defina {key} em \
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

fn performer(c: &mut Check, cnes: Option<&str>) -> Option<Party> {
    let Some(text) = c.value(Field::Performer) else {
        return cnes.map(|cnes| Party::Cnes(cnes.to_string()));
    };
    let stripped = ids::strip_formatting(text);
    let all_digits = stripped.bytes().all(|b| b.is_ascii_digit());
    let checked = match stripped.len() {
        1..=7 if all_digits => ids::normalize_cnes(&stripped).map(Party::Cnes),
        11 if all_digits => ids::check_cpf(&stripped).map(Party::CnpjOrCpf),
        _ => ids::check_cnpj(&stripped).map(Party::CnpjOrCpf),
    };
    match checked {
        Ok(party) => Some(party),
        Err(problem) => {
            let message = format!(
                "{}: o executor \"{text}\" é inválido ({}). Use o CNES (7 dígitos), o CNPJ \
                 (14) ou o CPF (11) de quem realizou o exame.",
                c.place(Field::Performer),
                id_reason(problem, "o CNPJ")
            );
            c.push(Some(Field::Performer), "executor_invalido", message);
            None
        }
    }
}

/// What a required field lacks at file level: a column and a default.
pub fn file_issues(map: &ColumnMap, settings: &Settings, header_line: u64) -> Vec<RowIssue> {
    let defaults = &settings.defaults;
    let any_exam =
        |pick: fn(&crate::config::ExamDefaults) -> bool| defaults.exams.values().any(pick);
    let mut issues = Vec::new();
    let missing = |field: Field, config_hint: Option<&str>, issues: &mut Vec<RowIssue>| {
        let known = mapping::header_wordings(field)
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = config_hint
            .map(|h| format!(", ou defina um valor padrão em [defaults] ({h})"))
            .unwrap_or_default();
        let cpf_note = if field == Field::PatientCns && map.has(Field::PatientCpf) {
            " O arquivo tem CPF, mas a RNDS identifica o paciente só pelo CNS: o CPF não pode ser usado."
        } else {
            ""
        };
        issues.push(RowIssue {
            line: header_line,
            column: String::new(),
            value: String::new(),
            code: "coluna_ausente".into(),
            message: format!(
                "Linha {header_line} (cabeçalho): nenhuma coluna com {} foi encontrada.{cpf_note} \
                 Nomes reconhecidos: {known}. Renomeie a coluna para um desses nomes ou indique-a \
                 em [inbox.columns] ({} = \"nome da coluna\"){hint}.",
                label(field),
                field.name()
            ),
        });
    };
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
            Some("exam_code = \"94309-2\""),
            &mut issues,
        );
    }
    if !map.has(Field::Specimen) && defaults.specimen.is_none() {
        missing(Field::Specimen, Some("specimen = \"SWNAFA\""), &mut issues);
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
    if defaults.category.is_none() && !any_exam(|e| e.category.is_some()) {
        issues.push(RowIssue {
            line: header_line,
            column: String::new(),
            value: String::new(),
            code: "categoria_ausente".into(),
            message: format!(
                "Linha {header_line} (cabeçalho): nenhuma categoria (BRSubgrupoTabelaSUS) está \
                 configurada. Defina category em [defaults] (ex.: \"0202\" laboratório clínico, \
                 \"0214\" teste rápido)."
            ),
        });
    }
    issues
}
