//! Federation conformance: four small purpose-built subgraphs (accounts,
//! products, inventory, reviews), each served over HTTP on a random port,
//! composed into `fixtures/supergraph.graphql` by the pinned reference
//! composer, and queried through the gateway. Each case states the exact
//! response, field order included; one file per rule.
//!
//! After changing a subgraph, refresh the fixtures (Node needed):
//!   UPDATE_CONFORMANCE_FIXTURES=1 cargo test -p gateway --test conformance
//!   gateway/tests/conformance/compose.sh

mod accounts;
mod inventory;
mod products;
mod reviews;

mod harness;

mod bounded_work;
mod coalescing;
mod error_paths;
mod federation;
mod inaccessible;
mod planner_aliases;
mod plans;
mod refused;
mod representations;
mod response_names;
mod unicode;
mod variables;

use harness::{SUBGRAPHS, fixtures, subgraph_sdls};

#[test]
fn fixtures_are_what_the_subgraphs_serve() {
    let update = std::env::var_os("UPDATE_CONFORMANCE_FIXTURES").is_some();
    for (name, sdl) in subgraph_sdls() {
        let file = fixtures().join(format!("{name}.graphql"));
        if update {
            std::fs::write(&file, &sdl).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            checked_in == sdl,
            "{} is stale: refresh the fixtures (see the top of this file)",
            file.display()
        );
    }
    let supergraph = std::fs::read_to_string(fixtures().join("supergraph.graphql")).unwrap();
    for name in SUBGRAPHS {
        assert!(supergraph.contains(&format!("@join__graph(name: \"{name}\"")));
    }
}
