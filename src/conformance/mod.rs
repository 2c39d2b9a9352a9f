//! Checks a bundle (as JSON) against the REL profile rules kept as data in
//! `schemas/profiles/` and the code systems of `schemas/codesystems/`. Used
//! by the builder's self-check and by the simulator. Each problem comes back
//! as a [`Violation`] with a FHIRPath-like location and a message in
//! Portuguese. It walks the JSON value directly with precompiled rule tables.
//!
//! Invariant: knows JSON and the rules data only; no `fhir::` types, no I/O.

mod bundle;
mod ids;
mod rules;
mod walk;

use serde_json::Value;

use bundle::{
    check_bundle_header, check_companions, check_lab_result_entries, declared_profile,
    index_entries, other_document_type, push,
};

pub(crate) use ids::cns_is_valid;

/// One way a bundle breaks the profiles or the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// FHIRPath-like, e.g. `Bundle.entry[1].resource.method`.
    pub location: String,
    /// What is wrong and how to fix it, in Portuguese.
    pub message: String,
}

const RNDS_SYSTEM_PREFIX: &str = "http://www.saude.gov.br/fhir/r4/NamingSystem/BRRNDS-";
const SD: &str = "http://www.saude.gov.br/fhir/r4/StructureDefinition/";

#[cfg(test)]
/// The canonical URLs of the profiles the checker knows.
pub(crate) fn known_profiles() -> Vec<&'static str> {
    let mut urls: Vec<&str> = rules::profiles().keys().map(String::as_str).collect();
    urls.sort_unstable();
    urls
}

/// Every violation of `bundle`, in document order; empty when it conforms.
/// A lab result (REL, or a Composition without another known document
/// type) is checked against the REL profiles; a document of another
/// `BRTipoDocumento` type (the guide's prescription and dispensing examples)
/// only against the rules every RNDS document follows, since its profiles
/// are not in `schemas/`. What the simulator accepts.
pub fn check_bundle(bundle: &Value) -> Vec<Violation> {
    check(bundle, false)
}

/// [`check_bundle`] that accepts nothing but a lab result (REL): what
/// rnds-drop itself must emit.
pub fn check_lab_result(bundle: &Value) -> Vec<Violation> {
    check(bundle, true)
}

fn check(bundle: &Value, lab_result_only: bool) -> Vec<Violation> {
    let mut out = Vec::new();
    // FHIR R4 JSON: a resource is an object naming its resourceType.
    let Some(root) = bundle.as_object() else {
        push(&mut out, "Bundle", "o documento não é um objeto JSON");
        return out;
    };
    if root.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        push(
            &mut out,
            "Bundle.resourceType",
            "resourceType deve ser \"Bundle\"",
        );
        return out;
    }
    check_bundle_header(root, &mut out);
    // CONTRACT.md:74 (REL: three entries); R4 bdl-11 (any document).
    let Some(entries) = root.get("entry").and_then(Value::as_array) else {
        push(
            &mut out,
            "Bundle.entry",
            "o Bundle precisa de 3 entradas: Composition, Observation e Specimen",
        );
        return out;
    };
    let context = index_entries(entries, &mut out);
    if !lab_result_only && other_document_type(&context).is_some() {
        return out;
    }
    if entries.len() != 3 {
        push(
            &mut out,
            "Bundle.entry",
            &format!(
                "o Bundle tem {} entradas; são exigidas exatamente 3 (Composition, Observation e Specimen)",
                entries.len()
            ),
        );
    }
    check_lab_result_entries(&context, &mut out);
    for (i, entry) in context.entries.iter().enumerate() {
        let Some(resource) = entry.resource else {
            continue;
        };
        let base = format!("Bundle.entry[{i}].resource");
        let Some(profile) = declared_profile(resource, &base, &mut out) else {
            continue;
        };
        check_companions(profile, i, &context, &mut out);
        let mut loc = base;
        walk::walk(
            resource,
            &profile.tree,
            profile,
            &context,
            &mut loc,
            &mut out,
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
