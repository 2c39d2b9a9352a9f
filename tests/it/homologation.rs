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
