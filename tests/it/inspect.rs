//! `rnds-drop inspecionar` through the real binary: what a lab sees when it
//! first looks at its own export, and the exit code.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness;

fn inspecionar(config: Option<&Path>, files: &[&Path], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnds-drop"));
    cmd.arg("inspecionar").current_dir(dir);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(files).output().expect("binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// The snippet printed for a file, without its two-space indent.
fn snippet_of(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with("Trecho para a configuração"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") || l.is_empty())
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_clean_file_can_be_sent_as_is_and_its_snippet_parses_with_the_same_mapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = harness::fixtures().join("check/separate_date_time/input.csv");
    let config = harness::fixtures().join("lab.toml");
    let out = inspecionar(Some(&config), &[&input], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("✓ pode ser enviado como está"), "{text}");
    assert!(text.contains("Leitura: CSV"), "{text}");

    // Pasted into the lab's configuration, the snippet maps the same way.
    let snippet = snippet_of(&text);
    let lab = std::fs::read_to_string(&config).expect("lab.toml");
    let pasted = rnds_drop::config::Config::parse(
        &format!("{lab}\n{snippet}\n"),
        Path::new("pasted.toml"),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("snippet does not parse: {e}\n{snippet}"));
    let job =
        rnds_drop::pipeline::FileJob::from_config(&pasted, pasted.inbox.first(), harness::now());
    let checked =
        rnds_drop::check::check_file(&input, &job, &dir.path().join("saida"), &mut |_| {})
            .expect("outputs");
    assert_eq!(checked.verdict, rnds_drop::check::Verdict::AllValid);
    assert_eq!(
        pasted.inbox[0].columns.len(),
        checked.summary.columns.len(),
        "every mapped column is pinned: {snippet}"
    );
}

/// The ten real exports: each gets its own verdict and the sentence that
/// matters for it; none can be sent as it is, so the exit code is 1.
#[test]
fn the_real_samples_each_get_a_useful_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = harness::samples();
    let mut names: Vec<_> = std::fs::read_dir(&samples)
        .expect("samples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv" || e == "xlsx"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10);
    let files: Vec<&Path> = names.iter().map(std::path::PathBuf::as_path).collect();
    let out = inspecionar(None, &files, dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let section = |name: &str| -> String {
        text.split("═══ ")
            .find(|s| s.starts_with(name))
            .unwrap_or_else(|| panic!("no section for {name}:\n{text}"))
            .to_string()
    };
    for path in &names {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let s = section(name);
        let not_results = ["de_para.csv", "exemploseegene.xlsx"].contains(&name);
        assert_eq!(
            s.contains("Trecho para a configuração"),
            !not_results,
            "{s}"
        );
        assert!(s.contains("✗ "), "{name} is not sendable as is:\n{s}");
        if !not_results {
            // Ready to paste: valid TOML naming only the file's own headers
            // (never a column a layout makes up, such as a target's exam).
            let snippet = snippet_of(&s);
            let parsed: toml::Table = toml::from_str(&snippet)
                .unwrap_or_else(|e| panic!("{name}: snippet is not TOML ({e}):\n{snippet}"));
            let columns = parsed["inbox"].as_array().expect("[[inbox]]")[0]
                .get("columns")
                .and_then(|c| c.as_table())
                .cloned()
                .unwrap_or_default();
            for (field, header) in columns {
                let header = header.as_str().expect("a header name");
                assert!(
                    s.contains(&format!("← coluna \"{header}\"")),
                    "{name}: {field} = {header}"
                );
                assert!(!header.contains(" ("), "{name}: {field} = {header}");
            }
        }
    }
    assert!(section("de_para.csv").contains("não é uma exportação de resultados"));
    assert!(section("exemploseegene.xlsx").contains("exportação de equipamento"));
    assert!(section("GrupoFleury_Exames_4.csv").contains("CNS do paciente"));
    let sivep = section("sivep_gripe.xlsx");
    assert!(sivep.contains("painel"), "{sivep}");
    let acre = section("dados-ac.head.csv");
    assert!(
        acre.contains("a coluna \"dataTeste\" tem data e hora com fuso"),
        "{acre}"
    );
    assert!(acre.contains("declare a coluna como") || acre.contains("Declare a coluna como"));
    assert!(section("GAL_export_header_only.csv").contains("Linhas: 0"));
    // Presets recognised from the header alone, and used for the counts.
    assert!(section("gal_20251211T004603Z_exame.csv").contains("layout = \"gal-lote\""));
    let fleury = section("GrupoFleury_Exames_4.csv");
    assert!(fleury.contains("layout = \"fleury-analitos\""), "{fleury}");
    assert!(fleury.contains("8 ignoradas"), "{fleury}");
    assert!(acre.contains("date_only = [\"collection_date\"]"), "{acre}");
}

#[test]
fn an_unreadable_file_is_exit_2_and_a_bad_config_exit_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("foto.csv");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01").expect("written");
    let out = inspecionar(None, &[&png], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("não foi possível ler o arquivo"));
    let bad = dir.path().join("ruim.toml");
    std::fs::write(&bad, "[lab]\ncnes = 12\n").expect("written");
    let out = inspecionar(Some(&bad), &[&png], dir.path());
    assert_eq!(out.status.code(), Some(3));
}
