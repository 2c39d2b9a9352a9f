//! The profile rule tables: `schemas/profiles/*.json`, embedded and compiled
//! once into paths split into segments, so checking a bundle allocates
//! nothing unless it finds a problem.
//!
//! Invariant: data only; knows the rule file format, not bundles.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

const FILES: &[&str] = &[
    include_str!("../../schemas/profiles/Composition-1.0.json"),
    include_str!("../../schemas/profiles/Composition-1.1.json"),
    include_str!("../../schemas/profiles/Composition-2.0.json"),
    include_str!("../../schemas/profiles/Observation-1.0.json"),
    include_str!("../../schemas/profiles/Observation-2.0.json"),
    include_str!("../../schemas/profiles/Specimen-1.0.json"),
];

#[derive(Debug, Deserialize)]
struct ProfileFile {
    url: String,
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(default)]
    observation_profiles: Vec<String>,
    #[serde(default)]
    specimen_profiles: Vec<String>,
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    path: String,
    min: Option<usize>,
    max: Option<usize>,
    fixed: Option<String>,
    allowed: Option<Vec<String>>,
    systems: Option<Vec<String>>,
    only: Option<String>,
    check: Option<String>,
}

/// One path step; `choice` for `value[x]`-style names (`name` is the prefix).
#[derive(Debug)]
pub(super) struct Segment {
    pub name: String,
    pub choice: bool,
}

impl Segment {
    /// Does the JSON key `key` match this step?
    pub(super) fn matches(&self, key: &str) -> bool {
        if self.choice {
            key.len() > self.name.len()
                && key.starts_with(self.name.as_str())
                && key.as_bytes()[self.name.len()].is_ascii_uppercase()
        } else {
            key == self.name
        }
    }

    /// The name as the profile writes it (`effective[x]`).
    pub(super) fn display(&self) -> String {
        if self.choice {
            format!("{}[x]", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// Checks that need more than cardinality and values; a profile rule
/// names one with `check`, and each has its source here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// A patient CNS (15 digits with its check rule): CONTRACT.md:81, :158-164.
    Cns,
    /// CNES / CNPJ / CPF according to the sibling `system`: CONTRACT.md:82-84,
    /// :165-172.
    Organization,
    /// `valueCodeableConcept` XOR `valueQuantity` with `interpretation`:
    /// CONTRACT.md:92-95.
    Result,
    /// A FHIR R4 `dateTime`: a date, or a date-time with its UTC offset
    /// (CONTRACT.md:108-111).
    DateTime,
    /// A FHIR R4 `instant`: date-time to the second with its UTC offset.
    Instant,
    /// A reference that must resolve to this resource type in the bundle:
    /// CONTRACT.md:74-77 (entries linked by references) and the profile's
    /// target type.
    Reference(&'static str),
}

#[derive(Debug)]
pub(super) struct Rule {
    pub min: usize,
    pub max: Option<usize>,
    pub fixed: Option<String>,
    pub allowed: Option<Vec<String>>,
    pub systems: Option<Vec<String>>,
    pub only: Option<String>,
    pub check: Option<Check>,
}

#[derive(Debug)]
pub(super) struct Profile {
    /// The profile's short name (`BRDiagnosticoLaboratorioClinico-2.0`) for messages.
    pub name: String,
    pub resource_type: String,
    pub observation_profiles: Vec<String>,
    pub specimen_profiles: Vec<String>,
    /// The rules as a tree of path steps, so a shared prefix
    /// (`code.coding.…`) is walked once per bundle.
    pub tree: Vec<Node>,
}

/// One path step with the rules of the element it names and the steps below.
#[derive(Debug)]
pub(super) struct Node {
    pub segment: Segment,
    pub rules: Vec<Rule>,
    pub children: Vec<Node>,
}

fn insert(nodes: &mut Vec<Node>, mut segments: Vec<Segment>, rule: Rule) {
    if segments.is_empty() {
        return;
    }
    let first = segments.remove(0);
    let index = if let Some(i) = nodes
        .iter()
        .position(|n| n.segment.name == first.name && n.segment.choice == first.choice)
    {
        i
    } else {
        nodes.push(Node {
            segment: first,
            rules: Vec::new(),
            children: Vec::new(),
        });
        nodes.len() - 1
    };
    if segments.is_empty() {
        nodes[index].rules.push(rule);
    } else {
        insert(&mut nodes[index].children, segments, rule);
    }
}

fn compile_rule(r: RuleFile) -> (Vec<Segment>, Rule) {
    let segments = r
        .path
        .split('.')
        .map(|s| match s.strip_suffix("[x]") {
            Some(prefix) => Segment {
                name: prefix.to_string(),
                choice: true,
            },
            None => Segment {
                name: s.to_string(),
                choice: false,
            },
        })
        .collect();
    let check = match r.check.as_deref() {
        Some("cns") => Some(Check::Cns),
        Some("organization") => Some(Check::Organization),
        Some("result") => Some(Check::Result),
        Some("dateTime") => Some(Check::DateTime),
        Some("instant") => Some(Check::Instant),
        Some("reference:Observation") => Some(Check::Reference("Observation")),
        Some("reference:Specimen") => Some(Check::Reference("Specimen")),
        _ => None,
    };
    let rule = Rule {
        min: r.min.unwrap_or(0),
        max: r.max,
        fixed: r.fixed,
        allowed: r.allowed,
        systems: r.systems,
        only: r.only,
        check,
    };
    (segments, rule)
}

/// Every known profile, keyed by canonical URL. The files are embedded, so
/// a file that fails to parse is a build defect the tests catch (it is
/// then simply absent, and its URL reported as unknown).
pub(super) fn profiles() -> &'static HashMap<String, Profile> {
    static CELL: OnceLock<HashMap<String, Profile>> = OnceLock::new();
    CELL.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|text| serde_json::from_str::<ProfileFile>(text).ok())
            .map(|f| {
                let name = f.url.rsplit('/').next().unwrap_or(&f.url).to_string();
                let profile = Profile {
                    name,
                    resource_type: f.resource_type,
                    observation_profiles: f.observation_profiles,
                    specimen_profiles: f.specimen_profiles,
                    tree: f.rules.into_iter().map(compile_rule).fold(
                        Vec::new(),
                        |mut tree, (segments, rule)| {
                            insert(&mut tree, segments, rule);
                            tree
                        },
                    ),
                };
                (f.url, profile)
            })
            .collect()
    })
}
