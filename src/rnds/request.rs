//! The requests of the contract: the bundle `POST` with its three headers,
//! and the `GET` lookups (Organization, PractitionerRole, identifier) with
//! the same two security headers. Query values are percent-encoded here.
//!
//! Invariant: builds requests only; never sends them or judges answers.

use super::Endpoints;

/// `Authorization` carries the CNS/CPF of the professional, not the token.
const PROFESSIONAL_HEADER: &str = "Authorization";
const TOKEN_HEADER: &str = "X-Authorization-Server";
const FHIR_JSON: &str = "application/fhir+json";

const CNS_SYSTEM: &str = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns";
const CNES_SYSTEM: &str = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes";
const REQUESTER_SYSTEM_PREFIX: &str = "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-";

/// Who signs the requests.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub requester_cns: String,
}

pub(crate) fn bundle_post(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    token: &str,
    credentials: &Credentials,
    bundle_json: Vec<u8>,
) -> reqwest::RequestBuilder {
    let request = http
        .post(endpoints.fhir("Bundle"))
        .header(reqwest::header::CONTENT_TYPE, FHIR_JSON)
        .header(reqwest::header::ACCEPT, FHIR_JSON)
        .header(PROFESSIONAL_HEADER, &credentials.requester_cns)
        .body(bundle_json);
    with_token(request, token)
}

pub(crate) fn lookup_get(
    http: &reqwest::Client,
    url: reqwest::Url,
    token: &str,
    credentials: &Credentials,
) -> reqwest::RequestBuilder {
    let request = http
        .get(url)
        .header(reqwest::header::ACCEPT, FHIR_JSON)
        .header(PROFESSIONAL_HEADER, &credentials.requester_cns);
    with_token(request, token)
}

/// The token header, marked sensitive: never indexed by HPACK nor shown by
/// `Debug`. A token with characters HTTP forbids surfaces as a build error.
fn with_token(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    let value = format!("Bearer {token}");
    match reqwest::header::HeaderValue::from_str(&value) {
        Ok(mut header) => {
            header.set_sensitive(true);
            request.header(TOKEN_HEADER, header)
        }
        Err(_) => request.header(TOKEN_HEADER, value),
    }
}

/// `base` with `params` as its query; no `?` at all when there are none
/// (`Organization/1234567`, not `Organization/1234567?`).
fn url(base: String, params: &[(&str, String)]) -> Result<reqwest::Url, String> {
    let parsed = if params.is_empty() {
        reqwest::Url::parse(&base)
    } else {
        reqwest::Url::parse_with_params(&base, params)
    };
    parsed.map_err(|_| format!("o endereço {base} é inválido; confira ehr_url"))
}

pub(crate) fn organization_url(endpoints: &Endpoints, cnes: &str) -> Result<reqwest::Url, String> {
    url(endpoints.fhir(&format!("Organization/{cnes}")), &[])
}

pub(crate) fn practitioner_role_url(
    endpoints: &Endpoints,
    cns: &str,
    cnes: &str,
) -> Result<reqwest::Url, String> {
    url(
        endpoints.fhir("PractitionerRole"),
        &[
            ("practitioner.identifier", format!("{CNS_SYSTEM}|{cns}")),
            ("organization.identifier", format!("{CNES_SYSTEM}|{cnes}")),
        ],
    )
}

/// The system of every bundle identifier of this requester.
pub(crate) fn requester_system(requester_id: &str) -> String {
    format!("{REQUESTER_SYSTEM_PREFIX}{requester_id}")
}

pub(crate) fn identifier_url(
    endpoints: &Endpoints,
    requester_id: &str,
    lab_id: &str,
) -> Result<reqwest::Url, String> {
    url(
        endpoints.fhir("identifier"),
        &[
            ("system", requester_system(requester_id)),
            ("value", lab_id.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            auth: "https://auth.example/api".into(),
            ehr: "https://go-ehr.example/api".into(),
        }
    }

    #[test]
    fn practitioner_role_query_is_encoded() {
        let u = practitioner_role_url(&endpoints(), "980016287385192", "1234567").unwrap();
        assert_eq!(u.path(), "/api/fhir/r4/PractitionerRole");
        let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                (
                    "practitioner.identifier".into(),
                    format!("{CNS_SYSTEM}|980016287385192")
                ),
                (
                    "organization.identifier".into(),
                    format!("{CNES_SYSTEM}|1234567")
                ),
            ]
        );
    }

    #[test]
    fn a_read_has_no_empty_query() {
        let u = organization_url(&endpoints(), "1234567").unwrap();
        assert_eq!(
            u.as_str(),
            "https://go-ehr.example/api/fhir/r4/Organization/1234567"
        );
    }

    #[test]
    fn identifier_lookup_uses_the_requester_system() {
        let u = identifier_url(&endpoints(), "98765", "LAB 2021/0001&x").unwrap();
        let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            pairs[0].1,
            "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-98765"
        );
        assert_eq!(pairs[1].1, "LAB 2021/0001&x");
    }

    #[test]
    fn bundle_post_carries_the_contract_headers() {
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .unwrap();
        let request = bundle_post(
            &http,
            &endpoints(),
            "tok",
            &Credentials {
                requester_cns: "980016287385192".into(),
            },
            b"{}".to_vec(),
        )
        .build()
        .unwrap();
        assert_eq!(request.method(), reqwest::Method::POST);
        assert_eq!(
            request.url().as_str(),
            "https://go-ehr.example/api/fhir/r4/Bundle"
        );
        let h = request.headers();
        assert_eq!(h["content-type"], "application/fhir+json");
        assert_eq!(h["x-authorization-server"], "Bearer tok");
        assert!(h["x-authorization-server"].is_sensitive());
        assert_eq!(h["authorization"], "980016287385192");
    }
}
