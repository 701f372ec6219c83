//! The query plans of the conformance cases, as snapshots: a planner
//! upgrade (or a change to what the gateway adds to subgraph operations)
//! shows its plan changes for review. Refresh with
//! `INSTA_UPDATE=always cargo test -p gateway --test conformance plans`
//! and review the diff.

use gateway::{Gateway, GatewayConfig};

use crate::harness::fixtures;

const CASES: &[(&str, &str)] = &[
    (
        "entity_fetch_and_override",
        "{ topProducts(first: 2) { upc name reviewCount reviews { body } } }",
    ),
    ("chain_through_two_keys", "{ aisles { sku reviewCount } }"),
    (
        "composite_key",
        "{ topProducts { name shipsFrom { country code city } } }",
    ),
    (
        "nested_key",
        "{ me { name favouriteShelf { number label warehouse { code city } } } }",
    ),
    (
        "requires_with_an_argument",
        "query($zone: Zone!) { topProducts { name home: shippingEstimate(zone: DOMESTIC) away: shippingEstimate(zone: $zone) } }",
    ),
    (
        "provides",
        "{ latestReviews(first: 2) { body author { username } } }",
    ),
    (
        "interface_object",
        "{ media { id title ratingCount ... on Book { pages } ... on Film { minutes } } }",
    ),
    (
        "union_across_subgraphs",
        "{ me { recentlyViewed { __typename ... on Book { title pages } ... on Film { title minutes } ... on Media { ratingCount } } } }",
    ),
    (
        "variable_default_on_a_root_field",
        "query P($me: Boolean = true, $top: Boolean! = false) { me @include(if: $me) { name } topProducts(first: 1) @include(if: $top) { name } }",
    ),
    (
        "variable_default_on_an_entity_field",
        "query P($w: Boolean! = true) { topProducts(first: 1) { name reviews @include(if: $w) { body } } }",
    ),
    (
        "every_field_conditional",
        "query($w: Boolean = true, $lean: Boolean = true) { topProducts(first: 1) { ...Counts @include(if: $w) ... @skip(if: $lean) { reviews { body } } ... on Product @include(if: $w) { price } } } fragment Counts on Product { reviewCount }",
    ),
    (
        "type_mismatch_at_the_root",
        "{ accounts { __typename ... on User { nickname } ... on Bot { nickname } } }",
    ),
    (
        "type_mismatch_in_an_entity_fetch",
        "{ latestReviews(first: 2) { body author { friends { __typename ... on User { nickname } ... on Bot { nickname } } } } }",
    ),
    (
        "requires_with_other_arguments",
        "{ topProducts(first: 2) { name priceIn(currency: EUR) importDuty } }",
    ),
    (
        "alias_equal_to_a_key",
        "{ topProducts(first: 2) { upc: name reviewCount } }",
    ),
    (
        "response_names_merged",
        "{ me { favouriteShelf { warehouse { code } } ... on User { favouriteShelf { label warehouse { city } } } } }",
    ),
    ("null_key", "{ me { lockers { id place } } }"),
    ("inaccessible_in_an_entity_fetch", "{ aisles { formats } }"),
    (
        "mutation_then_entity_fetch",
        "mutation { restock(sku: \"S1\", quantity: 1) { sku onHand price } }",
    ),
    (
        "unicode_in_an_entity_fetch",
        "{ latestReviews(first: 1) { author { greeting(salutation: \"\\u{1F600}\") } } }",
    ),
];

#[tokio::test]
async fn plans_of_the_cases() {
    let supergraph = std::fs::read_to_string(fixtures().join("supergraph.graphql")).unwrap();
    let gateway = Gateway::new(&supergraph, GatewayConfig::default()).expect("the fixture loads");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    let _guard = settings.bind_to_scope();
    for (name, query) in CASES {
        let plan = gateway
            .plan_text(query, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        insta::assert_snapshot!(*name, plan, query);
    }
}
