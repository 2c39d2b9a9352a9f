//! The real exports in `shared/samples` read with the right layout.

use super::all_rows;
use crate::input::{open, Format, ReadOptions, Table};

fn sample(name: &str) -> Table {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples")).join(name);
    open(&path, &ReadOptions::default()).unwrap()
}

#[test]
fn dump() {
    for name in ["dados-ac.head.csv","dados-ac.rare-values.csv","e_sus_notifica.csv","GrupoFleury_Exames_4.csv","gal_20251211T004603Z_exame.csv","vr2.csv","GAL_export_header_only.csv","sivep_gripe.xlsx","exemploseegene.xlsx"] {
        let t = sample(name);
        eprintln!("=== {:?}", t.info);
        let rows = all_rows(t);
        eprintln!("rows {} first {:?} last {:?}", rows.len(), rows.first(), rows.last());
    }
}
