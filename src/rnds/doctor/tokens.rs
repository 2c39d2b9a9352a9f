//! `doctor`'s view of a PKCS#11 module: each token it shows and the
//! certificates on it (subject, CNPJ/CPF, validity) with the `pkcs11:`
//! URI ready to paste into `[rnds] certificate`. Certificates are public
//! objects: no PIN is used here.

use super::CheckStatus;
use crate::config::Config;
use crate::rnds::tls::pkcs11;

/// `None` when no `pkcs11_module` is configured.
pub(super) fn check_tokens(config: &Config) -> Option<(CheckStatus, String)> {
    let module = config.rnds.pkcs11_module.as_deref()?;
    let listings = match pkcs11::list(module) {
        Ok(listings) => listings,
        Err(e) => return Some((CheckStatus::ConfigurationProblem, e.to_string())),
    };
    if listings.is_empty() {
        return Some((
            CheckStatus::ConfigurationProblem,
            format!(
                "o módulo {} não mostra nenhum token. O que fazer: conecte o token ou insira o \
                 cartão na leitora e rode o doctor de novo",
                module.display()
            ),
        ));
    }
    let mut text = format!("o módulo {} mostra:", module.display());
    for token in &listings {
        text.push_str(&format!(
            "\n    token \"{}\" ({} {}, série {})",
            token.label, token.manufacturer, token.model, token.serial
        ));
        if let Some(problem) = &token.problem {
            text.push_str(&format!(
                ": não foi possível listar os certificados ({problem})"
            ));
            continue;
        }
        if token.certificates.is_empty() {
            text.push_str(": nenhum certificado");
        }
        for certificate in &token.certificates {
            match &certificate.info {
                Some(info) => {
                    let number = match info.cnpj_or_cpf.as_deref() {
                        Some(n) if n.len() == 14 => format!(" · CNPJ {n}"),
                        Some(n) => format!(" · CPF {n}"),
                        None => String::new(),
                    };
                    text.push_str(&format!(
                        "\n      {}{number} · {}",
                        info.subject,
                        info.validity_text()
                    ));
                }
                None => text.push_str("\n      (certificado ilegível)"),
            }
            text.push_str(&format!("\n      certificate = \"{}\"", certificate.uri));
        }
    }
    Some((CheckStatus::Passed, text))
}
