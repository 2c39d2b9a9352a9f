//! Which hosts to talk to: the environment and the lab's UF → the token
//! (auth) and FHIR (EHR) base URLs of the contract, with the explicit
//! `auth_url`/`ehr_url` overrides winning (the simulator, or the
//! homologation EHR host on which sources disagree).
//!
//! Invariant: pure; knows nothing of TLS, tokens or requests.

use crate::config::{Environment, Rnds};

/// Homologation EHR host; newer material shows `ehr-services-hmg.saude.gov.br`
/// (set `ehr_url` to use it).
const HOMOLOGATION_EHR: &str = "https://ehr-services.hmg.saude.gov.br";
const HOMOLOGATION_AUTH: &str = "https://ehr-auth-hmg.saude.gov.br";
const PRODUCTION_AUTH: &str = "https://ehr-auth.saude.gov.br";

/// Base URLs, each ending in `/api` (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub auth: String,
    pub ehr: String,
}

impl Endpoints {
    /// `uf` is the lab's two-letter state (any case).
    pub(crate) fn resolve(rnds: &Rnds, uf: &str) -> Endpoints {
        let (auth, ehr) = match rnds.environment {
            Environment::Homologacao => {
                (HOMOLOGATION_AUTH.to_string(), HOMOLOGATION_EHR.to_string())
            }
            Environment::Producao => (
                PRODUCTION_AUTH.to_string(),
                format!(
                    "https://{}-ehr-services.saude.gov.br",
                    uf.to_ascii_lowercase()
                ),
            ),
            // Config::validate requires both overrides for the simulator.
            Environment::Simulador => (String::new(), String::new()),
        };
        Endpoints {
            auth: with_api(rnds.auth_url.as_deref().unwrap_or(&auth)),
            ehr: with_api(rnds.ehr_url.as_deref().unwrap_or(&ehr)),
        }
    }

    /// `GET` here with mutual TLS for a token.
    pub(crate) fn token_url(&self) -> String {
        format!("{}/token", self.auth)
    }

    /// FHIR R4 resource URL: `fhir("Bundle")` → `<ehr>/api/fhir/r4/Bundle`.
    pub(crate) fn fhir(&self, path: &str) -> String {
        format!("{}/fhir/r4/{path}", self.ehr)
    }
}

/// Accepts `https://host`, `https://host/` and `https://host/api`.
fn with_api(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    if trimmed.ends_with("/api") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/api")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn config(rnds_extra: &str, environment: &str) -> Config {
        let text = format!(
            "[lab]\ncnes = \"1234567\"\nrequester_id = \"98765\"\nrequester_cns = \
             \"980016287385192\"\ntimezone = \"America/Sao_Paulo\"\nuf = \"GO\"\n\n[rnds]\n\
             environment = \"{environment}\"\ncertificate = \"lab.pfx\"\n{rnds_extra}"
        );
        Config::parse(&text, Path::new("t.toml"), Path::new("/etc/rnds")).unwrap()
    }

    #[test]
    fn production_uses_the_state_host() {
        let c = config("", "producao");
        let e = Endpoints::resolve(&c.rnds, &c.lab.uf);
        assert_eq!(e.token_url(), "https://ehr-auth.saude.gov.br/api/token");
        assert_eq!(
            e.fhir("Bundle"),
            "https://go-ehr-services.saude.gov.br/api/fhir/r4/Bundle"
        );
    }

    #[test]
    fn homologation_host_is_overridable() {
        let c = config("", "homologacao");
        let e = Endpoints::resolve(&c.rnds, &c.lab.uf);
        assert_eq!(e.auth, "https://ehr-auth-hmg.saude.gov.br/api");
        assert_eq!(e.ehr, "https://ehr-services.hmg.saude.gov.br/api");
        let c = config(
            "ehr_url = \"https://ehr-services-hmg.saude.gov.br/\"",
            "homologacao",
        );
        let e = Endpoints::resolve(&c.rnds, &c.lab.uf);
        assert_eq!(e.ehr, "https://ehr-services-hmg.saude.gov.br/api");
    }

    #[test]
    fn simulator_uses_the_overrides_with_or_without_api() {
        let c = config(
            "auth_url = \"https://127.0.0.1:8443\"\nehr_url = \"https://127.0.0.1:8443/api\"",
            "simulador",
        );
        let e = Endpoints::resolve(&c.rnds, &c.lab.uf);
        assert_eq!(e.token_url(), "https://127.0.0.1:8443/api/token");
        assert_eq!(
            e.fhir("Organization/1234567"),
            "https://127.0.0.1:8443/api/fhir/r4/Organization/1234567"
        );
    }
}
