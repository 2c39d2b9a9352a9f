//! The client and doctor against the project's simulator (`crate::simulator`)
//! over real HTTPS with mutual TLS on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::Config;
use crate::rnds::doctor::{names, CheckStatus};
use crate::rnds::testutil::{self, Encoding};
use crate::rnds::{run_doctor, Client, DoctorReport, Outcome, Resolution};
use crate::simulator::{self, Faults, SimOptions, Simulator};

async fn start(dir: &Path, token_lifetime: Duration) -> Simulator {
    let mut options = SimOptions::new(dir.join("sim"));
    options.token_lifetime = token_lifetime;
    simulator::start(options).await.unwrap()
}

/// The contract-shaped 2.0 bundle of the simulator's lab, with `lab_id`.
fn bundle_value(lab_id: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/conformance/bundle-2.0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    b["identifier"]["value"] = json!(lab_id);
    b
}

fn bundle(lab_id: &str) -> Vec<u8> {
    bundle_value(lab_id).to_string().into_bytes()
}

/// The simulator's generated configuration, with fast back-off for tests.
fn config(sim: &Simulator) -> Config {
    let mut config = Config::load(&sim.files().config_toml).unwrap();
    config.rnds.backoff_base_ms = 20;
    config.rnds.backoff_max_ms = 200;
    config.rnds.max_retries = 12;
    config
}

fn rnds_id_of(sim: &Simulator, lab_id: &str) -> Vec<String> {
    sim.documents()
        .into_iter()
        .filter(|d| d.lab_id == lab_id)
        .map(|d| d.rnds_id)
        .collect()
}

/// A copy of the generated config with `edit` applied, next to the original
/// (so its relative paths still resolve).
fn edited_config(sim: &Simulator, edit: impl Fn(String) -> String) -> PathBuf {
    let original = &sim.files().config_toml;
    let text = edit(std::fs::read_to_string(original).unwrap());
    let path = original.with_file_name("editado.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn replace_line(text: String, key: &str, value: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with(&format!("{key} =")) {
                format!("{key} = {value}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn doctor(path: &Path) -> (DoctorReport, String) {
    let mut out = Vec::new();
    let report = run_doctor(path, &mut out).await;
    (report, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn doctor_passes_with_the_generated_config() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let (report, out) = doctor(&sim.files().config_toml).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 0, "{out}");
    assert!(report.passed(), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with('✓')).count(),
        9,
        "{out}"
    );
    assert!(
        out.contains(&sim.identity().cnpj),
        "CNPJ from the certificate: {out}"
    );
    assert!(sim.documents().is_empty(), "the probe stored nothing");
    sim.shutdown().await;
}

/// Production is never posted to: the requester check is reported as not
/// checkable and every other check runs read-only. The only ✗ are the
/// simulator's test certificate, which is not ICP-Brasil, and its chain,
/// which ends at the simulator's own root.
#[tokio::test]
async fn doctor_sends_no_post_to_production() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let path = edited_config(&sim, |t| replace_line(t, "environment", "\"producao\""));
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::ConfigurationProblem)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, [names::CERTIFICATE, names::CHAIN], "{out}");
    assert!(out.contains("não é da ICP-Brasil"), "{out}");
    let requester = report.check(names::REQUESTER).unwrap();
    assert_eq!(requester.status, CheckStatus::NotCheckable, "{out}");
    assert!(
        requester.detail.contains("nunca envia nada à produção"),
        "{out}"
    );
    assert!(out.contains("– identificador do solicitante"), "{out}");
    let stats = sim.stats();
    assert!(stats["by_method"].get("POST").is_none(), "{stats}");
    assert!(stats["by_method"]["GET"].as_u64().unwrap() >= 3, "{stats}");
    // Homologation (here the simulator) still gets the empty-bundle probe.
    let (report, out) = doctor(&sim.files().config_toml).await;
    assert_eq!(report.exit_code(), 0, "{out}");
    assert_eq!(sim.stats()["by_method"]["POST"], 1);
    sim.shutdown().await;
}

