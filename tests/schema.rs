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

/// GraphQL's Int is 32-bit. Every quantity that is 64-bit in the code or
/// can grow past 2^31 − 1 by adding up (fen, points, balances, stock,
/// growth, counts) is `Long` (kit::scalar); an Int is only one of these,
/// each bounded where it is parsed. A new Int field or argument fails here
/// until it is either a `Long` or added below with its bound.
#[test]
fn every_int_in_the_graph_is_bounded_below_2_pow_31() {
    const BOUNDED_INTS: [(&str, &str); 28] = [
        ("first", "page size, at most 100"),
        ("days", "expiringSoon window, 1..=3650"),
        ("version", "exchange terms version, bumped per change"),
        ("feeBasisPoints", "0..=10000"),
        ("basisPoints", "0..=10000"),
        (
            "quantity",
            "an order line's, 1..=1000; a stock receipt's, 1..=1000000",
        ),
        ("refundedQuantity", "at most the line's quantity"),
        (
            "delta",
            "a stock or growth change, at most 1000000000 either way",
        ),
        ("bindingDays", "guide binding window, days"),
        ("protectionDays", "guide protection window, days"),
        ("afterSalesDays", "commission window, days"),
        ("pendingDays", "programme window, days"),
        ("expiryMonths", "programme expiry, months"),
        ("overlapHours", "partner key rotation overlap, 0..=720"),
        (
            "attempts",
            "a webhook delivery's, at most webhooks.max_attempts",
        ),
        ("lastStatus", "an HTTP status, 100..=999"),
        (
            "firstPurchaseBonus",
            "a campaign's bonus, 1..=1000000 points",
        ),
        (
            "birthdayMonthBonus",
            "a campaign's bonus, 1..=1000000 points",
        ),
        (
            "guideRegistrationBonus",
            "a campaign's bonus, 1..=1000000 points",
        ),
        ("newMemberPoints", "a referral's bonus, 1..=1000000 points"),
        ("referrerPoints", "a referral's bonus, 1..=1000000 points"),
        (
            "perMemberLimit",
            "a reward's redemptions per member, 1..=1000",
        ),
        ("percentOff", "a coupon's percentage, 1..=100"),
        ("priority", "a campaign's priority, -1000..=1000"),
        ("validDays", "a coupon's days, 1..=366"),
        (
            "purchasedWithinDays",
            "a segment's look-back, 1..=3650 days",
        ),
        (
            "notPurchasedWithinDays",
            "a segment's look-back, 1..=3650 days",
        ),
        ("spendWithinDays", "a segment's spend window, 1..=3650 days"),
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    let supergraph = std::fs::read_to_string(root.join("supergraph.graphql")).unwrap();
    let mut unbounded = std::collections::BTreeSet::new();
    let mut rest = supergraph.as_str();
    while let Some(at) = rest.find(": Int") {
        let after = &rest[at + ": Int".len()..];
        let is_int = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        let before = rest[..at].trim_end();
        let name_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &before[name_start..];
        if is_int && !BOUNDED_INTS.iter().any(|(n, _)| *n == name) {
            unbounded.insert(name.to_owned());
        }
        rest = after;
    }
    assert!(
        unbounded.is_empty(),
        "Int fields or arguments with no known bound (make them Long, or bound them and list them): {unbounded:?}"
    );
    assert!(
        supergraph.contains("scalar Long"),
        "the Long scalar is declared"
    );
}
