//! Unicode string literals: `\ud83d\ude00` (a surrogate pair) and
//! `\u{1F600}` are one character (😀), as graphql-js and the current spec
//! draft read them, wherever a literal sits: a root argument, an argument
//! in an entity fetch, a variable's default. A block string has no escapes.
//! A lone surrogate is a parse error.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn escapes_are_one_character_at_the_root() {
    let g = graph().await;
    g.expect(
        r#"{ pair: greet(name: "\ud83d\ude00") braces: greet(name: "\u{1F600}") bmp: greet(name: "\u00e9\u{e9}") }"#,
        json!({}),
        json!({ "data": { "pair": "Hello, 😀", "braces": "Hello, 😀", "bmp": "Hello, éé" } }),
    )
    .await;
}

#[tokio::test]
async fn escapes_in_an_entity_fetch_and_a_variable_default() {
    let g = graph().await;
    g.expect(
        r#"query($s: String = "\ud83d\ude00!") { latestReviews(first: 1) { author { a: greeting(salutation: "\u{1F600}") b: greeting(salutation: $s) } } }"#,
        json!({}),
        json!({ "data": { "latestReviews": [{ "author": { "a": "😀 alan", "b": "😀! alan" } }] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("reviews", 1), ("accounts", 1)]));
}

#[tokio::test]
async fn a_block_string_keeps_its_backslashes() {
    let g = graph().await;
    g.expect(
        r#"{ greet(name: """\u{1F600}""") }"#,
        json!({}),
        json!({ "data": { "greet": "Hello, \\u{1F600}" } }),
    )
    .await;
}

#[tokio::test]
async fn a_lone_surrogate_is_a_parse_error() {
    let g = graph().await;
    for text in [
        r#"{ greet(name: "\ud83d") }"#,
        r#"{ greet(name: "\u{110000}") }"#,
    ] {
        let r = g.ask(text, json!({})).await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
            "{text}: {r}"
        );
        assert!(r.get("data").is_none(), "{r}");
    }
    assert_eq!(g.calls(), counts(&[]));
}
