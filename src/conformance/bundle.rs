//! The bundle-level rules: the document's header, its entries with their
//! `urn:uuid` full URLs, the profile each resource declares and the
//! versions that go together. Every refusal names its source in a comment:
//! a FHIR R4 `Bundle` invariant (`bdl-N`), a line of
//! `shared/rnds/CONTRACT.md`, or an element of a published profile.
//!
//! Invariant: JSON and the rule tables only; no I/O.

use serde_json::{Map, Value};

use super::ids::is_instant;
use super::rules::{self, Profile};
use super::{Violation, RNDS_SYSTEM_PREFIX, SD};

pub(super) fn push(out: &mut Vec<Violation>, location: &str, message: &str) {
    out.push(Violation {
        location: location.to_string(),
        message: message.to_string(),
    });
}

pub(super) fn non_empty_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The header every RNDS document has, whatever its type.
pub(super) fn check_bundle_header(root: &Map<String, Value>, out: &mut Vec<Violation>) {
    // CONTRACT.md:66 (`type: "document"`); R4 bdl-9..11 apply to documents.
    match root.get("type").and_then(Value::as_str) {
        Some("document") => {}
        Some(other) => push(
            out,
            "Bundle.type",
            &format!("Bundle.type é \"{other}\"; deve ser \"document\""),
        ),
        None => push(
            out,
            "Bundle.type",
            "Bundle.type ausente; deve ser \"document\"",
        ),
    }
    let last_updated = root
        .get("meta")
        .and_then(Value::as_object)
        .and_then(|m| non_empty_str(m, "lastUpdated"));
    // CONTRACT.md:66 (`meta.lastUpdated`).
    if last_updated.is_none() {
        push(
            out,
            "Bundle.meta.lastUpdated",
            "Bundle.meta.lastUpdated ausente: informe o instante da última atualização do documento",
        );
    }
    // CONTRACT.md:66 (`timestamp`); R4 bdl-10 (a document has a date) and
    // `Bundle.timestamp` is an `instant`: to the second, with its offset.
    match non_empty_str(root, "timestamp") {
        Some(t) if is_instant(t) => {}
        Some(t) => push(
            out,
            "Bundle.timestamp",
            &format!("data/hora \"{t}\" inválida: use data e hora com segundos e fuso, ex.: 2021-06-08T09:23:00-03:00"),
        ),
        None => push(
            out,
            "Bundle.timestamp",
            "Bundle.timestamp ausente: informe o instante de geração do documento",
        ),
    }
    // CONTRACT.md:68-71 (system `BRRNDS-<requester id>`, the lab's value);
    // R4 bdl-9 (a document has an identifier with a system and a value).
    let Some(identifier) = root.get("identifier").and_then(Value::as_object) else {
        push(
            out,
            "Bundle.identifier",
            "Bundle.identifier ausente: informe system BRRNDS-<identificador do solicitante> e value com o identificador do resultado no laboratório",
        );
        return;
    };
    match non_empty_str(identifier, "system") {
        Some(s) if s.len() > RNDS_SYSTEM_PREFIX.len() && s.starts_with(RNDS_SYSTEM_PREFIX) => {}
        Some(s) => push(
            out,
            "Bundle.identifier.system",
            &format!("Bundle.identifier.system \"{s}\" inválido; deve ser {RNDS_SYSTEM_PREFIX}<identificador do solicitante>"),
        ),
        None => push(
            out,
            "Bundle.identifier.system",
            &format!("Bundle.identifier.system ausente; deve ser {RNDS_SYSTEM_PREFIX}<identificador do solicitante>"),
        ),
    }
    if non_empty_str(identifier, "value").is_none() {
        push(
            out,
            "Bundle.identifier.value",
            "Bundle.identifier.value ausente: informe o identificador único do resultado no laboratório",
        );
    }
}

pub(super) struct Entry<'a> {
    pub full_url: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub resource: Option<&'a Map<String, Value>>,
}

pub(super) struct Context<'a> {
    pub entries: Vec<Entry<'a>>,
}

impl Context<'_> {
    /// The index of the entry whose `fullUrl` is `reference`.
    pub(super) fn resolve(&self, reference: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.full_url == Some(reference))
    }
}

