//! The real exports in `shared/samples` read with the right layout.

use super::all_rows;
use crate::input::{open, Format, ReadOptions, Table};

fn sample(name: &str) -> Table {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples");
    open(
        &std::path::Path::new(folder).join(name),
        &ReadOptions::default(),
    )
    .unwrap()
}

#[test]
fn esus_acre_latin1_with_stray_ff() {
    let table = sample("dados-ac.head.csv");
    assert_eq!(table.info.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(table.info.delimiter, Some(';'));
    assert_eq!(table.info.headers[0], "id");
    assert_eq!(table.info.headers[11], "resultadoTeste");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 300);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].cells[10], "TESTE RÁPIDO - ANTÍGENO");
    assert_eq!(rows[299].line, 301);
}

#[test]
fn esus_acre_rare_values_repair_control_bytes() {
    let rows = all_rows(sample("dados-ac.rare-values.csv"));
    assert_eq!(rows.len(), 56);
    let dashed = rows.iter().find(|row| row.line == 40).unwrap();
    assert!(
        dashed.cells[10].contains("Eletroquimioluminescência – ECLIA"),
        "{:?}",
        dashed.cells[10]
    );
    assert!(rows
        .iter()
        .flat_map(|row| &row.cells)
        .all(|cell| !cell.chars().any(char::is_control)));
}

#[test]
fn esus_notifica_utf8_quoted_header() {
    let table = sample("e_sus_notifica.csv");
    assert_eq!(table.info.encoding.as_deref(), Some("UTF-8"));
    assert_eq!(table.info.delimiter, Some(';'));
    assert_eq!(table.info.headers.len(), 128);
    assert_eq!(table.info.headers[0], "Número da Notificação");
    assert_eq!(table.info.headers[10], "CNS");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 19);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].cells[8], "100.096.867-70");
    assert_eq!(rows[0].cells[74], "Não detectável");
}

#[test]
fn fleury_pipe_with_trailing_blank_line() {
    let table = sample("GrupoFleury_Exames_4.csv");
    assert_eq!(table.info.delimiter, Some('|'));
    assert_eq!(table.info.headers[6], "DE_RESULTADO");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].cells[6], "NÃO DET ECTADO");
    assert_eq!(rows[8].line, 10);
}

#[test]
fn gal_batch_layouts_comma_and_semicolon() {
    let table = sample("gal_20251211T004603Z_exame.csv");
    assert_eq!(table.info.delimiter, Some(','));
    assert_eq!(table.info.headers[17], "coronavirusncov");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 31);
    assert_eq!(rows[0].cells[0], "422386625");

    let table = sample("vr2.csv");
    assert_eq!(table.info.delimiter, Some(';'));
    assert_eq!(table.info.headers[37], "parechov√≠rus");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 36);
    assert_eq!(rows[35].line, 37);
    assert_eq!(rows[35].cells[0], "CP COVID");
}

#[test]
fn gal_header_only_has_zero_rows() {
    let table = sample("GAL_export_header_only.csv");
    assert_eq!(table.info.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(table.info.headers[0], "Cód. Exame");
    assert_eq!(table.info.headers[22], "Dt. Liberação");
    assert_eq!(table.rows.count(), 0);
}

#[test]
fn sivep_gripe_workbook() {
    let table = sample("sivep_gripe.xlsx");
    assert_eq!(table.info.format, Format::Xlsx);
    assert_eq!(table.info.sheet.as_deref(), Some("SIVEPGRIPE"));
    assert_eq!(table.info.header_line, 1);
    assert_eq!(table.info.headers.len(), 192);
    assert_eq!(table.info.headers[97], "DT_COLETA");
    let rows = all_rows(table);
    assert_eq!(rows.len(), 18);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].cells[0], "10039876");
    assert_eq!(rows[0].cells[97], "03/01/2021");
}

#[test]
fn seegene_two_row_merged_header() {
    let table = sample("exemploseegene.xlsx");
    assert_eq!(table.info.header_line, 1);
    assert_eq!(
        table.info.headers,
        [
            "Sample No",
            "Patient Id",
            "Well",
            "Name",
            "Type",
            "FAM E gene",
            "FAM C(t)",
            "Cal Red 610 RdRP/S gene",
            "Cal Red 610 C(t)",
            "Quasar 670 N gene",
            "Quasar 670 C(t)",
            "HEX IC",
            "HEX C(t)",
            "Auto Interpretation",
            "Comment",
        ]
    );
    let rows = all_rows(table);
    assert_eq!(rows.len(), 96);
    assert_eq!(rows[0].line, 3);
    assert_eq!(rows[0].cells[3], "827640119226");
    assert_eq!(rows[0].cells[6], "N/A");
    assert_eq!(rows[0].cells[12], "31.15");
    assert_eq!(rows[95].cells[13], "Positive Control(+)");
}
