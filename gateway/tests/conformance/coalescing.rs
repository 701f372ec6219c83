//! Coalescing never changes what a caller gets. Identical reads in flight
//! at once are sent once; mutations, and every fetch of a mutation's plan,
//! never are. When every caller waiting on a shared fetch hangs up, it
//! leaves the map, and the next identical fetch goes to the subgraph; a
//! fetch that timed out is never handed to a later caller. Idle
//! connections to subgraphs close.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Graph, graph_with};

const RESTOCK: &str = "mutation { restock(sku: \"S1\", quantity: 1) { sku onHand price } }";

async fn on_hand(g: &Graph) -> Value {
    g.ask("{ aisles { sku onHand } }", json!({})).await["data"]["aisles"][0][0]["onHand"].clone()
}

/// Eight identical mutations at once, through a graph that coalesces
/// subgraph fetches (and, if asked, client requests), with the subgraphs
/// slow enough for all eight to be in flight together.
async fn eight_identical_mutations(coalesce_client_requests: bool) {
    let g = graph_with(|c| {
        c.coalesce_subgraph_fetches = true;
        c.coalesce_client_requests = coalesce_client_requests;
    })
    .await;
    g.set_delay("inventory", Duration::from_millis(150));
    g.set_delay("products", Duration::from_millis(150));
    let answers = futures::future::join_all((0..8).map(|_| g.ask(RESTOCK, json!({})))).await;
    let mut seen: Vec<i64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a["data"]["restock"]["price"], 1200, "{a}");
            a["data"]["restock"]["onHand"].as_i64().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=8).collect::<Vec<_>>(),
        "each applied once, in turn"
    );
    let calls = g.calls();
    assert_eq!(calls["inventory"], 8, "every mutation reached inventory");
    assert_eq!(
        calls["products"], 8,
        "every entity fetch of a mutation's plan was sent"
    );
    g.set_delay("inventory", Duration::ZERO);
    assert_eq!(on_hand(&g).await, 8);
}

#[tokio::test]
async fn identical_mutations_at_once_all_apply() {
    eight_identical_mutations(false).await;
}

#[tokio::test]
async fn identical_mutations_at_once_all_apply_with_client_coalescing() {
    eight_identical_mutations(true).await;
}

#[tokio::test]
async fn identical_reads_at_once_are_sent_once_per_credentials() {
    let g = graph_with(|c| c.coalesce_subgraph_fetches = true).await;
    g.set_delay("accounts", Duration::from_millis(200));
    let answers = futures::future::join_all((0..8).map(|_| g.ask("{ visit }", json!({})))).await;
    for a in &answers {
        assert_eq!(a, &json!({ "data": { "visit": 1 } }));
    }
    assert_eq!(g.calls()["accounts"], 1);
    // Other credentials are never shared.
    let (a, b) = tokio::join!(
        g.ask_as("token-a", "{ visit }"),
        g.ask_as("token-b", "{ visit }")
    );
    assert_ne!(a, b, "two fetches, two visits");
    assert_eq!(g.calls()["accounts"], 3);
}

/// The caller hangs up while its fetch is in flight; the next identical
/// query must go to the subgraph again and get a fresh answer.
async fn hang_up_then_ask(coalesce_client_requests: bool) {
    let g = graph_with(|c| {
        c.coalesce_subgraph_fetches = true;
        c.coalesce_client_requests = coalesce_client_requests;
    })
    .await;
    g.set_delay("accounts", Duration::from_millis(300));
    g.ask_and_hang_up("{ visit }", Duration::from_millis(50))
        .await;
    assert_eq!(g.calls()["accounts"], 1);
    let answer = g.ask("{ visit }", json!({})).await;
    assert!(answer["data"]["visit"].is_u64(), "{answer}");
    assert_eq!(
        g.calls()["accounts"],
        2,
        "the abandoned fetch was not joined"
    );
    // Once done, nothing is kept: a later query is a new visit.
    g.set_delay("accounts", Duration::ZERO);
    let later = g.ask("{ visit }", json!({})).await;
    assert!(
        later["data"]["visit"].as_u64() > answer["data"]["visit"].as_u64(),
        "{later}"
    );
    assert_eq!(g.calls()["accounts"], 3);
}

#[tokio::test]
async fn after_the_last_waiter_hangs_up_the_next_query_goes_to_the_subgraph() {
    hang_up_then_ask(false).await;
}

#[tokio::test]
async fn after_the_last_waiter_hangs_up_the_next_client_request_runs_afresh() {
    hang_up_then_ask(true).await;
}

