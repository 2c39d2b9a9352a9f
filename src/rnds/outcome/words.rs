//! pt-BR sentences for transport failures: which side of a TLS handshake
//! refused which certificate, and what a connect error means, without the
//! English (or bare Windows error numbers) of the libraries underneath.
//!
//! Invariant: pure; turns errors into text, decides nothing.

use rustls::{AlertDescription as Alert, CertificateError, Error as TlsError};

/// Who refused what, and what to do about it.
pub(crate) fn certificate_refusal(error: &TlsError) -> String {
    match error {
        TlsError::InvalidCertificate(reason) => format!(
            "este computador recusou o certificado apresentado pelo servidor: {}. Não é falta \
             de internet: confira auth_url e ehr_url e, para o simulador ou um proxy \
             corporativo, a CA em [rnds] extra_ca",
            server_certificate_reason(reason)
        ),
        TlsError::NoCertificatesPresented => "o servidor não apresentou certificado TLS; \
             confira auth_url e ehr_url (o endereço não parece ser da RNDS)"
            .to_string(),
        TlsError::AlertReceived(alert) => format!(
            "o servidor recusou o certificado do laboratório ({}). O que fazer: confira se \
             [rnds] certificate é o certificado ICP-Brasil credenciado no DATASUS para este \
             ambiente, com a cadeia de certificados completa, e se está dentro da validade",
            alert_reason(*alert)
        ),
        _ => "a conexão TLS falhou por causa de um certificado; confira [rnds] certificate e \
              extra_ca"
            .to_string(),
    }
}

fn server_certificate_reason(reason: &CertificateError) -> &'static str {
    match reason {
        CertificateError::UnknownIssuer => {
            "foi emitido por uma autoridade certificadora que este computador não conhece"
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "está vencido (confira também o relógio deste computador)"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "ainda não é válido (confira o relógio deste computador)"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "não vale para este endereço"
        }
        CertificateError::BadSignature => {
            "tem uma assinatura inválida (certificado adulterado, ou um proxy interceptando a \
             conexão)"
        }
        CertificateError::Revoked => "foi revogado pela autoridade certificadora",
        CertificateError::BadEncoding => "está ilegível",
        _ => "não pôde ser validado",
    }
}

fn alert_reason(alert: Alert) -> &'static str {
    match alert {
        Alert::CertificateRequired => "exigiu um certificado de cliente e não recebeu nenhum",
        Alert::UnknownCA => {
            "não reconhece a autoridade certificadora que emitiu o certificado do laboratório"
        }
        Alert::CertificateExpired => "disse que o certificado do laboratório está vencido",
        Alert::CertificateRevoked => "disse que o certificado do laboratório foi revogado",
        Alert::AccessDenied => "negou o acesso a este certificado",
        Alert::DecryptError => {
            "não conseguiu validar a assinatura do certificado do laboratório: foi emitido por \
             outra autoridade certificadora, ou a chave não é a deste certificado"
        }
        Alert::BadCertificate | Alert::UnsupportedCertificate | Alert::CertificateUnknown => {
            "não aceitou o certificado do laboratório"
        }
        _ => "encerrou a negociação TLS",
    }
}

/// The alert named by a "received fatal alert: UnknownCA" text anywhere in
/// the error chain (rustls' message, carried as text by the I/O layers).
pub(crate) fn alert_in_text(error: &(dyn std::error::Error + 'static)) -> Option<Alert> {
    let text = chain_text(error);
    let name = text.split("received fatal alert: ").nth(1)?;
    let name: String = name
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    [
        Alert::CertificateRequired,
        Alert::UnknownCA,
        Alert::BadCertificate,
        Alert::UnsupportedCertificate,
        Alert::CertificateRevoked,
        Alert::CertificateExpired,
        Alert::CertificateUnknown,
        Alert::AccessDenied,
        Alert::DecryptError,
    ]
    .into_iter()
    .find(|alert| format!("{alert:?}") == name)
}

/// A connect or transfer failure in pt-BR: time-out, refused connection,
/// name not found, or the operating system's reason.
pub(crate) fn transport_reason(error: &reqwest::Error) -> String {
    let host = error
        .url()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "o servidor".to_string());
    if error.is_timeout() {
        return format!("{host} não respondeu dentro do tempo limite ([rnds] timeout_s)");
    }
    if let Some(io) = find_io_error(error) {
        use std::io::ErrorKind as K;
        return match io.kind() {
            K::ConnectionRefused => {
                format!("{host} recusou a conexão (nenhum serviço responde nesse endereço e porta)")
            }
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                format!("a conexão com {host} foi interrompida")
            }
            K::TimedOut => format!("{host} não respondeu a tempo"),
            K::HostUnreachable | K::NetworkUnreachable => {
                format!("{host} está inacessível a partir desta rede")
            }
            K::UnexpectedEof => format!("{host} fechou a conexão antes de responder"),
            _ => format!(
                "falha de comunicação com {host}: {}",
                crate::io_text::reason(io)
            ),
        };
    }
    let chain = chain_text(error).to_ascii_lowercase();
    if chain.contains("dns") || chain.contains("lookup") || chain.contains("resolve") {
        return format!("o nome {host} não foi encontrado (DNS)");
    }
    if error.is_body() || error.is_decode() {
        return format!("a resposta de {host} chegou incompleta");
    }
    format!("falha de comunicação com {host}")
}

fn find_io_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_which_side_refused() {
        let ours = certificate_refusal(&TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(ours.starts_with("este computador recusou o certificado apresentado pelo servidor"));
        assert!(ours.contains("extra_ca"), "{ours}");
        let theirs = certificate_refusal(&TlsError::AlertReceived(Alert::UnknownCA));
        assert!(theirs.starts_with("o servidor recusou o certificado do laboratório"));
        let signature = certificate_refusal(&TlsError::InvalidCertificate(
            CertificateError::BadSignature,
        ));
        assert!(!signature.contains("BadSignature"), "{signature}");
        assert!(signature.contains("assinatura inválida"), "{signature}");
    }
}
