//! TLS to the PostgreSQL server with the lab's CA (`[ledger] ca_file`):
//! rustls through tokio-rustls, both already in the tree for the RNDS
//! client, instead of a connector crate that would bring its own
//! certificate parsing. The server's certificate must chain to the CA and
//! name the host of the url; there is no "encrypt but do not verify" mode.
//! No channel binding: SCRAM authenticates without it.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Makes a TLS connector per connection; cheap to clone.
#[derive(Clone)]
pub(crate) struct RustlsMakeConnect(Arc<ClientConfig>);

impl RustlsMakeConnect {
    /// Trusts the certificates of the PEM file `ca_file` only.
    pub(crate) fn with_ca(ca_file: &Path) -> Result<RustlsMakeConnect, String> {
        let shown = ca_file.display();
        let bytes = std::fs::read(ca_file).map_err(|e| {
            format!(
                "não foi possível ler [ledger] ca_file {shown}: {}",
                crate::io_text::reason(&e)
            )
        })?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("[ledger] ca_file {shown}: um bloco PEM está corrompido"))?;
        if certs.is_empty() {
            return Err(format!(
                "[ledger] ca_file {shown} não contém nenhum certificado PEM"
            ));
        }
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|_| {
                format!("[ledger] ca_file {shown} tem um certificado que não serve como CA")
            })?;
        }
        let config =
            ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(RustlsMakeConnect(Arc::new(config)))
    }
}

impl MakeTlsConnect<Socket> for RustlsMakeConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            config: self.0.clone(),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

/// The handshake for one connection.
pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            Ok(RustlsStream(Box::new(tls)))
        })
    }
}

/// A TLS session over the server's socket.
pub(crate) struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}
