//! Checks a bundle (as JSON) against the REL profile rules kept as data in
//! `schemas/profiles/` and the code systems of `schemas/codesystems/`. Used
//! by the builder's self-check and by the simulator. Each problem comes back
//! as a [`Violation`] with a FHIRPath-like location and a message in
//! Portuguese. It walks the JSON value directly with precompiled rule tables.
//!
//! Invariant: knows JSON and the rules data only; no `fhir::` types, no I/O.

mod ids;
mod rules;

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::schemas::code_systems;
use rules::{Check, Node, Profile, Rule, Segment};

pub use ids::{cnes_is_valid, cnpj_is_valid, cns_is_valid, cpf_is_valid};

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

/// The canonical URLs of the profiles the checker knows.
pub fn known_profiles() -> Vec<&'static str> {
    let mut urls: Vec<&str> = rules::profiles().keys().map(String::as_str).collect();
    urls.sort_unstable();
    urls
}

/// Every violation of `bundle`, in document order; empty when it conforms.
pub fn check_bundle(bundle: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
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
    let Some(entries) = root.get("entry").and_then(Value::as_array) else {
        push(
            &mut out,
            "Bundle.entry",
            "o Bundle precisa de 3 entradas: Composition, Observation e Specimen",
        );
        return out;
    };
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
    let context = index_entries(entries, &mut out);
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
        walk(
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

fn push(out: &mut Vec<Violation>, location: &str, message: &str) {
    out.push(Violation {
        location: location.to_string(),
        message: message.to_string(),
    });
}

fn non_empty_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn check_bundle_header(root: &Map<String, Value>, out: &mut Vec<Violation>) {
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
    if last_updated.is_none() {
        push(
            out,
            "Bundle.meta.lastUpdated",
            "Bundle.meta.lastUpdated ausente: informe o instante da última atualização do documento",
        );
    }
    if non_empty_str(root, "timestamp").is_none() {
        push(
            out,
            "Bundle.timestamp",
            "Bundle.timestamp ausente: informe o instante de geração do documento",
        );
    }
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

struct Entry<'a> {
    full_url: Option<&'a str>,
    resource_type: Option<&'a str>,
    profile: Option<&'a str>,
    resource: Option<&'a Map<String, Value>>,
}

struct Context<'a> {
    entries: Vec<Entry<'a>>,
}

impl Context<'_> {
    /// The index of the entry whose `fullUrl` is `reference`.
    fn resolve(&self, reference: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.full_url == Some(reference))
    }
}

fn index_entries<'a>(entries: &'a [Value], out: &mut Vec<Violation>) -> Context<'a> {
    let mut indexed = Vec::with_capacity(entries.len());
    let mut counts = [0usize; 3];
    for (i, entry) in entries.iter().enumerate() {
        let obj = entry.as_object();
        let full_url = obj.and_then(|o| o.get("fullUrl")).and_then(Value::as_str);
        match full_url {
            Some(u)
                if u.strip_prefix("urn:uuid:")
                    .is_some_and(|id| uuid::Uuid::try_parse(id).is_ok()) =>
            {
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
                &format!("fullUrl \"{u}\" inválido; use urn:uuid:<uuid>"),
            ),
            None => push(
                out,
                &format!("Bundle.entry[{i}].fullUrl"),
                "fullUrl ausente; use urn:uuid:<uuid>",
            ),
        }
        let resource = obj
            .and_then(|o| o.get("resource"))
            .and_then(Value::as_object);
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
        match resource_type {
            Some("Composition") => counts[0] += 1,
            Some("Observation") => counts[1] += 1,
            Some("Specimen") => counts[2] += 1,
            Some(other) if resource.is_some() => push(
                out,
                &format!("Bundle.entry[{i}].resource.resourceType"),
                &format!("recurso \"{other}\" não faz parte do documento de resultado de exame (use Composition, Observation e Specimen)"),
            ),
            _ if resource.is_some() => push(out, &format!("Bundle.entry[{i}].resource.resourceType"), "resourceType ausente"),
            _ => {}
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
    if indexed.first().and_then(|e| e.resource_type) != Some("Composition") && !indexed.is_empty() {
        push(
            out,
            "Bundle.entry[0].resource",
            "a primeira entrada de um Bundle document deve ser a Composition",
        );
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
    Context { entries: indexed }
}

fn declared_profile(
    resource: &Map<String, Value>,
    base: &str,
    out: &mut Vec<Violation>,
) -> Option<&'static Profile> {
    let declared = resource
        .get("meta")
        .and_then(|m| m.get("profile"))
        .and_then(Value::as_array);
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
        Some(p) if p.resource_type == rtype => {
            if declared.is_some_and(|d| d.len() > 1) {
                push(
                    out,
                    &format!("{base}.meta.profile"),
                    "declare um único perfil em meta.profile",
                );
            }
            Some(p)
        }
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

/// The Composition's profile version fixes the Observation's, which fixes the Specimen's.
fn check_companions(profile: &Profile, index: usize, ctx: &Context, out: &mut Vec<Violation>) {
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

/// The keys of `node` that `seg` names: a direct lookup unless it is a
/// choice (no boxing: this runs for every rule of every bundle).
fn matching<'a>(node: &'a Map<String, Value>, seg: &'a Segment) -> Matching<'a> {
    if seg.choice {
        Matching::Scan(node.iter(), seg)
    } else {
        Matching::One(node.get_key_value(seg.name.as_str()))
    }
}

enum Matching<'a> {
    One(Option<(&'a String, &'a Value)>),
    Scan(serde_json::map::Iter<'a>, &'a Segment),
}

impl<'a> Iterator for Matching<'a> {
    type Item = (&'a String, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Matching::One(one) => one.take(),
            Matching::Scan(iter, seg) => iter.find(|(k, _)| seg.matches(k)),
        }
    }
}

/// Applies the rules of `nodes` to `node`, then descends into every
/// instance of each step that has rules below it.
fn walk(
    node: &Map<String, Value>,
    nodes: &[Node],
    profile: &Profile,
    ctx: &Context,
    loc: &mut String,
    out: &mut Vec<Violation>,
) {
    for step in nodes {
        for rule in &step.rules {
            check_element(node, &step.segment, rule, profile, ctx, loc, out);
        }
        if step.children.is_empty() {
            continue;
        }
        for (key, value) in matching(node, &step.segment) {
            let len = loc.len();
            loc.push('.');
            loc.push_str(key);
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(obj) = item.as_object() {
                            let l2 = loc.len();
                            let _ = write!(loc, "[{i}]");
                            walk(obj, &step.children, profile, ctx, loc, out);
                            loc.truncate(l2);
                        }
                    }
                }
                Value::Object(obj) => walk(obj, &step.children, profile, ctx, loc, out),
                _ => {}
            }
            loc.truncate(len);
        }
    }
}

