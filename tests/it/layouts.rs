//! Layouts end to end through `check`: each `tests/fixtures/layouts/<case>/`
//! holds an `input.*` derived from a real export, the `[[inbox]]` a lab
//! would write (`inbox.toml`, appended to the test lab's config, or a
//! `lab.toml` of its own), and an `expected.json` snapshot. The examples in
//! `examples/layouts/` are parsed and run on the real samples.

use std::path::{Path, PathBuf};

use rnds_drop::check::{check_file, CheckedFile};
use rnds_drop::config::Config;
use rnds_drop::pipeline::FileJob;
use serde_json::Value;

use crate::harness;

fn case_config(case: &Path) -> Config {
    let lab = case.join("lab.toml");
    let lab = if lab.exists() {
        lab
    } else {
        harness::fixtures().join("lab.toml")
    };
    let mut text = std::fs::read_to_string(&lab).expect("lab.toml");
    text.push('\n');
    text.push_str(&std::fs::read_to_string(case.join("inbox.toml")).expect("inbox.toml"));
    Config::parse(&text, &case.join("inbox.toml"), case).expect("case config parses")
}

fn run(config: &Config, input: &Path) -> CheckedFile {
    let mut job = FileJob::from_config(config, config.inbox.first(), harness::now());
    job.self_check_every = 1;
    let out = tempfile::tempdir().expect("tempdir");
    let checked = check_file(input, &job, out.path(), &mut |_| {}).expect("outputs written");
    // Keep the outputs readable after the temp dir goes.
    std::mem::forget(out);
    checked
}

