//! The listener: TLS that asks for a client certificate from the test CA
//! (required by the token handler only, as RNDS uses mutual TLS for the
//! token alone),
//! HTTP/1.1 and HTTP/2 on each connection, a per-connection kill switch
//! (for lost answers) and outages (listener dropped, live connections
//! closed, same port bound again later).
//!
//! Invariant: transport only; what a request means is `handlers`' business.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_rustls::TlsAcceptor;

use super::pki::ServerCredentials;
use super::shared::Shared;
use super::SimError;

pub(super) enum Command {
    Outage(Duration),
    Shutdown,
}

/// TLS that asks for a client certificate chaining to the test CA. A client
/// may send none (RNDS' EHR calls need only the token); a certificate that
/// is sent must chain to the CA. The token handler requires one.
pub(super) fn acceptor(credentials: ServerCredentials) -> Result<TlsAcceptor, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in credentials.ca {
        roots.add(ca)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| SimError::Credentials(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(credentials.chain, credentials.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until shut down; an outage drops the listener and
/// binds the same address again after its duration.
pub(super) async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(current) = listener.as_ref() else {
            return;
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Outage(duration)) => {
                    drop(listener.take());
                    shared.epoch.send_modify(|e| *e += 1);
                    tokio::select! {
                        () = tokio::time::sleep(duration) => {}
                        Some(Command::Shutdown) | None = commands.recv() => return,
                    }
                    listener = rebind(addr).await;
                }
                Some(Command::Shutdown) | None => {
                    shared.epoch.send_modify(|e| *e += 1);
                    return;
                }
            },
            accepted = current.accept() => {
                let Ok((tcp, _peer)) = accepted else { continue };
                if shared.in_outage() {
                    drop(tcp);
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection(tcp, acceptor.clone(), shared.clone()));
            }
        }
    }
}

/// The port was ours a moment ago; retry briefly while the OS releases it.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..200 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return Some(listener);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let mut epoch = shared.epoch.subscribe();
    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
    let tls = tokio::select! {
        biased;
        _ = epoch.changed() => return,
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            _ => return,
        },
    };
    let kill = Arc::new(Notify::new());
    // The leaf's subject (empty when unreadable), `None` without a certificate.
    let client_subject: Option<Arc<str>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| {
            x509_parser::parse_x509_certificate(leaf)
                .map(|(_, cert)| cert.subject().to_string())
                .unwrap_or_default()
                .into()
        });
    let service = {
        let kill = kill.clone();
        service_fn(move |request| {
            super::handlers::handle(
                request,
                shared.clone(),
                kill.clone(),
                client_subject.clone(),
            )
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let serving = builder.serve_connection(TokioIo::new(tls), service);
    // Biased: a kill or an outage wins over a request that arrives in
    // the same wake-up, so nothing is answered after either.
    tokio::select! {
        biased;
        () = kill.notified() => {}
        _ = epoch.changed() => {}
        _ = serving => {}
    }
}
