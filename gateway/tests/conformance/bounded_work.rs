//! Bounded work per request: operations past the limits are refused before
//! planning, measured without expanding fragments, so a fragment fan-out or
//! 10,000 aliases cost the gateway next to nothing and a normal query sent
//! meanwhile keeps its usual latency.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::graph;

/// `query{...F0} fragment F0 on Query{...F1 ...F1} … fragment F20 on
/// Query{__typename}`: 1.2 KB of text, 2^20 fields once expanded.
fn fan_out() -> String {
    let mut text = String::from("query{...F0}");
    for i in 0..20 {
        text.push_str(&format!(
            " fragment F{i} on Query{{...F{} ...F{}}}",
            i + 1,
            i + 1
        ));
    }
    text.push_str(" fragment F20 on Query{__typename}");
    text
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
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{r}"
    );
    let r = g.ask(&aliases(10_000), json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{r}"
    );
    // Under the byte limit, the alias count refuses it.
    let r = g
        .ask(&aliases(3_000).replace(": __typename", ":id"), json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases"),
        "{r}"
    );
}

/// The attacks are sent one after another by two clients while the normal
/// query is measured; the runtime has two workers, as `bigmember up` on
/// this machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_query_keeps_its_latency_while_the_limits_refuse_others() {
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
    assert!(
        during <= before + Duration::from_millis(10),
        "the normal query took {during:?} during the attack, {before:?} before"
    );
}
