//! The identity in use, renewed without a restart: before each token
//! request the source's fingerprint (the `.pfx`'s SHA-256, the token's
//! certificate object) is compared with the one loaded; a changed source
//! is loaded whole and, only when it loads and is valid now, replaces the
//! old one from the next handshake on. A renewal that fails (wrong
//! password, unreadable, expired) keeps the old identity working and is
//! said once in the log and, until fixed, in `warnings` and `status`.
//!
//! Invariant: never leaves the service without an identity; never logs a
//! password or PIN.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::Utc;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::{source_fingerprint, CertificateInfo, Identity, SigningFailures};
use crate::config::Rnds;
use crate::rnds::ClientError;

/// The lab's identity for every handshake, swapped on renewal.
pub(crate) struct LiveIdentity {
    rnds: Rnds,
    state: RwLock<State>,
    failures: SigningFailures,
    /// The last token request failed because the token (A3) could not
    /// sign: RNDS itself was not the problem.
    token_trouble: AtomicBool,
}

struct State {
    identity: Arc<Identity>,
    /// A changed source that could not be used: its fingerprint (`None`
    /// when it could not even be read) and why, in pt-BR.
    refused: Option<(Option<Vec<u8>>, String)>,
}

impl std::fmt::Debug for LiveIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIdentity").finish_non_exhaustive()
    }
}

impl LiveIdentity {
    /// Loads the identity `[rnds]` names (valid now), or says why not.
    pub(crate) fn load(rnds: &Rnds) -> Result<Arc<LiveIdentity>, ClientError> {
        let failures = SigningFailures::default();
        let identity = Identity::load(rnds, failures.clone())?;
        Ok(Arc::new(LiveIdentity {
            rnds: rnds.clone(),
            state: RwLock::new(State {
                identity: Arc::new(identity),
                refused: None,
            }),
            failures,
            token_trouble: AtomicBool::new(false),
        }))
    }

    /// This identity, for TLS tests; its source is never looked at.
    #[cfg(test)]
    pub(crate) fn fixed(identity: Identity) -> Arc<LiveIdentity> {
        let rnds = toml::from_str("environment = \"simulador\"\ncertificate = \"\"")
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(LiveIdentity {
            rnds,
            state: RwLock::new(State {
                identity: Arc::new(identity),
                refused: None,
            }),
            failures: SigningFailures::default(),
            token_trouble: AtomicBool::new(false),
        })
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The certificate in use.
    pub(crate) fn info(&self) -> CertificateInfo {
        self.state().identity.info().clone()
    }

    pub(crate) fn file_warnings(&self) -> Vec<String> {
        self.state().identity.file_warnings().to_vec()
    }

    /// Why a renewed certificate is not in use (pt-BR), while that lasts.
    pub(crate) fn renewal_problem(&self) -> Option<String> {
        self.state().refused.as_ref().map(|(_, why)| {
            format!(
                "o certificado foi trocado, mas o novo não pôde ser usado: {why}. O \
                 rnds-drop continua com o certificado anterior ({}) até o novo ser corrigido",
                self.info().validity_text()
            )
        })
    }

    /// The reason a handshake's signature failed on the token, once; the
    /// first of a run of them is logged (pt-BR), as RNDS is not at fault.
    pub(crate) fn take_signing_failure(&self) -> Option<ClientError> {
        let Some(failure) = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            // The token signed: this failure is RNDS' or the network's.
            self.token_trouble.store(false, Ordering::Relaxed);
            return None;
        };
        if !self.token_trouble.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{failure}. Os exames ficam aguardando e seguem sozinhos quando o token \
                 voltar; nada será enviado duas vezes"
            );
        }
        Some(failure)
    }

    /// Whether the last token request failed on the token, not on RNDS.
    pub(crate) fn token_trouble(&self) -> bool {
        self.token_trouble.load(Ordering::Relaxed)
    }

    /// A token was obtained: the token (A3), if any, signs again.
    pub(crate) fn token_obtained(&self) {
        if self.token_trouble.swap(false, Ordering::Relaxed) {
            tracing::info!("o token voltou a assinar; os exames aguardando seguem agora");
        }
    }

    /// Adopts a renewed certificate when the source changed and the new
    /// one loads; called before each token request.
    pub(crate) fn refresh(&self) {
        let fingerprint = match source_fingerprint(&self.rnds) {
            Ok(fingerprint) => Some(fingerprint),
            // A token that is unplugged is not a renewal: the handshake
            // says so on its own.
            Err(ClientError::Unreachable(_)) => return,
            Err(e) => {
                self.refuse(None, e.to_string());
                return;
            }
        };
        {
            let state = self.state();
            if fingerprint.as_deref() == Some(state.identity.fingerprint()) {
                drop(state);
                self.clear_refusal();
                return;
            }
            if state
                .refused
                .as_ref()
                .is_some_and(|(f, _)| *f == fingerprint)
            {
                return;
            }
        }
        match Identity::load_at(&self.rnds, Utc::now(), self.failures.clone()) {
            Ok(renewed) => {
                let info = renewed.info().clone();
                let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
                state.identity = Arc::new(renewed);
                state.refused = None;
                tracing::info!(
                    titular = %info.subject,
                    validade = %info.validity_text(),
                    "certificado renovado: o novo é usado a partir do próximo token"
                );
            }
            Err(e) => self.refuse(fingerprint, e.to_string()),
        }
    }

    fn refuse(&self, fingerprint: Option<Vec<u8>>, why: String) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let repeated = state
            .refused
            .as_ref()
            .is_some_and(|(f, w)| *f == fingerprint && *w == why);
        state.refused = Some((fingerprint, why));
        drop(state);
        if !repeated {
            if let Some(problem) = self.renewal_problem() {
                tracing::warn!("{problem}");
            }
        }
    }

    fn clear_refusal(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.refused = None;
    }
}

impl ResolvesClientCert for LiveIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.state().identity.certified())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
