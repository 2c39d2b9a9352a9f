//! Presets: layouts shipped as data in `schemas/layouts/<name>.toml`,
//! embedded at build time. A lab writes `layout = "<name>"` and adds its
//! own lines on top.
//!
//! Invariant: data only; a new preset is a new file plus one line here.

use super::LayoutSpec;

const PRESETS: &[(&str, &str)] = &[
    (
        "gal-lote",
        include_str!("../../schemas/layouts/gal-lote.toml"),
    ),
    (
        "gal-exportacao",
        include_str!("../../schemas/layouts/gal-exportacao.toml"),
    ),
    (
        "fleury-analitos",
        include_str!("../../schemas/layouts/fleury-analitos.toml"),
    ),
];

/// The preset called `name`, or None when there is none (or, a defect the
/// tests catch, when its file does not parse).
pub(crate) fn preset(name: &str) -> Option<LayoutSpec> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
    toml::from_str(text).ok()
}

/// Every preset name, for messages.
pub(crate) fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
/// Every preset that does not parse or is inconsistent (a defect of the
/// embedded data; a test asserts this is empty).
pub(crate) fn preset_defects() -> Vec<String> {
    PRESETS
        .iter()
        .filter_map(|(name, text)| match toml::from_str::<LayoutSpec>(text) {
            Ok(spec) => {
                let p = spec.problems();
                (!p.is_empty()).then(|| format!("{name}: {}", p.join("; ")))
            }
            Err(e) => Some(format!("{name}: {e}")),
        })
        .collect()
}