/// One occurrence of an element: its key, its index when in an array, its value.
struct Instance<'a> {
    key: &'a str,
    index: Option<usize>,
    value: &'a Value,
}

impl Instance<'_> {
    /// `key[i]` or `key`, built only when a violation needs it.
    fn suffix(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.key),
            None => self.key.to_string(),
        }
    }
}

fn instances<'a>(
    parent: &'a Map<String, Value>,
    seg: &'a Segment,
) -> impl Iterator<Item = Instance<'a>> + 'a {
    matching(parent, seg).flat_map(|(k, v)| {
        let (items, indexed): (&[Value], bool) = match v {
            Value::Array(items) => (items.as_slice(), true),
            other => (std::slice::from_ref(other), false),
        };
        items.iter().enumerate().map(move |(i, value)| Instance {
            key: k.as_str(),
            index: indexed.then_some(i),
            value,
        })
    })
}

fn check_element(
    parent: &Map<String, Value>,
    seg: &Segment,
    rule: &Rule,
    profile: &Profile,
    ctx: &Context,
    loc: &str,
    out: &mut Vec<Violation>,
) {
    let count: usize = matching(parent, seg)
        .map(|(_, v)| match v {
            Value::Array(a) => a.len(),
            Value::Null => 0,
            _ => 1,
        })
        .sum();
    if count == 0 {
        if rule.min > 0 {
            out.push(Violation {
                location: format!("{loc}.{}", seg.display()),
                message: format!("{} é obrigatório no perfil {}", seg.display(), profile.name),
            });
        }
        return;
    }
    let violation = |suffix: &str, message: String| Violation {
        location: format!("{loc}.{suffix}"),
        message,
    };
    if rule.max == Some(0) {
        for inst in instances(parent, seg) {
            out.push(violation(
                &inst.suffix(),
                format!(
                    "{} não é permitido no perfil {}: remova o elemento",
                    inst.key, profile.name
                ),
            ));
        }
        return;
    }
    if let Some(max) = rule.max.filter(|&m| count > m) {
        out.push(violation(
            &seg.display(),
            format!(
                "{} aparece {count} vezes; o perfil {} permite no máximo {max}",
                seg.display(),
                profile.name
            ),
        ));
    }
    if let Some(only) = &rule.only {
        for (key, _) in matching(parent, seg).filter(|(k, _)| *k != only) {
            out.push(violation(
                key,
                format!(
                    "{key} não é permitido no perfil {}: use {only}",
                    profile.name
                ),
            ));
        }
    }
    if rule.fixed.is_none()
        && rule.allowed.is_none()
        && rule.systems.is_none()
        && rule.check.is_none()
    {
        return;
    }
    for inst in instances(parent, seg) {
        let value = inst.value;
        if let Some(fixed) = &rule.fixed {
            if value.as_str() != Some(fixed.as_str()) {
                out.push(violation(
                    &inst.suffix(),
                    format!(
                        "valor {value} inválido: o perfil {} exige \"{fixed}\"",
                        profile.name
                    ),
                ));
            }
        }
        if let Some(allowed) = &rule.allowed {
            if !value
                .as_str()
                .is_some_and(|v| allowed.iter().any(|a| a == v))
            {
                out.push(violation(
                    &inst.suffix(),
                    format!(
                        "valor {value} não permitido; use um destes: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if let Some(systems) = &rule.systems {
            check_coding(value, systems, loc, &inst, out);
        }
        if let Some(check) = rule.check {
            run_check(check, parent, loc, &inst, ctx, out);
        }
    }
}

fn short(system: &str) -> &str {
    system.rsplit('/').next().unwrap_or(system)
}

fn check_coding(
    coding: &Value,
    systems: &[String],
    parent_loc: &str,
    inst: &Instance,
    out: &mut Vec<Violation>,
) {
    let loc = || format!("{parent_loc}.{}", inst.suffix());
    let Some(coding) = coding.as_object() else {
        return;
    };
    let Some(system) = coding.get("system").and_then(Value::as_str) else {
        return; // its absence is a cardinality rule of its own
    };
    if !systems.iter().any(|s| s == system) {
        let names: Vec<&str> = systems.iter().map(|s| short(s)).collect();
        out.push(Violation {
            location: format!("{}.system", loc()),
            message: format!(
                "sistema de códigos \"{system}\" não permitido aqui; use {}",
                names.join(" ou ")
            ),
        });
        return;
    }
    let Some(code) = coding.get("code").and_then(Value::as_str) else {
        return;
    };
    if !code_systems().contains(system, code) {
        out.push(Violation {
            location: format!("{}.code", loc()),
            message: format!("o código \"{code}\" não pertence a {}", short(system)),
        });
    }
}

fn run_check(
    check: Check,
    parent: &Map<String, Value>,
    parent_loc: &str,
    inst: &Instance,
    ctx: &Context,
    out: &mut Vec<Violation>,
) {
    let value = inst.value;
    let loc = || format!("{parent_loc}.{}", inst.suffix());
    let mut fail = |message: String| {
        out.push(Violation {
            location: loc(),
            message,
        })
    };
    match check {
        Check::Cns => {
            let v = value.as_str().unwrap_or_default();
            if !cns_is_valid(v) {
                fail(format!(
                    "CNS \"{v}\" inválido: são 15 dígitos e o dígito verificador não confere"
                ));
            }
        }
        Check::Organization => {
            let v = value.as_str().unwrap_or_default();
            let system = parent
                .get("system")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (ok, what) = match system.trim_start_matches(SD) {
                "BREstabelecimentoSaude-1.0" => (cnes_is_valid(v), "CNES com 7 dígitos"),
                "BRPessoaJuridicaProfissionalLiberal-1.0" => {
                    (cnpj_is_valid(v) || cpf_is_valid(v), "CNPJ ou CPF válido")
                }
                _ => (true, ""),
            };
            if !ok {
                fail(format!("identificador \"{v}\" inválido: informe um {what}"));
            }
        }
        Check::Result => {
            let Some(key) = parent
                .keys()
                .find(|k| k.starts_with("value") && k.len() > 5)
            else {
                return;
            };
            match key.as_str() {
                "valueCodeableConcept" => {}
                "valueQuantity" => {
                    let q = value.as_object();
                    let has_value = q.and_then(|q| q.get("value")).is_some_and(Value::is_number);
                    let has_unit = q
                        .and_then(|q| q.get("unit"))
                        .and_then(Value::as_str)
                        .is_some_and(|u| !u.is_empty());
                    if !has_value {
                        fail("valueQuantity sem value numérico".into());
                    }
                    if !has_unit {
                        fail("valueQuantity sem unit: informe a unidade do resultado".into());
                    }
                    if !parent.contains_key("interpretation") {
                        fail("um resultado numérico (valueQuantity) exige interpretation de BRResultadoQualitativoExame".into());
                    }
                }
                other => fail(format!(
                    "{other} não é aceito: use valueCodeableConcept (BRResultadoQualitativoExame) ou valueQuantity com interpretation"
                )),
            }
        }
        Check::Reference(target) => {
            let Some(reference) = value.get("reference").and_then(Value::as_str) else {
                return;
            };
            match ctx.resolve(reference) {
                Some(i) if ctx.entries[i].resource_type == Some(target) => {}
                Some(i) => out.push(Violation {
                    location: format!("{}.reference", loc()),
                    message: format!("a referência \"{reference}\" aponta para a entrada {i}, que não é {target}"),
                }),
                None => out.push(Violation {
                    location: format!("{}.reference", loc()),
                    message: format!("a referência \"{reference}\" não corresponde ao fullUrl de nenhuma entrada do Bundle"),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests;