#[tokio::test]
async fn one_waiter_hanging_up_leaves_the_others_their_answer() {
    let g = graph_with(|c| c.coalesce_subgraph_fetches = true).await;
    g.set_delay("accounts", Duration::from_millis(300));
    let (_, a, b) = tokio::join!(
        g.ask_and_hang_up("{ visit }", Duration::from_millis(50)),
        g.ask("{ visit }", json!({})),
        g.ask("{ visit }", json!({}))
    );
    assert_eq!(a, json!({ "data": { "visit": 1 } }));
    assert_eq!(a, b);
    assert_eq!(g.calls()["accounts"], 1);
}

#[tokio::test]
async fn a_timed_out_fetch_is_never_handed_to_a_later_caller() {
    let g = graph_with(|c| {
        c.coalesce_subgraph_fetches = true;
        c.subgraph_timeout = Duration::from_millis(100);
    })
    .await;
    g.set_delay("accounts", Duration::from_millis(400));
    let slow = g.ask("{ visit }", json!({})).await;
    assert_eq!(slow["data"], json!(null), "{slow}");
    assert_eq!(
        slow["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{slow}"
    );
    g.set_delay("accounts", Duration::ZERO);
    let fresh = g.ask("{ visit }", json!({})).await;
    assert!(fresh["data"]["visit"].is_u64(), "{fresh}");
    assert!(fresh.get("errors").is_none(), "{fresh}");
    assert_eq!(g.calls()["accounts"], 2);
}

#[tokio::test]
async fn idle_connections_to_subgraphs_close() {
    let g = graph_with(|c| c.pool_idle_timeout = Duration::from_millis(300)).await;
    let r = g.ask("{ me { id } }", json!({})).await;
    assert_eq!(r, json!({ "data": { "me": { "id": "u1" } } }));
    assert_eq!(
        g.open_connections("accounts"),
        1,
        "kept for the next request"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while g.open_connections("accounts") > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(g.open_connections("accounts"), 0, "closed once idle");
}

/// Identical operations arriving together on a cold plan cache are
/// planned once, and all get that one plan; a caller that hangs up while
/// it is being planned leaves the others their answer, and a mutation's
/// plan is shared the same way (planning writes nothing).
#[tokio::test]
async fn identical_operations_on_a_cold_cache_are_planned_once() {
    use std::sync::Arc;

    use gateway::prepare::{PrepareSettings, Preparer};
    use gateway::supergraph::Supergraph;

    let sdl =
        std::fs::read_to_string(crate::harness::fixtures().join("supergraph.graphql")).unwrap();
    let supergraph = Arc::new(Supergraph::load(&sdl, &Default::default()).unwrap());
    for (i, operation) in [
        "{ topProducts(first: 2) { name reviewCount } }",
        RESTOCK,
        "query($n: Int = 3) { topProducts(first: $n) { ... on Product { name } } }",
    ]
    .into_iter()
    .enumerate()
    {
        let preparer = Arc::new(Preparer::new(16, PrepareSettings::default()));
        // The first caller hangs up while its planning runs.
        let hung_up = {
            let (p, s) = (preparer.clone(), supergraph.clone());
            tokio::spawn(async move { p.prepare(&s, operation, None).await })
        };
        while preparer.plans_made() == 0 {
            tokio::task::yield_now().await;
        }
        hung_up.abort();
        // Its planning may have finished (and been cached) before the
        // abort landed: then nobody plans again.
        let finished_first = hung_up.await.is_ok();
        let expected_plans = if finished_first { 1 } else { 2 };
        let entries = futures::future::join_all(
            (0..20).map(|_| preparer.prepare(&supergraph, operation, None)),
        )
        .await;
        let first = entries[0].as_ref().expect("planned");
        for entry in &entries {
            assert!(
                Arc::ptr_eq(first, entry.as_ref().expect("planned")),
                "operation {i}: every caller gets the one plan"
            );
        }
        assert_eq!(
            preparer.plans_made(),
            expected_plans,
            "operation {i}: once for the caller that hung up, and once for the 20 others unless it had finished"
        );
        // Later callers find it in the cache.
        let again = preparer
            .prepare(&supergraph, operation, None)
            .await
            .unwrap();
        assert!(Arc::ptr_eq(first, &again));
        assert_eq!(preparer.plans_made(), expected_plans);
    }

    // Without coalescing the 20 would plan 20 times: check the counter
    // counts, so that the assertion above can fail.
    let preparer = Arc::new(Preparer::new(16, PrepareSettings::default()));
    for n in 1..=3 {
        let text = format!("{{ topProducts(first: {n}) {{ name }} }}");
        preparer.prepare(&supergraph, &text, None).await.unwrap();
    }
    assert_eq!(preparer.plans_made(), 3);
}
