//! Suggestions never cross from one pathogen or analyte to another.

use super::*;

#[test]
fn no_suggestion_names_another_pathogen_or_analyte() {
    for value in [
        "SARS-CoV-1",
        "MERS-CoV",
        "H1N1 detectado",
        "Flu detectado",
        "Rino detectado",
        "VSR detectado",
        "Influenza A detectado",
        "Adenovírus detectado",
    ] {
        assert_eq!(qualitative(value), None, "{value}");
        assert_eq!(closest_result_wording(value), None, "{value}");
    }
    // A plain typo still gets its help.
    assert_eq!(closest_result_wording("Detectdo"), Some("Detectado"));
}

#[test]
fn an_exam_outside_the_catalogue_is_never_matched() {
    for name in [
        "HEMOGRAMA, sangue total",
        "Hemoglobina",
        "Covid 19, Material",
        "RT-PCR Influenza",
    ] {
        assert_eq!(exam_by_name(name), None, "{name}");
        assert_eq!(exam_code(name), None, "{name}");
    }
}