/// Every entry's full URL, resource and declared profile, with the rules
/// any document's entries follow.
pub(super) fn index_entries<'a>(entries: &'a [Value], out: &mut Vec<Violation>) -> Context<'a> {
    let mut indexed = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let obj = entry.as_object();
        let full_url = obj.and_then(|o| o.get("fullUrl")).and_then(Value::as_str);
        // CONTRACT.md:74-77: `urn:uuid:...`; the guide's own examples use
        // `urn:uuid:transient-0`, so any non-blank name after the prefix is
        // accepted, not only a UUID. R4 bdl-7: a fullUrl is unique.
        match full_url {
            Some(u) if is_urn_uuid(u) => {
                if indexed.iter().any(|e: &Entry| e.full_url == Some(u)) {
                    push(
                        out,
                        &format!("Bundle.entry[{i}].fullUrl"),
                        &format!(
                            "fullUrl \"{u}\" repetido: cada entrada precisa de um urn:uuid próprio"
                        ),
                    );
                }
            }
            Some(u) => push(
                out,
                &format!("Bundle.entry[{i}].fullUrl"),
                &format!("fullUrl \"{u}\" inválido; use urn:uuid:<identificador da entrada>"),
            ),
            None => push(
                out,
                &format!("Bundle.entry[{i}].fullUrl"),
                "fullUrl ausente; use urn:uuid:<identificador da entrada>",
            ),
        }
        let resource = obj
            .and_then(|o| o.get("resource"))
            .and_then(Value::as_object);
        // R4 bdl-11 and CONTRACT.md:74: a document's entries carry resources.
        if resource.is_none() {
            push(
                out,
                &format!("Bundle.entry[{i}].resource"),
                "entrada sem recurso",
            );
        }
        let resource_type = resource
            .and_then(|r| r.get("resourceType"))
            .and_then(Value::as_str);
        // R4: every resource names its resourceType.
        if resource.is_some() && resource_type.is_none() {
            push(
                out,
                &format!("Bundle.entry[{i}].resource.resourceType"),
                "resourceType ausente",
            );
        }
        let profile = resource
            .and_then(|r| r.get("meta"))
            .and_then(|m| m.get("profile"))
            .and_then(|p| p.get(0))
            .and_then(Value::as_str);
        indexed.push(Entry {
            full_url,
            resource_type,
            profile,
            resource,
        });
    }
    // R4 bdl-11: the first resource of a document is its Composition.
    if indexed.first().and_then(|e| e.resource_type) != Some("Composition") && !indexed.is_empty() {
        push(
            out,
            "Bundle.entry[0].resource",
            "a primeira entrada de um Bundle document deve ser a Composition",
        );
    }
    Context { entries: indexed }
}

/// `urn:uuid:` followed by a name without blanks (a UUID, or the guide's
/// `transient-0`).
fn is_urn_uuid(full_url: &str) -> bool {
    full_url
        .strip_prefix("urn:uuid:")
        .is_some_and(|name| !name.is_empty() && !name.chars().any(char::is_whitespace))
}

/// A lab result (REL) is exactly one Composition, one Observation and one
/// Specimen: CONTRACT.md:74-100 (the Composition's one section entry is the
/// Observation, whose `specimen` is the Specimen).
pub(super) fn check_lab_result_entries(ctx: &Context, out: &mut Vec<Violation>) {
    let mut counts = [0usize; 3];
    for (i, entry) in ctx.entries.iter().enumerate() {
        match entry.resource_type {
            Some("Composition") => counts[0] += 1,
            Some("Observation") => counts[1] += 1,
            Some("Specimen") => counts[2] += 1,
            Some(other) => push(
                out,
                &format!("Bundle.entry[{i}].resource.resourceType"),
                &format!("recurso \"{other}\" não faz parte do documento de resultado de exame (use Composition, Observation e Specimen)"),
            ),
            None => {}
        }
    }
    for (n, name) in counts
        .iter()
        .zip(["Composition", "Observation", "Specimen"])
    {
        if *n != 1 {
            push(
                out,
                "Bundle.entry",
                &format!("o Bundle tem {n} recurso(s) {name}; é exigido exatamente 1"),
            );
        }
    }
}

