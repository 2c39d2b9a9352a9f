//! The second look at a token request whose connection broke after the TLS
//! handshake: was it the server refusing the lab's certificate?
//!
//! With TLS 1.3 the server judges the client certificate after the client
//! already finished the handshake and sent its request; the refusal alert
//! then races the connection's end (HTTP/2 reports only "channel closed", a
//! reset can overtake the alert). So the same foreign certificate came out
//! as "certificate refused" or "check the internet" at random. This probe
//! repeats the handshake alone, with the same TLS configuration, and sends
//! nothing after it: the server has nothing unread when it closes, so its
//! alert (or its first frame, when it accepts the certificate) is what we
//! read. One connection, bounded by `timeout`.
//!
//! Invariant: sends no application data, so it can never be a request.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::AsyncReadExt;
use tokio_rustls::TlsConnector;

use super::outcome::certificate_refusal_in;

/// pt-BR words for a certificate refusal the server makes on a bare
/// handshake to `url`'s host; `None` when it accepts the certificate or
/// nothing conclusive comes within `timeout`.
pub(super) async fn certificate_refusal(
    tls: Arc<ClientConfig>,
    url: &str,
    timeout: Duration,
) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default()?;
    let name = ServerName::try_from(host.to_string()).ok()?;
    let probe = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let mut stream = match TlsConnector::from(tls).connect(name, tcp).await {
            Ok(stream) => stream,
            Err(error) => return certificate_refusal_in(&error),
        };
        let mut first = [0u8; 1];
        match stream.read(&mut first).await {
            Err(error) => certificate_refusal_in(&error),
            Ok(_) => None,
        }
    };
    tokio::time::timeout(timeout, probe).await.ok().flatten()
}
