//! Files that end in `falhas/`: empty ones, and one whose reading was
//! interrupted twice; the service goes on with the next file.

use std::time::{Duration, Instant};

use rnds_drop::demo::drop_file;

use super::*;
use rnds_drop::watch::Scanner;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_end_in_falhas_with_a_reason_and_the_next_file_is_taken() {
    let mut service = Service::new().await;
    service.start();
    drop_file(&service.ws.inbox, "vazio.csv", b"").unwrap();
    drop_file(&service.ws.inbox, "vazia.xlsx", b"").unwrap();
    // Taken from the inbox after settling: never left there silently.
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.ws.inbox.join("vazio.csv").exists()
        || service.ws.inbox.join("vazia.xlsx").exists()
    {
        assert!(Instant::now() < deadline, "empty files left in the inbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut good = HEADER.to_owned();
    for i in 1..=3 {
        good.push_str(&row("BOM", i));
    }
    drop_file(&service.ws.inbox, "bom.csv", good.as_bytes()).unwrap();

    // The good file does not wait for the empty ones' second look.
    let reports = service.reports("bom", 1, Duration::from_secs(10)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_sent"), 3);

    for stem in ["vazio", "vazia"] {
        let reports = service.reports(stem, 1, Duration::from_secs(30)).await;
        let s = summary(&reports[0]);
        let reason = s["error"].as_str().unwrap_or_default();
        assert!(reason.contains("vazio (0 bytes)"), "{s}");
    }
    service.moved_to("falhas", "vazio.csv").await;
    service.moved_to("falhas", "vazia.xlsx").await;
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_whose_reading_was_interrupted_twice_goes_to_falhas() {
    let mut service = Service::new().await;
    // A first run creates the ledger (a missing one is not created where
    // processando/ shows earlier work).
    service.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The work folders are prepared after the ledger is open.
    while !(service.ws.ledger.exists() && service.work("tentativas").is_dir()) {
        assert!(Instant::now() < deadline, "the service never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service.stop();
    let mut text = HEADER.to_owned();
    text.push_str(&row("BOMBA", 1));
    drop_file(&service.ws.inbox, "bomba.csv", text.as_bytes()).unwrap();
    // What two runs killed while reading it leave behind: the file claimed
    // into processando/ and two reads begun that produced no row.
    let mut scanner = Scanner::new(0, &service.ws.inbox, Duration::ZERO).unwrap();
    let ready = scanner.poll(Instant::now()).unwrap().ready;
    let claimed = scanner.claim(&ready[0]).unwrap().expect("claimed");
    let look = claimed.look().unwrap();
    claimed.begin_read(&look, 0).unwrap();
    claimed.begin_read(&look, 0).unwrap();

    service.start();
    let reports = service.reports("bomba", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    let reason = s["error"].as_str().unwrap_or_default();
    assert!(reason.contains("interrompida 2 vezes"), "{s}");
    assert!(service.sim().documents().is_empty());
    service.moved_to("falhas", "bomba.csv").await;
    // The service goes on with the next file.
    let mut good = HEADER.to_owned();
    good.push_str(&row("BOM", 1));
    drop_file(&service.ws.inbox, "bom.csv", good.as_bytes()).unwrap();
    let reports = service.reports("bom", 1, Duration::from_secs(10)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_sent"), 1);
    service.stop();
}
