use std::path::Path;

use super::*;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("written");
    path
}

#[test]
fn the_embedded_no_config_settings_parse() {
    let job = job_without_config(now()).expect("embedded config parses");
    assert_eq!(job.validate.defaults.category.as_deref(), Some("0202"));
}

#[test]
fn a_tidy_file_is_counted_and_its_snippet_pins_every_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "exames.csv",
        "id_exame;cns;data_coleta;data_resultado;codigo_exame;resultado;amostra\n\
         A-1;759010928159013;01/10/2021 10:00;02/10/2021 11:00;94309-2;Detectável;SWNAFA\n\
         A-2;123;01/10/2021 10:00;02/10/2021 11:00;94309-2;Negativo;SWNAFA\n",
    );
    let job = job_without_config(now()).expect("job");
    let found = inspect_file(&path, &job, true);
    assert_eq!(
        (found.rows_total, found.rows_valid, found.rows_invalid),
        (2, 1, 1)
    );
    assert_eq!(found.layout, Some(Layout::Tidy));
    assert_eq!(found.problems.len(), 1);
    assert_eq!(found.problems[0].code, "cns_invalido");
    assert!(!found.sendable_as_is());
    let snippet = snippet(&found, &job, true);
    assert!(snippet.contains("patient_cns = \"cns\""), "{snippet}");
    assert!(snippet.contains("# method = \"<método>\""), "{snippet}");
    let parsed: toml::Table = toml::from_str(&snippet).expect("snippet is TOML");
    assert!(parsed.contains_key("inbox"));
}

#[test]
fn a_mapping_table_is_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "de_para.csv",
        "DE_EXAME,DE_ANALITO,CD_UNIDADE,PARA_ANALITO\nHEMOGRAMA,Hemoglobina,g/dL,Hemoglobin\n",
    );
    let job = job_without_config(now()).expect("job");
    let found = inspect_file(&path, &job, true);
    assert_eq!(found.layout, Some(Layout::NotResults));
    assert_eq!(found.file_issues.len(), 1);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let text = render(&found, &job, true);
    assert!(
        text.contains("não é uma exportação de resultados"),
        "{text}"
    );
}
