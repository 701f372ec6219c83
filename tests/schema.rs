//! The checked-in subgraph SDLs are what the services serve (the supergraph
//! itself is checked by `.ci/run`, which has Node to compose it).

use kit::service::ServiceSpec;

#[test]
fn checked_in_subgraph_schemas_are_current() {
    let specs: [&ServiceSpec; 4] = [&member::SPEC, &store::SPEC, &product::SPEC, &alliance::SPEC];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    for spec in specs {
        let file = root.join(format!("{}.graphql", spec.name));
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            checked_in == (spec.sdl)(),
            "{} differs from what {} serves: run `cargo run -- compose` and commit",
            file.display(),
            spec.name
        );
    }
    let supergraph = std::fs::read_to_string(root.join("supergraph.graphql")).unwrap();
    for spec in specs {
        assert!(
            supergraph.contains(&format!("@join__graph(name: \"{}\"", spec.name)),
            "the supergraph lacks {}",
            spec.name
        );
    }
}
