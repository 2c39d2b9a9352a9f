//! `[alertas]` e-mail: during a simulator outage, rows pending past the
//! threshold produce exactly one message at a real SMTP server on loopback
//! that requires STARTTLS (a small sink written here, with the simulator's
//! test CA and server certificate, generated at test time).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use rnds_drop::config::Config;
use rnds_drop::demo::{drop_file, write_workspace_config};
use rnds_drop::simulator::{self, SimOptions};

/// One message as the sink received it.
#[derive(Debug, Clone)]
struct Received {
    over_tls: bool,
    data: String,
}

fn acceptor(cert: &std::path::Path, key: &std::path::Path) -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// Speaks SMTP on `stream` until QUIT, or until the client asks for
/// STARTTLS (returns `true` then). Mail before TLS is refused.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    over_tls: bool,
    received: &Mutex<Vec<Received>>,
) -> (bool, S) {
    let mut io = BufReader::new(stream);
    let mut data: Option<String> = None;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return (false, io.into_inner());
        }
        if let Some(body) = &mut data {
            if line == ".\r\n" {
                received.lock().unwrap().push(Received {
                    over_tls,
                    data: std::mem::take(body),
                });
                data = None;
                io.write_all(b"250 queued\r\n").await.unwrap();
            } else {
                body.push_str(&line);
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if over_tls => b"250-sink\r\n250 8BITMIME\r\n",
            "EHLO" => b"250-sink\r\n250 STARTTLS\r\n",
            "HELO" => b"250 sink\r\n",
            "STAR" if !over_tls => {
                io.write_all(b"220 go ahead\r\n").await.unwrap();
                return (true, io.into_inner());
            }
            "MAIL" | "RCPT" if !over_tls => b"530 must issue STARTTLS first\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
            "DATA" => {
                data = Some(String::new());
                b"354 go\r\n"
            }
            "QUIT" => {
                io.write_all(b"221 bye\r\n").await.unwrap();
                return (false, io.into_inner());
            }
            _ => b"502 not implemented\r\n",
        };
        io.write_all(reply).await.unwrap();
    }
}

async fn smtp_sink(listener: TcpListener, tls: TlsAcceptor, received: Arc<Mutex<Vec<Received>>>) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let tls = tls.clone();
        let received = received.clone();
        tokio::spawn(async move {
            tcp.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            let (upgrade, tcp) = converse(tcp, false, &received).await;
            if upgrade {
                if let Ok(stream) = tls.accept(tcp).await {
                    converse(stream, true, &received).await;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_rows_during_an_outage_send_exactly_one_email() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let files = sim.files().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_sink(
        listener,
        acceptor(&files.server_cert, &files.server_key),
        received.clone(),
    ));

    let root = tmp.path().join("lab");
    let (ws, _) = write_workspace_config(&files, &root, 200, "watch").unwrap();
    let mut text = std::fs::read_to_string(&ws.config_path).unwrap();
    text.push_str(&format!(
        r#"
[alertas]
pending_after_s = 2
repeat_after_s = 3600
check_interval_s = 1

[alertas.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
from = "rnds-drop@laboratorio.test"
to = ["ti@laboratorio.test"]
extra_ca = "{ca}"
timeout_s = 10
"#,
        ca = files.ca_pem.display()
    ));
    std::fs::write(&ws.config_path, text).unwrap();
    let mut config = Config::load(&ws.config_path).unwrap();
    config.rnds.max_retries = 1;
    config.rnds.backoff_base_ms = 20;
    config.rnds.timeout_s = 2;

    // RNDS is down for the whole test.
    sim.outage(Duration::from_secs(600));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(rnds_drop::service::run(config, async move {
        let _ = stopped.await;
    }));
    drop_file(
        &ws.inbox,
        "lote.csv",
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n\
         AL-1;PACIENTE 1;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;SWNAFA;RT-PCR\n"
            .as_bytes(),
    )
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no alert e-mail within 60 s");
        assert!(!service.is_finished(), "the service stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several more checks while the rows stay pending: still one message.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = stop.send(());
    service.await.unwrap().unwrap();

    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.over_tls);
    assert!(
        mail.data
            .contains("Subject: rnds-drop: exames aguardando a RNDS"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("To: ti@laboratorio.test"),
        "{}",
        mail.data
    );
    assert!(!mail.data.contains("759010928159013"));
}

/// An invalid row left in its errors report past `[service]
/// uncorrected_rows_after_s` (0 here: the test must not wait a day) sends
/// one message naming the file, never the patient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_waiting_in_an_errors_report_send_one_email() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
        .await
        .unwrap();
    let files = sim.files().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_sink(
        listener,
        acceptor(&files.server_cert, &files.server_key),
        received.clone(),
    ));
    let (ws, _) = write_workspace_config(&files, &tmp.path().join("lab"), 200, "watch").unwrap();
    let mut text = std::fs::read_to_string(&ws.config_path)
        .unwrap()
        .replace("[service]\n", "[service]\nuncorrected_rows_after_s = 0\n");
    text.push_str(&format!(
        r#"
[alertas]
repeat_after_s = 3600
check_interval_s = 1

[alertas.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
from = "rnds-drop@laboratorio.test"
to = ["ti@laboratorio.test"]
extra_ca = "{ca}"
timeout_s = 10
"#,
        ca = files.ca_pem.display()
    ));
    std::fs::write(&ws.config_path, text).unwrap();
    let config = Config::load(&ws.config_path).unwrap();
    assert_eq!(config.service.uncorrected_rows_after_s, 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(rnds_drop::service::run(config, async move {
        let _ = stopped.await;
    }));
    drop_file(
        &ws.inbox,
        "marco.csv",
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n\
         UA-1;PACIENTE 1;759010928159014;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;SWNAFA;RT-PCR\n"
            .as_bytes(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no alert e-mail within 60 s");
        assert!(!service.is_finished(), "the service stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More checks while the row still waits: still one message.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    service.await.unwrap().unwrap();
    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    // Quoted-printable: soft line breaks joined again.
    let mail = mails[0].data.replace("=\r\n", "").replace("=\n", "");
    assert!(mail.contains("Subject: rnds-drop: linhas "), "{mail}");
    assert!(
        mail.contains("linha(s) inv=C3=A1lida(s) aguardam corre=C3=A7=C3=A3o"),
        "{mail}"
    );
    assert!(mail.contains("(marco.csv: 1)"), "{mail}");
    assert!(!mail.contains("759010928159014"), "{mail}");
}
