//! Configuration mistakes a lab makes on day one are refused at load, in
//! pt-BR, with the line: never silently turned into another lab, another
//! professional or a mapping that cannot work.

use std::process::Command;

use crate::harness;

/// `check --config` on the test lab's configuration changed by `edit`:
/// exit code and stderr.
fn check_with(edit: impl Fn(String) -> String) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = edit(std::fs::read_to_string(harness::fixtures().join("lab.toml")).unwrap());
    let config = dir.path().join("rnds-drop.toml");
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["check", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("saida"))
        .arg(harness::fixtures().join("check/separate_date_time/input.csv"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const INBOX: &str = "\n[[inbox]]\npath = \"entrada\"\noutbox = \"saida\"\n";

#[test]
fn the_unchanged_test_lab_loads() {
    let (code, stderr) = check_with(|t| format!("{t}{INBOX}"));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_six_digit_cnes_is_refused_not_padded_into_another_establishment() {
    let (code, stderr) = check_with(|t| t.replace("cnes = \"2337991\"", "cnes = \"337991\""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("7 dígitos"), "{stderr}");
    assert!(stderr.contains("linha 3"), "{stderr}");
    assert!(stderr.contains("não completa com zeros"), "{stderr}");
    // The value it would be with the zero, for the lab to confirm and
    // write itself: never taken silently.
    assert!(
        stderr.contains(
            "se o CNES do laboratório é 0337991, escreva os 7 dígitos: cnes = \"0337991\""
        ),
        "{stderr}"
    );
}

#[test]
fn a_requester_cns_with_a_wrong_check_digit_is_refused() {
    let (code, stderr) = check_with(|t| t.replace("980016287385192", "980016287385193"));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("requester_cns"), "{stderr}");
    assert!(stderr.contains("dígito verificador"), "{stderr}");
    assert!(stderr.contains("linha 5"), "{stderr}");
}

#[test]
fn two_inboxes_on_one_folder_are_refused() {
    let (code, stderr) = check_with(|t| {
        format!("{t}{INBOX}\n[[inbox]]\npath = \"./entrada\"\noutbox = \"saida2\"\n")
    });
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("mesma pasta de entrada"), "{stderr}");
}

#[test]
fn an_exam_code_mapped_to_no_code_of_the_tables_is_refused() {
    let (code, stderr) =
        check_with(|t| format!("{t}{INBOX}\n[inbox.exam_codes]\n\"2019NCOV\" = \"94309\"\n"));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("\"94309\""), "{stderr}");
    assert!(stderr.contains("BRNomeExameLOINC"), "{stderr}");
}