/// The inbox folder is missing (or the outbox is a file): doctor says so
/// instead of passing and leaving `run` to fail.
#[tokio::test]
async fn doctor_checks_the_inbox_folders() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    std::fs::write(sim.files().config_toml.with_file_name("relatorios"), "").unwrap();
    let path = edited_config(&sim, |t| {
        let t = replace_line(t, "path", "\"nao-existe\"");
        replace_line(t, "outbox", "\"relatorios\"")
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let folders = report.check(names::FOLDERS).unwrap();
    assert_eq!(folders.status, CheckStatus::ConfigurationProblem, "{out}");
    assert!(
        folders.detail.contains("nao-existe não existe: crie-a"),
        "{out}"
    );
    assert!(
        folders
            .detail
            .contains("relatorios é um arquivo, não uma pasta"),
        "{out}"
    );
    sim.shutdown().await;
}

/// A certificate from a CA the server does not know: the server refused
/// it, a configuration problem (3), not "check the internet" (4).
#[tokio::test]
async fn doctor_says_the_server_refused_our_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let other = testutil::pki(dir.path(), "outra", None);
    let foreign = testutil::pfx(&other, Encoding::Modern);
    let senha = dir.path().join("outra.senha");
    std::fs::write(&senha, testutil::PASSWORD).unwrap();
    let path = edited_config(&sim, |t| {
        let t = replace_line(t, "certificate", &format!("\"{}\"", foreign.display()));
        replace_line(
            t,
            "certificate_password_file",
            &format!("\"{}\"", senha.display()),
        )
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let token = report.check(names::TOKEN).unwrap();
    assert_eq!(token.status, CheckStatus::ConfigurationProblem, "{out}");
    assert!(
        token
            .detail
            .contains("o servidor recusou o certificado do laboratório"),
        "{out}"
    );
    assert!(!out.contains("internet"), "{out}");
    sim.shutdown().await;
}

/// Without `extra_ca` this computer refuses the simulator's certificate:
/// the message says so (it used to blame the server).
#[tokio::test]
async fn doctor_says_this_computer_refused_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let path = edited_config(&sim, |t| {
        t.lines()
            .filter(|l| !l.starts_with("extra_ca"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let token = report.check(names::TOKEN).unwrap();
    assert!(
        token
            .detail
            .contains("este computador recusou o certificado apresentado pelo servidor"),
        "{out}"
    );
    assert!(token.detail.contains("extra_ca"), "{out}");
    assert!(!token.detail.contains("UnknownIssuer"), "{out}");
    sim.shutdown().await;
}

/// Password file and PFX readable by other accounts: warned, not failed.
#[cfg(unix)]
#[tokio::test]
async fn doctor_warns_of_credentials_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    for file in [&sim.files().lab_pfx_password_file, &sim.files().lab_pfx] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (report, out) = doctor(&sim.files().config_toml).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 0, "{out}");
    let certificate = report.check(names::CERTIFICATE).unwrap();
    assert_eq!(certificate.status, CheckStatus::Warning, "{out}");
    assert!(out.contains("! certificado"), "{out}");
    assert!(
        certificate.detail.contains(
            "o arquivo de senha (certificate_password_file) pode ser lido por outras contas"
        ),
        "{out}"
    );
    assert!(certificate.detail.contains("chmod 600"), "{out}");
    // The password file's path is never printed (it may be the password).
    assert!(!out.contains("lab.pfx.senha"), "{out}");
    let password = std::fs::read_to_string(&sim.files().lab_pfx_password_file).unwrap();
    assert!(!out.contains(password.trim()), "{out}");
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_fails_clearly_for_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    std::fs::write(
        sim.files().config_toml.with_file_name("errada.senha"),
        "nao-e-esta\n",
    )
    .unwrap();
    let path = edited_config(&sim, |t| {
        replace_line(t, "certificate_password_file", "\"errada.senha\"")
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    assert!(out.contains("✗ certificado: senha incorreta"), "{out}");
    assert!(!out.contains("nao-e-esta"), "{out}");
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_fails_clearly_for_an_expired_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let old = testutil::pki(dir.path(), "vencido", Some((2019, 2022)));
    let expired = testutil::pfx(&old, Encoding::Legacy);
    std::fs::write(dir.path().join("vencido.senha"), testutil::PASSWORD).unwrap();
    let path = edited_config(&sim, |t| {
        let t = replace_line(t, "certificate", &format!("\"{}\"", expired.display()));
        let senha = dir.path().join("vencido.senha");
        replace_line(
            t,
            "certificate_password_file",
            &format!("\"{}\"", senha.display()),
        )
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let check = report.check(names::CERTIFICATE).unwrap();
    assert!(check.detail.contains("expirou em 01/01/2022"), "{out}");
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_fails_clearly_for_a_wrong_requester_id() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let path = edited_config(&sim, |t| replace_line(t, "requester_id", "\"27182\""));
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let check = report.check(names::REQUESTER).unwrap();
    assert_eq!(check.status, CheckStatus::ConfigurationProblem, "{out}");
    assert!(check.detail.contains("EHR-ERR881"), "{out}");
    assert!(check.detail.contains("requester_id"), "{out}");
    assert_eq!(
        report.check(names::TOKEN).unwrap().status,
        CheckStatus::Passed
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn doctor_fails_clearly_for_an_unlinked_professional() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let unlinked = sim.identity().unlinked_cns.clone();
    let path = edited_config(&sim, |t| {
        replace_line(t, "requester_cns", &format!("\"{unlinked}\""))
    });
    let (report, out) = doctor(&path).await;
    println!("{out}");
    assert_eq!(report.exit_code(), 3, "{out}");
    let check = report.check(names::LINK).unwrap();
    assert_eq!(check.status, CheckStatus::ConfigurationProblem, "{out}");
    assert!(check.detail.contains("não tem vínculo"), "{out}");
    assert!(check.detail.contains(&unlinked), "{out}");
    sim.shutdown().await;
}

/// Every RNDS call (token, lookups, bundle POST) says who is calling:
/// `User-Agent: rnds-drop/<version>`, as the simulator records it.
#[tokio::test]
async fn every_call_carries_the_user_agent() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let (report, out) = doctor(&sim.files().config_toml).await;
    assert_eq!(report.exit_code(), 0, "{out}");
    let client = Client::new(&config(&sim)).unwrap();
    assert!(matches!(
        client.submit(bundle("UA-1")).await,
        Outcome::Accepted { .. }
    ));
    assert!(client.find_document("UA-1").await.is_ok());
    let stats = sim.stats();
    let requests: u64 = stats["by_method"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    let expected = format!("rnds-drop/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        stats["by_user_agent"],
        json!({ expected: requests }),
        "{stats}"
    );
    assert!(stats["by_method"]["POST"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["by_method"]["GET"].as_u64().unwrap() >= 4, "{stats}");
    sim.shutdown().await;
}

#[tokio::test]
async fn accepted_id_is_the_stored_one_and_find_document_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let client = Client::new(&config(&sim)).unwrap();
    let Outcome::Accepted { rnds_id } = client.submit(bundle("LAB-0001")).await else {
        panic!("not accepted: {:?}", sim.documents())
    };
    assert_eq!(rnds_id_of(&sim, "LAB-0001"), vec![rnds_id.clone()]);
    assert_eq!(client.find_document("LAB-0001").await, Ok(Some(rnds_id)));
    assert_eq!(client.find_document("LAB-9999").await, Ok(None));
    assert_eq!(
        client.submit(bundle("LAB-0001")).await,
        Outcome::DuplicateIdentifier {
            code: "EHR-ERR866".into()
        }
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_bundle_is_rejected_with_the_simulator_text() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let client = Client::new(&config(&sim)).unwrap();
    let mut b = bundle_value("LAB-0002");
    b["entry"][0]["resource"]["status"] = json!("preliminary");
    match client.submit(b.to_string().into_bytes()).await {
        Outcome::Rejected { message } => assert!(message.contains("EHR-ERR924"), "{message}"),
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn thirty_minute_tokens_are_refreshed_before_they_expire() {
    // The simulator's own expiry (real time) is tested with zero-lifetime
    // tokens in simulator::tests; here the client's clock moves, so each
    // round finds its token inside the last minute and fetches a new one.
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let clock = crate::rnds::Clock::default();
    let client = Client::with_clock(&config(&sim), clock.clone()).unwrap();
    for round in 0..4 {
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move { client.submit(bundle(&format!("TK-{round}-{i}"))).await })
            })
            .collect();
        for task in tasks {
            let outcome = task.await.unwrap();
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        }
        // One fetch per round however many tasks asked at once.
        assert_eq!(client.tokens_fetched(), round + 1, "round {round}");
        // Half a minute before expiry: inside the client's one-minute margin.
        clock.advance(
            simulator::DEFAULT_TOKEN_LIFETIME
                .checked_sub(Duration::from_secs(30))
                .unwrap(),
        );
    }
    assert_eq!(sim.documents().len(), 16);
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_to_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    sim.set_faults(Faults {
        error_5xx_rate: 0.3,
        rate_429: 0.2,
        retry_after_s: 1,
        ..Faults::default()
    });
    let client = Client::new(&config(&sim)).unwrap();
    // 503 and 429 are retried inside `submit`; a 500 to a POST is an
    // unknown outcome that the caller settles before sending again.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let lab_id = format!("RT-{i:03}");
                loop {
                    match client.submit(bundle(&lab_id)).await {
                        Outcome::Unknown { .. } => {
                            match client.resolve_unknown(&lab_id, None, bundle(&lab_id)).await {
                                Ok(Resolution::NotStored) => continue,
                                Ok(Resolution::Stored { .. }) => return Ok(()),
                                Err(e) => return Err(format!("{e}")),
                            }
                        }
                        Outcome::Accepted { .. } => return Ok(()),
                        other => return Err(format!("{other:?}")),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let docs = sim.documents();
    assert_eq!(docs.len(), 30);
    let mut ids: Vec<_> = docs.iter().map(|d| d.lab_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 30, "each stored once");
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_answer_is_unknown_and_resolves_to_the_stored_id() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let client = Client::new(&config(&sim)).unwrap();
    sim.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let outcome = client.submit(bundle("LOST-1")).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    sim.set_faults(Faults::default());
    let stored = rnds_id_of(&sim, "LOST-1");
    assert_eq!(stored.len(), 1, "stored once, not resent");
    assert_eq!(
        client
            .resolve_unknown("LOST-1", None, bundle("LOST-1"))
            .await,
        Ok(Resolution::Stored {
            rnds_id: Some(stored[0].clone())
        })
    );
    assert_eq!(
        client
            .resolve_unknown("NEVER-1", None, bundle("NEVER-1"))
            .await,
        Ok(Resolution::NotStored)
    );
    assert_eq!(sim.documents().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_short_outage_is_ridden_out_by_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let mut config = config(&sim);
    // Expected back-off budget ≈ 2.8 s of full jitter against a 0.5 s outage.
    config.rnds.max_retries = 30;
    let client = Client::new(&config).unwrap();
    // No connection is open yet, so every attempt in the outage is refused
    // before sending (a live connection cut mid-request would be Unknown).
    sim.outage(Duration::from_millis(500));
    let outcome = client.submit(bundle("OUT-1")).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    assert_eq!(rnds_id_of(&sim, "OUT-1").len(), 1);
    sim.shutdown().await;
}

/// What the caller (pipeline + ledger) does with the client's tools: an
/// Unknown is resolved, never resent blindly; NotStored is sent again, and
/// EHR-ERR866 to that resend means the lost attempt was stored after all
/// (`round.rs`: a retry answered 866 is sent, id unknown). That happens:
/// a server keeps working on a request whose connection is gone (the
/// simulator's HTTP/2 streams run as their own tasks), so the lookup can
/// come before the lost attempt is stored.
/// Returns the RNDS id (if learnt) and how many Unknowns were resolved.
async fn send_exactly_once(client: &Client, lab_id: &str) -> (Option<String>, u32) {
    let mut outcome = client.submit(bundle(lab_id)).await;
    let mut unknowns = 0;
    loop {
        match outcome {
            Outcome::Accepted { rnds_id } => return (Some(rnds_id), unknowns),
            Outcome::DuplicateIdentifier { .. } if unknowns > 0 => return (None, unknowns),
            Outcome::Unknown { .. } => {
                unknowns += 1;
                match client.resolve_unknown(lab_id, None, bundle(lab_id)).await {
                    Ok(Resolution::Stored { rnds_id }) => return (rnds_id, unknowns),
                    Ok(Resolution::NotStored) => outcome = client.submit(bundle(lab_id)).await,
                    Err(e) => panic!("{lab_id}: {e}"),
                }
            }
            Outcome::Transient { .. } => outcome = client.submit(bundle(lab_id)).await,
            other => panic!("{lab_id}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_of_the_issue_still_store_each_result_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), Duration::from_secs(2)).await;
    sim.set_faults(Faults {
        error_5xx_rate: 0.10,
        rate_429: 0.05,
        retry_after_s: 1,
        lost_answer_rate: 0.02,
        ..Faults::default()
    });
    let client = Client::new(&config(&sim)).unwrap();
    let total = 500;
    let tasks: Vec<_> = (0..total)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let lab_id = format!("EO-{i:04}");
                let (id, unknowns) = send_exactly_once(&client, &lab_id).await;
                (lab_id, id, unknowns)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap());
    }
    let docs = sim.documents();
    assert_eq!(docs.len(), total, "every result stored, none twice");
    // 2 % of 500: the chance of no lost answer at all is 4e-5.
    assert!(
        answered.iter().map(|a| a.2).sum::<u32>() > 0,
        "no answer was lost"
    );
    for (lab_id, id, _) in answered {
        let stored = rnds_id_of(&sim, &lab_id);
        assert_eq!(stored.len(), 1, "{lab_id}");
        if let Some(id) = id {
            assert_eq!(id, stored[0], "{lab_id}");
        }
    }
    sim.shutdown().await;
}

/// Every code of RNDS' error list (schemas/rnds_errors.toml) end to end:
/// the simulator answers it (identifier `SIMULAR-<code>`), the client
/// classifies it by the table's class, and a refusal carries the table's
/// pt-BR action.
#[tokio::test]
async fn every_catalogued_code_is_answered_and_classified() {
    use crate::rnds_errors::{catalogue, ErrorClass};
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    let mut config = config(&sim);
    config.rnds.max_retries = 1;
    config.rnds.backoff_base_ms = 1;
    config.rnds.backoff_max_ms = 2;
    let client = Client::new(&config).unwrap();
    let entries = catalogue().entries();
    assert_eq!(entries.len(), 251);
    for entry in entries {
        let code = &entry.code;
        let outcome = client.submit(bundle(&format!("SIMULAR-{code}"))).await;
        let carries = |message: &str| {
            assert!(
                message.contains(&format!("EHR-{code}")),
                "{code}: {message}"
            );
        };
        match (entry.class, &outcome) {
            (ErrorClass::AlreadyAtRnds, Outcome::DuplicateIdentifier { code: answered }) => {
                carries(answered);
            }
            (ErrorClass::FixRow, Outcome::Rejected { message }) => {
                carries(message);
                assert!(message.ends_with(&entry.action), "{code}: {message}");
            }
            (ErrorClass::FixConfiguration, Outcome::ConfigurationError { message }) => {
                carries(message);
                if code != "ERR882" {
                    assert!(message.ends_with(&entry.action), "{code}: {message}");
                }
            }
            (ErrorClass::RetryLater, Outcome::Transient { message }) => {
                carries(message);
                assert!(message.contains(&entry.action), "{code}: {message}");
            }
            _ => panic!("{code} ({:?}) became {outcome:?}", entry.class),
        }
    }
    assert!(
        sim.documents().is_empty(),
        "a simulated refusal stored nothing"
    );
    let stats = sim.stats();
    assert_eq!(
        stats["by_error_code"]["EHR-ERR880"], 1,
        "answered once each: {stats}"
    );
    sim.shutdown().await;
}