fn case(name: &str) -> (CheckedFile, Value) {
    let dir = harness::fixtures().join("layouts").join(name);
    let input = std::fs::read_dir(&dir)
        .expect("case folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_stem().is_some_and(|s| s == "input"))
        .expect("input.* file");
    let checked = run(&case_config(&dir), &input);
    let outputs = crate::check::outputs(&checked);
    harness::assert_json_snapshot(&dir.join("expected.json"), &outputs);
    (checked, outputs)
}

/// (LOINC code, result code) of every bundle, in order.
fn results(outputs: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for bundle in outputs["bundles"].as_array().expect("bundles") {
        for entry in bundle["entry"].as_array().expect("entries") {
            let r = &entry["resource"];
            if r["resourceType"] == "Observation" {
                let code = r["code"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let value = r["valueCodeableConcept"]["coding"][0]["code"]
                    .as_str()
                    .or_else(|| r["interpretation"][0]["coding"][0]["code"].as_str())
                    .unwrap_or("")
                    .to_string();
                out.push((code, value));
            }
        }
    }
    out
}

fn skipped_by_code(checked: &CheckedFile) -> Vec<(String, u64)> {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for s in &checked.summary.skipped {
        *by.entry(s.code.clone()).or_default() += s.rows;
    }
    by.into_iter().collect()
}

fn error_lines(checked: &CheckedFile) -> Vec<u64> {
    let mut lines: Vec<u64> = checked.summary.issues.iter().map(|i| i.line).collect();
    lines.dedup();
    lines
}

#[test]
fn gal_batch_one_column_per_target() {
    let (checked, outputs) = case("gal_lote");
    let s = &checked.summary;
    assert_eq!((s.rows_valid, s.rows_invalid, s.rows_skipped), (4, 0, 1));
    // The influenza-positive row (line 3) is SARS-CoV-2 "not detectable".
    let pcr = "94309-2".to_string();
    assert_eq!(
        results(&outputs),
        vec![
            (pcr.clone(), "2".into()),
            (pcr.clone(), "2".into()),
            (pcr.clone(), "1".into()),
            (pcr, "3".into()),
        ]
    );
    assert_eq!(
        skipped_by_code(&checked),
        vec![("alvo_nao_testado".into(), 1)]
    );
}

#[test]
fn lis_export_of_every_exam_sends_only_released_sars_cov_2_rows() {
    let (checked, outputs) = case("lis_todos_exames");
    let s = &checked.summary;
    assert_eq!((s.rows_valid, s.rows_invalid, s.rows_skipped), (2, 1, 7));
    assert_eq!(
        results(&outputs),
        vec![
            ("94309-2".into(), "1".into()),
            ("94558-4".into(), "2".into())
        ]
    );
    assert_eq!(
        skipped_by_code(&checked),
        vec![("outro_exame".into(), 3), ("status_nao_liberado".into(), 4)]
    );
    // Only the row with an unmapped result code is an error to fix.
    assert_eq!(error_lines(&checked), vec![10]);
    assert_eq!(s.issues[0].code, "valor_nao_mapeado");
}

#[test]
fn analyte_rows_are_grouped_by_visit() {
    let (checked, outputs) = case("fleury_analitos");
    let s = &checked.summary;
    assert_eq!(
        results(&outputs),
        vec![
            ("94309-2".into(), "2".into()),
            ("94309-2".into(), "1".into())
        ]
    );
    assert_eq!(s.rows_valid, 2);
    // The visit whose rows are far apart: both parts reported, none sent.
    let codes: Vec<&str> = s.issues.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(codes, vec!["analito_ausente", "grupo_disperso"]);
    assert_eq!(error_lines(&checked), vec![9, 11]);
    assert_eq!(
        skipped_by_code(&checked),
        vec![
            ("analito_agrupado".into(), 2),
            ("analito_fora_do_layout".into(), 4)
        ]
    );
}

#[test]
fn gal_export_skips_other_exams_and_pending_statuses() {
    let (checked, outputs) = case("gal_exportacao");
    let s = &checked.summary;
    assert_eq!((s.rows_valid, s.rows_invalid, s.rows_skipped), (2, 0, 3));
    assert_eq!(
        results(&outputs),
        vec![
            ("94309-2".into(), "1".into()),
            ("94558-4".into(), "2".into())
        ]
    );
    let ids: Vec<&str> = outputs["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter_map(|b| b["identifier"]["value"].as_str())
        .collect();
    assert_eq!(ids, vec!["210001-COVID19", "210003-COVIDAG"]);
}

#[test]
fn a_date_only_column_keeps_its_date_in_acre() {
    let (checked, outputs) = case("date_only_rio_branco");
    assert_eq!(checked.summary.rows_valid, 2);
    let mut collected = Vec::new();
    for bundle in outputs["bundles"].as_array().expect("bundles") {
        for entry in bundle["entry"].as_array().expect("entries") {
            let r = &entry["resource"];
            if r["resourceType"] == "Observation" {
                collected.push(r["effectiveDateTime"].as_str().unwrap_or("").to_string());
            }
        }
    }
    assert_eq!(collected, vec!["2020-07-27", "2020-07-10"]);
}

fn example(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/layouts")
        .join(name);
    Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_layout_example_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/layouts");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("examples/layouts") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 5, "layout examples missing");
}

/// The table of docs/LAYOUTS.md: each real export of `../shared/samples`
/// with the example config named there. None yields a result (each lacks
/// data RNDS requires), none yields a wrong one, and the missing data is
/// named once on the header line; rows that are not results are skipped.
#[test]
fn the_samples_table_of_the_layout_guide_holds() {
    // (file, example, rows_total, rows_skipped, missing fields named on the header)
    let table: [(&str, &str, u64, u64, &[&str]); 10] = [
        (
            "GAL_export_header_only.csv",
            "layouts/gal-exportacao.toml",
            0,
            0,
            &["a data da coleta"],
        ),
        (
            "gal_20251211T004603Z_exame.csv",
            "layouts/gal-lote.toml",
            31,
            0,
            &["o CNS do paciente", "a data da coleta"],
        ),
        (
            "vr2.csv",
            "layouts/gal-lote.toml",
            36,
            0,
            &["o CNS do paciente", "a data da coleta"],
        ),
        (
            "GrupoFleury_Exames_4.csv",
            "layouts/fleury-analitos.toml",
            9,
            8,
            &["o CNS do paciente", "a data de liberação do resultado"],
        ),
        (
            "dados-ac.head.csv",
            "layouts/esus-opendatasus.toml",
            300,
            5,
            &["o CNS do paciente", "a data de liberação do resultado"],
        ),
        (
            "dados-ac.rare-values.csv",
            "layouts/esus-opendatasus.toml",
            56,
            8,
            &["o CNS do paciente", "a data de liberação do resultado"],
        ),
        (
            "e_sus_notifica.csv",
            "rnds-drop.toml",
            19,
            0,
            &[
                "a data de liberação do resultado",
                "o código do exame",
                "a amostra (material)",
            ],
        ),
        (
            "sivep_gripe.xlsx",
            "rnds-drop.toml",
            18,
            0,
            &["o código do exame"],
        ),
        // Not results at all: one sentence saying what they are (below).
        ("exemploseegene.xlsx", "rnds-drop.toml", 96, 0, &[]),
        ("de_para.csv", "rnds-drop.toml", 239, 0, &[]),
    ];
    for (file, config, total, skipped, missing) in table {
        let config = if config.starts_with("layouts/") {
            example(config.trim_start_matches("layouts/"))
        } else {
            Config::load(
                &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("examples")
                    .join(config),
            )
            .expect("example parses")
        };
        let checked = run(&config, &harness::samples().join(file));
        let s = &checked.summary;
        assert_eq!(s.rows_valid, 0, "{file}: a sample yielded a result");
        assert_eq!((s.rows_total, s.rows_skipped), (total, skipped), "{file}");
        let header: Vec<&str> = s
            .issues
            .iter()
            .filter(|i| Some(i.line) == s.header_line && i.code == "coluna_ausente")
            .map(|i| i.message.as_str())
            .collect();
        for field in missing {
            assert!(
                header
                    .iter()
                    .any(|m| m.contains(&format!("nenhuma coluna com {field} "))),
                "{file}: {field} not named on the header: {header:?}"
            );
        }
        let file_kind = match file {
            "exemploseegene.xlsx" => Some("exportacao_de_equipamento"),
            "de_para.csv" => Some("nao_e_arquivo_de_resultados"),
            _ => None,
        };
        if let Some(code) = file_kind {
            let codes: Vec<&str> = s.file_issues().map(|i| i.code.as_str()).collect();
            assert_eq!(codes, [code], "{file}");
        }
    }
}

fn parse_with(inbox: &str) -> Result<Config, String> {
    let mut text = std::fs::read_to_string(harness::fixtures().join("lab.toml")).expect("lab");
    text.push_str("\n[[inbox]]\npath = \"entrada\"\noutbox = \"saida\"\n");
    text.push_str(inbox);
    Config::parse(&text, Path::new("teste.toml"), Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn layout_mistakes_are_configuration_errors() {
    let err = parse_with("layout = \"gal-lotes\"\n").unwrap_err();
    assert!(
        err.contains("gal-lotes") && err.contains("fleury-analitos"),
        "{err}"
    );
    let err =
        parse_with("[[inbox.targets]]\ncolunm = \"x\"\nexam_code = \"94309-2\"\n").unwrap_err();
    assert!(err.contains("colunm"), "{err}");
    let err =
        parse_with("[[inbox.targets]]\ncolumn = \"x\"\nexam_code = \"HEMOGRAMA\"\n").unwrap_err();
    assert!(err.contains("HEMOGRAMA"), "{err}");
    let err = parse_with("[inbox.select]\nother_exams = \"ignorar\"\n").unwrap_err();
    assert!(
        err.contains("other_exams") || err.contains("ignorar"),
        "{err}"
    );
    let err = parse_with("date_only = [\"result\"]\n").unwrap_err();
    assert!(err.contains("date_only"), "{err}");
    assert!(parse_with("layout = \"gal-lote\"\n").is_ok());
}
