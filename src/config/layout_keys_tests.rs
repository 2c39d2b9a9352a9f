//! `[[inbox]]` repeats the keys of `layout::LayoutSpec` (a preset file has
//! the same keys) and `Inbox::own_layout` copies them by hand. These tests
//! fail when the two drift: a key added to one struct and not the other, or
//! a key the copy leaves out.

use std::collections::BTreeSet;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::Inbox;
use crate::layout::LayoutSpec;

/// The keys serde accepts for `T`, read from its derived `Deserialize`
/// (which hands them to `deserialize_struct`).
fn serde_keys<'de, T: Deserialize<'de>>() -> BTreeSet<&'static str> {
    struct KeyCapture(Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("keys captured")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> Deserializer<'de> for &mut KeyCapture {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut capture = KeyCapture(None);
    let _ = T::deserialize(&mut capture);
    capture.0.expect("a struct").iter().copied().collect()
}

/// Keys a preset has and an inbox does not: a preset's one-line description.
const PRESET_ONLY: &[&str] = &["description"];

/// Keys of `[[inbox]]` that are not layout: where files come from and go,
/// how they are watched and read, the preset's name and the defaults.
const INBOX_ONLY: &[&str] = &[
    "path",
    "outbox",
    "mode",
    "settle_ms",
    "sheet",
    "defaults",
    "layout",
];

/// An inbox setting every layout key to something other than its default.
/// (Targets and analytes together are refused by `LayoutSpec::problems`,
/// which the copy does not run.)
const EVERY_LAYOUT_KEY: &str = r#"
date_only = ["collection_date"]

[columns]
lab_id = "Pedido"

[exam_codes]
"2019NCOV" = "94309-2"

[values.result]
"1" = "Detectável"

[select]
other_exams = "skip"
exams = ["COVID PCR"]

[[targets]]
column = "coronavirusncov"
exam_code = "94309-2"
id_suffix = "ncov"

[analytes]
key = ["ID_ATENDIMENTO"]
name_column = "DE_ANALITO"
value_column = "DE_RESULTADO"
fields = { "Covid 19, PCR" = "result" }

[compose.lab_id]
columns = ["Pedido", "Amostra"]
"#;

fn layout_keys() -> BTreeSet<&'static str> {
    let mut keys = serde_keys::<LayoutSpec>();
    for key in PRESET_ONLY {
        assert!(keys.remove(key), "LayoutSpec lost {key}");
    }
    keys
}

#[test]
fn inbox_has_every_layout_key_and_only_known_others() {
    let inbox_keys = serde_keys::<Inbox>();
    let layout_keys = layout_keys();
    let missing: Vec<_> = layout_keys.difference(&inbox_keys).collect();
    assert!(
        missing.is_empty(),
        "LayoutSpec keys an [[inbox]] cannot set: {missing:?} (add them to Inbox and own_layout)"
    );
    let others: BTreeSet<_> = inbox_keys.difference(&layout_keys).copied().collect();
    let known: BTreeSet<_> = INBOX_ONLY.iter().copied().collect();
    assert_eq!(
        others, known,
        "an [[inbox]] key that is neither layout nor in INBOX_ONLY: is it a layout key \
         (then LayoutSpec and presets need it too) or an inbox setting?"
    );
}

#[test]
fn own_layout_copies_every_layout_key() {
    let table: toml::Table = toml::from_str(EVERY_LAYOUT_KEY).unwrap();
    let fixture_keys: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    assert_eq!(
        fixture_keys,
        layout_keys(),
        "EVERY_LAYOUT_KEY must set every layout key"
    );
    let expected: LayoutSpec = toml::from_str(EVERY_LAYOUT_KEY).unwrap();
    let defaults = LayoutSpec::default();
    assert_ne!(expected.columns, defaults.columns);
    assert_ne!(expected.exam_codes, defaults.exam_codes);
    assert_ne!(expected.values, defaults.values);
    assert_ne!(expected.select, defaults.select);
    assert_ne!(expected.targets, defaults.targets);
    assert_ne!(expected.analytes, defaults.analytes);
    assert_ne!(expected.compose, defaults.compose);
    assert_ne!(expected.date_only, defaults.date_only);

    let inbox: Inbox = toml::from_str(&format!(
        "path = \"entrada\"\noutbox = \"saida\"\n{EVERY_LAYOUT_KEY}"
    ))
    .unwrap();
    assert_eq!(inbox.own_layout(), expected);
}
