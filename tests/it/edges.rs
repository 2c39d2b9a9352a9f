//! The edges of the binary a lab's IT meets first: command-line mistakes,
//! configuration mistakes (never echoing a password), `check` before there
//! is a certificate, and `run` without an inbox or with an outbox that is a
//! file. Each reads the message and the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness;

fn rnds_drop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn lab_toml() -> String {
    std::fs::read_to_string(harness::fixtures().join("lab.toml")).expect("lab.toml")
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("rnds-drop.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

fn valid_csv() -> PathBuf {
    harness::fixtures().join("check/separate_date_time/input.csv")
}

#[test]
fn a_command_line_mistake_is_its_own_exit_code() {
    let out = rnds_drop()
        .args(["check", "--nao-existe"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let out = rnds_drop().arg("check").output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(64),
        "a missing FILE: {}",
        text(&out)
    );
    let out = rnds_drop().arg("--help").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("64 linha de comando inválida"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_runs_before_the_lab_has_a_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab_toml();
    let start = lab.find("[rnds]").expect("[rnds]");
    let end = lab.find("[defaults]").expect("[defaults]");
    let config = write_config(dir.path(), &format!("{}{}", &lab[..start], &lab[end..]));
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("saida"))
        .arg(valid_csv())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The network commands still say what is missing.
    let out = rnds_drop()
        .args(["doctor", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("falta a seção [rnds]"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_password_in_the_toml_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "Senha-Secreta-123";
    let config = write_config(
        dir.path(),
        &lab_toml().replace(
            "certificate = \"nao-usado.pfx\"",
            &format!("certificate = \"nao-usado.pfx\"\ncertificate_password = \"{secret}\""),
        ),
    );
    for command in ["doctor", "run", "send", "check"] {
        let mut cmd = rnds_drop();
        cmd.args([command, "--config"]).arg(&config);
        if command == "send" || command == "check" {
            cmd.arg("--out")
                .arg(dir.path().join("saida"))
                .arg(valid_csv());
        }
        let out = cmd.output().expect("runs");
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(3), "{command}: {shown}");
        assert!(!shown.contains(secret), "{command}: {shown}");
        assert!(shown.contains("linha 12"), "{command}: {shown}");
        assert!(
            shown.contains("certificate_password_env"),
            "{command}: {shown}"
        );
    }
}

#[test]
fn run_refuses_to_start_without_an_inbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &lab_toml());
    let out = rnds_drop()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("nenhuma pasta de entrada"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_into_a_file_is_a_usage_error_not_internal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_folder = dir.path().join("saida");
    std::fs::write(&not_a_folder, "").expect("written");
    let out = rnds_drop()
        .args(["check", "--config"])
        .arg(harness::fixtures().join("lab.toml"))
        .arg("--out")
        .arg(&not_a_folder)
        .arg(valid_csv())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("--out"), "{shown}");
    assert!(!shown.contains("os error"), "{shown}");
}

/// `run` against the simulator with an outbox that is a file: a
/// configuration mistake (3), said in Portuguese, not an internal failure.
#[test]
fn run_with_an_outbox_that_is_a_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = runtime
        .block_on(rnds_drop::simulator::start(
            rnds_drop::simulator::SimOptions::new(dir.path().join("sim")),
        ))
        .expect("simulator");
    let config_path = sim.files().config_toml.clone();
    let outbox_file = dir.path().join("sim/saida");
    std::fs::write(&outbox_file, "").expect("written");
    let out = rnds_drop()
        .args(["run", "--config"])
        .arg(&config_path)
        .output()
        .expect("runs");
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(shown.contains("outbox"), "{shown}");
    assert!(!shown.contains("os error"), "{shown}");
    runtime.block_on(sim.shutdown());
}