/// The `BRTipoDocumento` code of the bundle's Composition, when it declares
/// one other than `REL` that the code system knows (RPM, RDM, RIA, ...):
/// such documents are checked only as documents, since the profiles of
/// other document types are not in `schemas/`.
pub(super) fn other_document_type<'a>(ctx: &Context<'a>) -> Option<&'a str> {
    const TIPO_DOCUMENTO: &str = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRTipoDocumento";
    // Codes newer than the BRTipoDocumento of shared/rnds/definitions:
    // kyriosdata/rnds-ig@b499322, input/fsh/codesystems/BRTipoDocumento.CodeSystem.fsh.
    const LATER_DOCUMENT_TYPES: &[&str] = &["RPM"];
    let composition = ctx
        .entries
        .first()
        .filter(|e| e.resource_type == Some("Composition"))?
        .resource?;
    let codings = composition.get("type")?.get("coding")?.as_array()?;
    codings
        .iter()
        .filter(|c| c.get("system").and_then(Value::as_str) == Some(TIPO_DOCUMENTO))
        .filter_map(|c| c.get("code").and_then(Value::as_str))
        .find(|code| {
            *code != "REL"
                && (crate::schemas::code_systems().contains(TIPO_DOCUMENTO, code)
                    || LATER_DOCUMENT_TYPES.contains(code))
        })
}

pub(super) fn declared_profile(
    resource: &Map<String, Value>,
    base: &str,
    out: &mut Vec<Violation>,
) -> Option<&'static Profile> {
    let declared = resource
        .get("meta")
        .and_then(|m| m.get("profile"))
        .and_then(Value::as_array);
    // CONTRACT.md:79, 88, 98 name the profile of each REL resource; the
    // first declared profile is the one checked.
    let Some(url) = declared.and_then(|p| p.first()).and_then(Value::as_str) else {
        push(
            out,
            &format!("{base}.meta.profile"),
            "meta.profile ausente: declare o perfil RNDS do recurso",
        );
        return None;
    };
    let rtype = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    match rules::profiles().get(url) {
        Some(p) if p.resource_type == rtype => Some(p),
        Some(p) => {
            push(
                out,
                &format!("{base}.meta.profile[0]"),
                &format!(
                    "o perfil {} é de {}, não de {rtype}",
                    p.name, p.resource_type
                ),
            );
            None
        }
        None => {
            let mut known: Vec<&str> = rules::profiles()
                .values()
                .filter(|p| p.resource_type == rtype)
                .map(|p| p.name.as_str())
                .collect();
            known.sort_unstable();
            push(
                out,
                &format!("{base}.meta.profile[0]"),
                &format!(
                    "perfil desconhecido \"{url}\"; perfis aceitos para {rtype}: {}",
                    known.join(", ")
                ),
            );
            None
        }
    }
}

/// The Composition's profile version fixes the Observation's, which fixes
/// the Specimen's: `targetProfile` of `Composition.section.entry`
/// (definitions/BRResultadoExameLaboratorial.xml:327) and of
/// `Observation.specimen` (BRDiagnosticoLaboratorioClinico.xml:1010); the
/// 2.0 pair from CONTRACT.md:102-106.
pub(super) fn check_companions(
    profile: &Profile,
    index: usize,
    ctx: &Context,
    out: &mut Vec<Violation>,
) {
    for (expected, rtype) in [
        (&profile.observation_profiles, "Observation"),
        (&profile.specimen_profiles, "Specimen"),
    ] {
        if expected.is_empty() {
            continue;
        }
        for (j, e) in ctx.entries.iter().enumerate() {
            if e.resource_type != Some(rtype) {
                continue;
            }
            if let Some(p) = e.profile {
                if rules::profiles().contains_key(p) && !expected.iter().any(|x| x == p) {
                    let names: Vec<&str> =
                        expected.iter().map(|u| u.trim_start_matches(SD)).collect();
                    push(
                        out,
                        &format!("Bundle.entry[{j}].resource.meta.profile[0]"),
                        &format!(
                            "o perfil {} não combina com o da entrada {index} ({}); use {}",
                            p.trim_start_matches(SD),
                            profile.name,
                            names.join(" ou ")
                        ),
                    );
                }
            }
        }
    }
}
