//! Bounded work per request: operations past the limits are refused before
//! planning, measured without expanding fragments, so a fragment fan-out or
//! 10,000 aliases cost the gateway next to nothing and a normal query sent
//! meanwhile keeps its answer. (How long they take is measured, not
//! asserted: the latency test prints its figures.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::graph;

/// 1.2 KB of text, 2^20 fields once expanded.
fn fan_out() -> String {
    kit::testing::fragment_fan_out(20)
}

/// Refused with LIMIT_EXCEEDED, naming what was counted.
fn refused(r: &Value, counted: &str) {
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(counted),
        "{r}"
    );
}

fn aliases(n: usize) -> String {
    let mut text = String::from("{");
    for i in 0..n {
        text.push_str(&format!(" a{i}: __typename"));
    }
    text.push('}');
    text
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

const NORMAL: &str = "{ topProducts(first: 2) { name reviewCount } }";

async fn normal_latencies(g: &crate::harness::Graph, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = g.ask(NORMAL, json!({})).await;
        out.push(started.elapsed());
        assert_eq!(r["data"]["topProducts"][1]["reviewCount"], 1, "{r}");
    }
    out
}

#[tokio::test]
async fn the_fan_out_and_ten_thousand_aliases_are_refused_with_what_was_counted() {
    let g = graph().await;
    let text = fan_out();
    assert!(text.len() < 1300, "{}", text.len());
    let r = g.ask(&text, json!({})).await;
    refused(&r, "root fields is 1048576");
    // Past the byte limit first.
    let r = g.ask(&aliases(10_000), json!({})).await;
    refused(&r, "bytes");
    // Under the byte limit, the alias count refuses it.
    let r = g
        .ask(&aliases(3_000).replace(": __typename", ":id"), json!({}))
        .await;
    refused(&r, "aliases");
}

/// The attacks are sent one after another by two clients while the normal
/// query is measured; the runtime has two workers, as `bigmember up` on
/// this machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_query_keeps_its_answer_while_the_limits_refuse_others() {
    let g = std::sync::Arc::new(graph().await);
    normal_latencies(&g, 10).await; // warm the plan cache and connections
    let before = median(normal_latencies(&g, 30).await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = [fan_out(), aliases(10_000)]
        .into_iter()
        .map(|text| {
            let (g, stop) = (g.clone(), stop.clone());
            tokio::spawn(async move {
                let mut refused = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let r: Value = g.ask(&text, json!({})).await;
                    assert_eq!(r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                refused
            })
        })
        .collect();
    let during = median(normal_latencies(&g, 30).await);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for attacker in attackers {
        assert!(attacker.await.unwrap() > 0);
    }
    // A figure, not a verdict: the machine's load decides it as much as
    // the gateway does.
    eprintln!("the normal query's median: {before:?} before the attack, {during:?} during it");
}

/// Validation walks every operation and fragment of a document, so the
/// limits measure all of them: a bomb in an operation the request does not
/// choose, or in a fragment nothing spreads, is refused the same way.
#[tokio::test]
async fn a_bomb_anywhere_in_the_document_is_refused() {
    let g = graph().await;
    let bomb = fan_out();
    let unchosen = bomb.replacen("query{", "query B{", 1);
    let unspread = bomb.replacen("query{...F0}", "", 1);
    for text in [
        format!("query A {{ __typename }} {unchosen}"),
        format!("query A {{ __typename }} {unspread}"),
    ] {
        let r = g.post(json!({ "query": text, "operationName": "A" })).await;
        refused(&r, "fields");
    }
}

/// Validation compares every pair of fields that share a response key: too
/// many of them is refused before validation, and a refusal lists at most
/// 100 validation errors.
#[tokio::test]
async fn fields_sharing_a_key_are_bounded_and_so_are_the_errors_listed() {
    // The fixture's fields with arguments are root fields.
    let g = crate::harness::graph_with(|c| c.limits.max_root_fields = 10_000).await;
    let copies = |n: usize| -> String {
        let fields: String = (0..n)
            .map(|i| format!("topProducts(first:{i}){{name}}"))
            .collect();
        format!("{{ {fields} }}")
    };
    let r = g.ask(&copies(999), json!({})).await;
    refused(&r, "sharing one response key in one selection set is 999");
    // Within the limit, 60 conflicting copies make 1,770 conflicts: the
    // first 100 are listed, then one error saying the rest are not.
    let r = g.ask(&copies(60), json!({})).await;
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 101, "{r}");
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED")
    );
    assert!(
        errors[100]["message"]
            .as_str()
            .unwrap()
            .contains("more than 100"),
        "{r}"
    );
}

/// A refusal that says how busy the machine was (planning ran out of time)
/// is not remembered: the same text is planned again next time. One that
/// says what the operation is (it does not validate) is.
#[tokio::test]
async fn a_planning_timeout_is_not_remembered() {
    use std::sync::Arc;

    use gateway::prepare::{PrepareSettings, Preparer};
    use gateway::supergraph::Supergraph;

    let sdl =
        std::fs::read_to_string(crate::harness::fixtures().join("supergraph.graphql")).unwrap();
    let supergraph = Arc::new(Supergraph::load(&sdl, &Default::default()).unwrap());
    let preparer = Arc::new(Preparer::new(
        16,
        PrepareSettings {
            plan_timeout: Duration::ZERO,
            ..Default::default()
        },
    ));
    let Err(refusal) = preparer.prepare(&supergraph, NORMAL, None).await else {
        panic!("planned within no time at all");
    };
    assert_eq!(refusal.code(), kit::ErrorCode::LimitExceeded);
    assert!(
        refusal.errors[0].message.contains("took longer"),
        "{refusal:?}"
    );
    assert!(preparer.cached(NORMAL, None).is_none(), "not remembered");
    let invalid = "{ topProducts { nope } }";
    assert!(preparer.prepare(&supergraph, invalid, None).await.is_err());
    assert!(preparer.cached(invalid, None).is_some(), "remembered");
}
