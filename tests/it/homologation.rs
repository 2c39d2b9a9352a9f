//! `homologacao` against the simulator, end to end: every scenario gets the
//! answer it expects and the evidence folder holds what DATASUS asks for,
//! with no secret in it.

use rnds_drop::demo::write_workspace_config;
use rnds_drop::homologation::{self, Expected};
use rnds_drop::simulator::{self, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homologation_against_the_simulator_writes_the_evidence_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (_, config) =
        write_workspace_config(sim.files(), &tmp.path().join("lab"), 200, "watch").unwrap();
    let out = tmp.path().join("evidencias");
    let report = homologation::run(&config, &out).await.unwrap();

    let keys: Vec<&str> = report.evidences.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "01-pcr-qualitativo",
            "02-antigeno",
            "03-quantitativo",
            "04-substituicao",
            "05-invalido"
        ]
    );
    for e in &report.evidences {
        assert!(e.passed, "{e:?}");
        assert!(report.folder.join(&e.request_file).is_file());
        assert!(report
            .folder
            .join(format!("{}.resposta.json", e.key))
            .is_file());
    }
    let [pcr, _, _, replacement, invalid] = &report.evidences[..] else {
        panic!("five scenarios")
    };
    assert_eq!(pcr.http_status, Some(201));
    assert_eq!(replacement.replaces, pcr.rnds_id);
    assert_ne!(replacement.rnds_id, pcr.rnds_id);
    assert_eq!(invalid.expected, Expected::Rejected);
    assert!(invalid.http_status.is_some_and(|s| (400..500).contains(&s)));
    assert!(invalid.operation_outcome.is_some(), "{invalid:?}");
    // The replacement went out as one: RNDS holds both versions of the PCR.
    let stored: Vec<_> = sim
        .documents()
        .into_iter()
        .filter(|d| d.lab_id == pcr.lab_id)
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");

    for name in ["relatorio.html", "relatorio.xlsx", "evidencias.json"] {
        assert!(report.folder.join(name).is_file(), "{name}");
    }
    let html = std::fs::read_to_string(report.folder.join("relatorio.html")).unwrap();
    assert!(html.contains(&config.lab.cnes));
    assert!(html.contains("FICTICIO"));
    // No secret anywhere in the folder.
    let password = std::fs::read_to_string(&sim.files().lab_pfx_password_file).unwrap();
    let password = password.trim();
    assert!(password.len() >= 8);
    for entry in std::fs::read_dir(&report.folder).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(password), "password in the evidence folder");
    }
}

/// The lab's own configuration (an example of `examples/` with its
/// `[inbox.columns]`, presets, value maps and `[defaults]`) pointed at the
/// simulator: `[rnds]` is the simulator's, `[lab]` keeps its CNES and takes
/// the requester the simulator knows, folders move into `dir`.
fn example_against_simulator(
    example: &std::path::Path,
    sim: &simulator::SimFiles,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let text = |p: &std::path::Path| toml::Value::String(p.to_string_lossy().into_owned());
    let mut table: toml::Table =
        toml::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let sim_table: toml::Table =
        toml::from_str(&std::fs::read_to_string(&sim.config_toml).unwrap()).unwrap();
    let mut rnds = sim_table["rnds"].as_table().unwrap().clone();
    rnds.insert("certificate".into(), text(&sim.lab_pfx));
    rnds.insert(
        "certificate_password_file".into(),
        text(&sim.lab_pfx_password_file),
    );
    rnds.insert("extra_ca".into(), text(&sim.ca_pem));
    table.insert("rnds".into(), toml::Value::Table(rnds));
    let lab = table.get_mut("lab").and_then(|l| l.as_table_mut()).unwrap();
    for key in ["requester_id", "requester_cns"] {
        lab.insert(key.into(), sim_table["lab"][key].clone());
    }
    if let Some(toml::Value::Array(inboxes)) = table.get_mut("inbox") {
        for (n, inbox) in inboxes.iter_mut().enumerate() {
            let inbox = inbox.as_table_mut().unwrap();
            inbox.insert("path".into(), text(&dir.join(format!("entrada{n}"))));
            inbox.insert("outbox".into(), text(&dir.join(format!("saida{n}"))));
        }
    }
    if let Some(toml::Value::Table(ledger)) = table.get_mut("ledger") {
        ledger.insert("path".into(), text(&dir.join("rnds-drop.sqlite")));
    }
    if let Some(toml::Value::Table(service)) = table.get_mut("service") {
        service.remove("log_file");
    }
    let path = dir.join("rnds-drop.toml");
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

/// Guide step 7 with the lab's real configuration: the test rows are the
/// scenario's own, never read through the lab's columns, presets or
/// defaults, so every example configuration passes; against the simulator
/// the console and the report say it was a rehearsal, not evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homologation_passes_with_every_example_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut examples = vec![
        root.join("rnds-drop.toml"),
        root.join("debian/rnds-drop.toml"),
    ];
    let mut layouts: Vec<_> = std::fs::read_dir(root.join("layouts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    layouts.sort();
    assert!(layouts.len() >= 5, "{layouts:?}");
    examples.extend(layouts);
    let mut failures = Vec::new();
    for (n, example) in examples.iter().enumerate() {
        let dir = tmp.path().join(format!("lab{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = example_against_simulator(example, sim.files(), &dir);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["homologacao", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(dir.join("evidencias"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let html = std::fs::read_dir(dir.join("evidencias"))
            .ok()
            .and_then(|mut folders| folders.next())
            .and_then(|folder| {
                std::fs::read_to_string(folder.unwrap().path().join("relatorio.html")).ok()
            })
            .unwrap_or_default();
        let rehearsal_said = stdout.contains("ENSAIO no simulador")
            && html.contains("ENSAIO no simulador")
            && html.contains("não é evidência");
        if out.status.code() != Some(0) || !rehearsal_said {
            failures.push(format!(
                "{}: exit {:?}, rehearsal banner {rehearsal_said}\n{stdout}{stderr}",
                example.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
