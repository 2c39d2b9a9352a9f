//! The blank template a lab fills in when it has no export of its own
//! (what SimpleReport users expect): `examples/modelo.csv` (the header) and
//! `examples/modelo.xlsx` (the same columns on sheet "Exames", text columns
//! formatted as text so a CNS keeps its digits, date columns as dates, and
//! a sheet "Valores aceitos" listing the accepted exams, results, specimens
//! and methods). Everything comes from `schemas/`: each header is a wording
//! of `synonyms.toml`, each value a code of the embedded code systems. A
//! test regenerates both files and compares them with the committed ones
//! (`UPDATE_EXPECT=1` rewrites them), so they never drift.
//!
//! Invariant: pure; returns bytes, writes no file.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use crate::mapping::header_wordings;
use crate::model::Field;
use crate::schemas::{self, code_systems};

/// The template's columns, in order: what RNDS needs, then what helps.
pub(crate) const TEMPLATE_FIELDS: [Field; 13] = [
    Field::LabId,
    Field::PatientName,
    Field::PatientCns,
    Field::CollectionDate,
    Field::IssuedDate,
    Field::ExamCode,
    Field::Result,
    Field::ResultUnit,
    Field::Interpretation,
    Field::Specimen,
    Field::Method,
    Field::ReferenceRange,
    Field::Notes,
];

/// The header of `field` in the template: its first wording in
/// `synonyms.toml` written for people (with a capital or a space), so
/// `Nº Pedido` rather than `id_exame`.
pub(crate) fn template_header(field: Field) -> String {
    let wordings = header_wordings(field);
    wordings
        .iter()
        .find(|w| w.chars().any(|c| c.is_uppercase() || c == ' '))
        .or_else(|| wordings.first())
        .cloned()
        .unwrap_or_else(|| field.name().to_string())
}

/// `examples/modelo.csv`: the header alone, as our CSV reports are written
/// (UTF-8 with BOM, `;`, CRLF) so Excel opens it with its accents.
pub fn template_csv() -> Vec<u8> {
    let header: Vec<String> = TEMPLATE_FIELDS
        .iter()
        .map(|f| template_header(*f))
        .collect();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(header.join(";").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// `examples/modelo.xlsx`, byte for byte the same on every run (fixed
/// document date; the zip entries carry no time).
pub fn template_xlsx() -> Result<Vec<u8>, XlsxError> {
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title("Modelo de planilha do rnds-drop")
            .set_creation_datetime(&ExcelDateTime::from_ymd(2026, 1, 1)?),
    );

    let sheet = book.add_worksheet();
    sheet.set_name("Exames")?;
    for (col, field) in TEMPLATE_FIELDS.iter().enumerate() {
        let col = col as u16;
        let header = template_header(*field);
        sheet.write_string_with_format(0, col, &header, &bold)?;
        let is_date = matches!(field, Field::CollectionDate | Field::IssuedDate);
        sheet.set_column_format(col, if is_date { &date } else { &text })?;
        sheet.set_column_width(col, (header.chars().count() + 4).max(16) as f64)?;
    }
    sheet.set_freeze_panes(1, 0)?;

    let values = book.add_worksheet();
    values.set_name("Valores aceitos")?;
    for (col, title) in ["Coluna", "Código", "Descrição"].iter().enumerate() {
        values.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    values.set_column_width(0, 24)?;
    values.set_column_width(1, 18)?;
    values.set_column_width(2, 100)?;
    let mut row = 1u32;
    for (field, url) in [
        (Field::ExamCode, schemas::LOINC),
        (Field::ExamCode, schemas::GAL_EXAM),
        (Field::Result, schemas::QUALITATIVE),
        (Field::Specimen, schemas::SPECIMEN_GAL),
    ] {
        let Some(system) = code_systems().get(url) else {
            continue;
        };
        for concept in &system.concepts {
            values.write_string(row, 0, template_header(field))?;
            values.write_string_with_format(row, 1, &concept.code, &text)?;
            values.write_string(row, 2, concept.display.as_deref().unwrap_or(""))?;
            row += 1;
        }
    }
    values.write_string(row, 0, template_header(Field::Method))?;
    values.write_string(
        row,
        2,
        "Texto livre, como o laboratório chama o método (ex.: RT-PCR em tempo real; \
         Imunocromatografia). Sem esta coluna, vale o method de [defaults] na configuração.",
    )?;
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_header_maps_back_to_its_field() {
        let headers: Vec<String> = TEMPLATE_FIELDS
            .iter()
            .map(|f| template_header(*f))
            .collect();
        let map = crate::mapping::map_columns(&headers, &std::collections::BTreeMap::new());
        for (i, field) in TEMPLATE_FIELDS.iter().enumerate() {
            assert_eq!(
                map.by_field.get(field),
                Some(&i),
                "{field:?} ← {}",
                headers[i]
            );
        }
    }
}
