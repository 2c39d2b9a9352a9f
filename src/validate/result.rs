//! The result cell: a qualitative wording or code, or a number with its
//! unit and interpretation. Unknown wordings are issues, never guesses.
//!
//! Invariant: pure; meanings come only from the vocabulary.

use super::check::Check;
use super::panel;
use crate::mapping;
use crate::model::{Field, Qualitative, ResultValue};

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

pub(super) fn result_value(c: &mut Check) -> Option<ResultValue> {
    let Some(text) = c.value(Field::Result) else {
        c.required_empty(Field::Result);
        return None;
    };
    let unit = c.optional(Field::ResultUnit);
    let meaning = mapping::qualitative(text);
    if let (Some(columns), Some(meaning)) = (panel::of_map(c.map), meaning) {
        return panel_result(c, &columns, meaning);
    }
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

/// A panel's result is SARS-CoV-2's only where the file says so.
fn panel_result(
    c: &mut Check,
    columns: &panel::PanelColumns,
    meaning: Qualitative,
) -> Option<ResultValue> {
    let sars_cov_2 = panel::says_sars_cov_2(columns, &c.row.cells);
    let reason = match (meaning, sars_cov_2) {
        (Qualitative::Detectable, true) => return Some(ResultValue::Qualitative(meaning)),
        (Qualitative::Detectable, false) => panel::row_reason(columns, true),
        (_, true) => panel::contradiction(columns),
        (_, false) => panel::row_reason(columns, false),
    };
    let message = format!("{}: {reason}", c.place(Field::Result));
    c.push(Some(Field::Result), "resultado_de_painel", message);
    None
}

fn quantity(c: &mut Check, value: String, unit: Option<&str>) -> Option<ResultValue> {
    if unit.is_none() {
        let message = format!(
            "{}: o resultado numérico \"{}\" não tem unidade. Preencha a coluna de unidade{}.",
            c.place(Field::Result),
            c.raw(Field::Result).trim(),
            c.map
                .header(Field::ResultUnit)
                .map_or_else(|| " (ex.: \"Unidade\")".into(), |h| format!(" (\"{h}\")"))
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
