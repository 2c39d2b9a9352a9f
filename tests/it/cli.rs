//! The real binary: exit codes and what a person sees.

use std::process::Command;

use crate::harness;

fn rnds_drop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
}

#[test]
fn example_config_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rnds-drop.toml");
    let config = rnds_drop::config::Config::load(&path).expect("examples/rnds-drop.toml parses");
    assert_eq!(config.lab.cnes, "2337991");
    assert_eq!(config.inbox.len(), 1);
    assert_eq!(
        config.inbox[0]
            .exam_codes
            .get("2019NCOV")
            .map(String::as_str),
        Some("94309-2")
    );
}

#[test]
fn unknown_config_key_is_exit_3_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(harness::fixtures().join("lab.toml"))
        .expect("lab.toml")
        .replace("uf = \"SP\"", "uf = \"SP\"\nfuso = \"x\"");
    let config = dir.path().join("rnds-drop.toml");
    std::fs::write(&config, text).expect("config written");
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(&config)
        .arg(harness::fixtures().join("check/separate_date_time/input.csv"))
        .current_dir(dir.path())
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fuso"), "{stderr}");
    assert!(stderr.contains("linha 8"), "{stderr}");
}

#[test]
fn exit_codes_follow_the_worst_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |files: &[&str]| {
        let mut cmd = rnds_drop();
        cmd.args(["check", "--config"])
            .arg(harness::fixtures().join("lab.toml"))
            .arg("--out")
            .arg(dir.path().join("saida"));
        for f in files {
            cmd.arg(harness::fixtures().join(f));
        }
        cmd.output().expect("binary runs")
    };
    let all_valid = run(&["check/separate_date_time/input.csv"]);
    assert_eq!(all_valid.status.code(), Some(0), "{all_valid:?}");
    let some_invalid = run(&[
        "check/separate_date_time/input.csv",
        "check/lis_cp1252_crlf/input.csv",
    ]);
    assert_eq!(some_invalid.status.code(), Some(1));
    let png = dir.path().join("foto.csv");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01").expect("written");
    let unreadable = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(dir.path().join("saida"))
        .arg(&png)
        .output()
        .expect("binary runs");
    assert_eq!(unreadable.status.code(), Some(2));
    let summary =
        std::fs::read_to_string(dir.path().join("saida/foto.resumo.json")).expect("resumo written");
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
    assert!(
        summary["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{summary}"
    );
}

#[test]
fn check_keeps_both_report_sets_when_two_inputs_share_a_stem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("inj.csv");
    let xlsx = dir.path().join("inj.xlsx");
    std::fs::copy(
        harness::fixtures().join("check/lis_cp1252_crlf/input.csv"),
        &csv,
    )
    .expect("csv copied");
    std::fs::copy(harness::samples().join("exemploseegene.xlsx"), &xlsx).expect("xlsx copied");
    let out_dir = dir.path().join("saida");
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(&out_dir)
        .arg(&csv)
        .arg(&xlsx)
        .output()
        .expect("binary runs");
    assert!(out.status.code().is_some_and(|c| c <= 2), "{out:?}");
    for (name, input) in [("inj.csv", "inj.csv"), ("inj.xlsx", "inj.xlsx")] {
        let summary = std::fs::read_to_string(out_dir.join(format!("{name}.resumo.json")))
            .unwrap_or_else(|e| panic!("{name}.resumo.json: {e}"));
        let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
        assert_eq!(summary["file"], input);
        assert!(out_dir.join(format!("{name}.erros.csv")).exists());
    }
    assert!(out_dir.join("inj.xlsx.erros.xlsx").exists());
    assert!(!out_dir.join("inj.resumo.json").exists());
}

/// A report name that cannot be replaced (on Windows: `exames.erros.csv`
/// still open in Excel; here a folder of that name, which no rename can
/// replace on any OS) must not make `check` fail with exit 5: the report
/// goes to a free numbered name and the console says so.
#[test]
fn a_report_name_in_use_is_written_beside_it_and_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("saida");
    let taken = out_dir.join("input.erros.csv");
    std::fs::create_dir_all(taken.join("aberto")).expect("folder in the way");
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(&out_dir)
        .arg(harness::fixtures().join("check/lis_cp1252_crlf/input.csv"))
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{out:?}");
    let written = out_dir.join("input.erros (2).csv");
    let errors = std::fs::read_to_string(&written).expect("errors written beside");
    assert!(errors.contains("erro_mensagem"), "{errors}");
    assert!(stdout.contains("aberto em outro programa"), "{stdout}");
    assert!(stdout.contains("input.erros (2).csv"), "{stdout}");
    // The other reports keep their names.
    assert!(out_dir.join("input.resumo.json").is_file());
}
