//! Applies a profile's rule tree to one resource: cardinalities, fixed and
//! allowed values, code-system membership and the special checks (CNS,
//! CNES/CNPJ/CPF, `value[x]`, references inside the bundle).
//!
//! Invariant: JSON and the rule tables only; no I/O, no allocation unless
//! a violation is found.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::bundle::Context;
use super::ids::{
    cnes_is_valid, cnpj_is_valid, cns_is_valid, cpf_is_valid, is_date_time, is_instant,
};
use super::rules::{Check, Node, Profile, Rule, Segment};
use super::{Violation, SD};
use crate::schemas::code_systems;

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
pub(super) fn walk(
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

/// What is wrong with an Observation's `value[x]`: only a coded result or a
/// quantity with unit and interpretation is accepted.
fn result_problems(parent: &Map<String, Value>, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(key) = parent
        .keys()
        .find(|k| k.starts_with("value") && k.len() > 5)
    else {
        return problems;
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
                problems.push("valueQuantity sem value numérico".into());
            }
            if !has_unit {
                problems.push("valueQuantity sem unit: informe a unidade do resultado".into());
            }
            if !parent.contains_key("interpretation") {
                problems.push("um resultado numérico (valueQuantity) exige interpretation de BRResultadoQualitativoExame".into());
            }
        }
        other => problems.push(format!(
            "{other} não é aceito: use valueCodeableConcept (BRResultadoQualitativoExame) ou valueQuantity com interpretation"
        )),
    }
    problems
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
        });
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
            let (ok, what) = match system.strip_prefix(SD).unwrap_or(system) {
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
        Check::DateTime | Check::Instant => {
            // A non-string (effectivePeriod) is the `only` rule's business.
            let Some(v) = value.as_str() else {
                return;
            };
            let (ok, form) = if check == Check::Instant {
                (
                    is_instant(v),
                    "data e hora com segundos e fuso, ex.: 2021-06-08T09:23:00-03:00",
                )
            } else {
                (
                    is_date_time(v),
                    "data (2021-06-08) ou data e hora com fuso (2021-06-08T09:23:00-03:00)",
                )
            };
            if !ok {
                fail(format!("data/hora \"{v}\" inválida: use {form}"));
            }
        }
        Check::Result => {
            for message in result_problems(parent, value) {
                fail(message);
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
