//! Twin drops: inputs of one name stem (`lote.csv`, then `lote.txt`, then
//! `lote.csv` again from a second inbox sharing the outbox). Every report
//! name of the real service says which input it belongs to: the input's
//! extension and the instant it was received, which its `resumo.json`
//! repeats with the file's name and inbox.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The summaries in `outbox`, sorted; waits (bounded) for `count` of them.
fn summaries(outbox: &Path, count: usize, log: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut names: Vec<String> = std::fs::read_dir(outbox)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".resumo.json"))
            .collect();
        if names.len() >= count {
            names.sort();
            return names;
        }
        assert!(
            Instant::now() < deadline,
            "{count} summaries not written ({names:?}):\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_name_says_which_input_and_when_it_was_received() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let (ws, _) =
        write_workspace_config(sim.files(), &tmp.path().join("lab"), 200, "watch").unwrap();
    // A second inbox writing into the same outbox.
    let second_inbox = tmp.path().join("lab/entrada-2");
    std::fs::create_dir_all(&second_inbox).unwrap();
    let mut table: toml::Table =
        toml::from_str(&std::fs::read_to_string(&ws.config_path).unwrap()).unwrap();
    let inboxes = table["inbox"].as_array_mut().unwrap();
    let mut second = inboxes[0].clone();
    second.as_table_mut().unwrap().insert(
        "path".into(),
        toml::Value::String(second_inbox.to_string_lossy().into_owned()),
    );
    inboxes.push(second);
    std::fs::write(&ws.config_path, toml::to_string(&table).unwrap()).unwrap();

    let log = tmp.path().join("servico.log");
    let _service = Service(
        Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&ws.config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let drops = [
        (&ws.inbox, "lote.csv", "TW-1"),
        (&ws.inbox, "lote.txt", "TW-2"),
        (&second_inbox, "lote.csv", "TW-3"),
    ];
    for (n, (inbox, name, prefix)) in drops.iter().enumerate() {
        drop_file(
            inbox,
            name,
            crate::daemon::export(prefix, 1, &[]).as_bytes(),
        )
        .unwrap();
        summaries(&ws.outbox, n + 1, &log);
    }

    let names = summaries(&ws.outbox, drops.len(), &log);
    let mut seen = Vec::new();
    for name in &names {
        let summary = crate::daemon::json(&ws.outbox.join(name));
        let file = summary["file"].as_str().unwrap_or_default().to_owned();
        let received = summary["received_at"].as_str().unwrap_or_default();
        let inbox = summary["inbox"].as_str().unwrap_or_default().to_owned();
        // `lote.<AAAAMMDDTHHMMSS>_<extension>.resumo.json`.
        let base = name.strip_suffix(".resumo.json").unwrap();
        let (stem, rest) = base.split_once('.').unwrap();
        let extension = rest.split('_').nth(1).unwrap_or_default();
        assert_eq!(
            format!("{stem}.{extension}"),
            file,
            "{name}: the report name says which file it is"
        );
        let at = chrono::DateTime::parse_from_rfc3339(received)
            .unwrap_or_else(|e| panic!("{name}: received_at {received:?}: {e}"));
        assert!(
            rest.starts_with(&at.format("%Y%m%dT%H%M%S").to_string()),
            "{name}: the report name says when its input was received ({received})"
        );
        seen.push((file, inbox));
    }
    seen.sort();
    let first = ws.inbox.to_string_lossy().into_owned();
    let other = second_inbox.to_string_lossy().into_owned();
    let mut expected = vec![
        ("lote.csv".to_owned(), first.clone()),
        ("lote.txt".to_owned(), first),
        ("lote.csv".to_owned(), other),
    ];
    expected.sort();
    assert_eq!(seen, expected, "{names:?}");
}
