//! GraphQL operation text, as the current spec draft and graphql-js read
//! it, for parsers that lag behind: `\u{1F600}` and a UTF-16 surrogate pair
//! written as two escapes (`\ud83d\ude00`) in a string literal are one
//! character. The gateway and every subgraph pass the text through
//! [`normalize_unicode_escapes`] before parsing it.

use std::borrow::Cow;

use async_graphql::parser::types::DocumentOperations;

/// Gives each variable the request did not send its declared default, as
/// the spec's variable coercion does before execution. async-graphql
/// applies defaults where a variable is an argument, but not in `@skip` and
/// `@include`, where a missing variable reads as false. The parsed document
/// is kept in the request, so it is parsed once. A request that does not
/// parse, or names no single operation, is left for the engine to refuse.
pub fn apply_variable_defaults(request: &mut async_graphql::Request) {
    let operation_name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return;
    };
    let operation = match (&document.operations, operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return,
        },
        (DocumentOperations::Multiple(_), None) => return,
    };
    let defaults: Vec<_> = operation
        .node
        .variable_definitions
        .iter()
        .filter_map(|def| {
            let default = def.node.default_value.as_ref()?;
            Some((def.node.name.node.clone(), default.node.clone()))
        })
        .collect();
    for (name, value) in defaults {
        request.variables.entry(name).or_insert(value);
    }
}

/// Rewrites the escapes the parsers refuse into ones they read, leaving
/// everything else (and any escape that is not valid) untouched: a code
/// point beyond the Basic Multilingual Plane becomes the character itself,
/// one within it a four-digit `\uXXXX`.
pub fn normalize_unicode_escapes(text: &str) -> Cow<'_, str> {
    if !text.contains("\\u") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    let mut copied = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            match b {
                b'#' => {
                    // A comment runs to the end of the line.
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                }
                b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                    // A block string has no escapes but \""": skip it whole.
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i..].starts_with(b"\\\"\"\"") {
                            4
                        } else {
                            1
                        };
                    }
                    i += 3;
                }
                b'"' => {
                    in_string = true;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' | b'\n' | b'\r' => {
                in_string = false;
                i += 1;
            }
            b'\\' if bytes.get(i + 1) == Some(&b'u') => match escape_at(bytes, i) {
                Some((ch, len)) => {
                    out.push_str(&text[copied..i]);
                    if (ch as u32) > 0xFFFF {
                        out.push(ch);
                    } else {
                        out.push_str(&format!("\\u{:04X}", ch as u32));
                    }
                    changed = true;
                    i += len;
                    copied = i;
                }
                None => i += 2,
            },
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied.min(text.len())..]);
    Cow::Owned(out)
}

/// A `\u{…}` escape, or a surrogate pair of `\uXXXX` escapes, at `at`
/// (which holds `\u`): the character and how many bytes the escape takes.
/// Plain `\uXXXX` escapes the parsers read already are left alone (None).
fn escape_at(bytes: &[u8], at: usize) -> Option<(char, usize)> {
    let hex = |from: usize, len: usize| -> Option<u32> {
        let digits = bytes.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    if bytes.get(at + 2) == Some(&b'{') {
        let close = bytes[at + 3..].iter().position(|&b| b == b'}')?;
        if close == 0 || close > 8 {
            return None;
        }
        let value = hex(at + 3, close)?;
        return char::from_u32(value).map(|c| (c, close + 4));
    }
    let high = hex(at + 2, 4)?;
    if !(0xD800..=0xDBFF).contains(&high) || !bytes[at + 6..].starts_with(b"\\u") {
        return None;
    }
    let low = hex(at + 8, 4)?;
    if !(0xDC00..=0xDFFF).contains(&low) {
        return None;
    }
    let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    char::from_u32(value).map(|c| (c, 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn astral_escapes_become_the_character() {
        assert_eq!(
            normalize_unicode_escapes(r#"{ a(s: "x\ud83d\ude00y") }"#),
            "{ a(s: \"x😀y\") }"
        );
        assert_eq!(
            normalize_unicode_escapes(r#"{ a(s: "\u{1F600}") }"#),
            "{ a(s: \"😀\") }"
        );
        assert_eq!(
            normalize_unicode_escapes(r#"{ a(s: "\u{41}\u{22}") }"#),
            r#"{ a(s: "\u0041\u0022") }"#,
            "within the BMP: the four-digit form, so a quote stays escaped"
        );
    }

    #[test]
    fn everything_else_is_left_as_it_is() {
        for text in [
            r#"{ a(s: "\u00e9 \n \"") }"#,
            r#"{ a(s: """\u{1F600}""") }"#,
            "# \\u{1F600} in a comment\n{ a }",
            r#"{ a(s: "\ud83d alone") }"#,
            r#"{ a(s: "\u{110000}") }"#,
            "{ a }",
        ] {
            assert_eq!(normalize_unicode_escapes(text), text);
        }
    }

    fn variables_after_defaults(
        query: &str,
        operation: Option<&str>,
        sent: serde_json::Value,
    ) -> serde_json::Value {
        let mut request =
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(sent));
        if let Some(name) = operation {
            request = request.operation_name(name);
        }
        apply_variable_defaults(&mut request);
        serde_json::to_value(&request.variables).unwrap()
    }

    #[test]
    fn missing_variables_take_their_defaults_and_sent_ones_stay() {
        use serde_json::json;
        let q = "query($a: Boolean = true, $b: Int = 2, $c: String, $d: [Int] = [1]) { x }";
        assert_eq!(
            variables_after_defaults(q, None, json!({ "b": 5 })),
            json!({ "a": true, "b": 5, "d": [1] }),
            "no default, nothing added; a sent value wins"
        );
        assert_eq!(
            variables_after_defaults(q, None, json!({ "a": null })),
            json!({ "a": null, "b": 2, "d": [1] }),
            "an explicit null is not replaced by the default"
        );
        let two = "query A($v: Int = 1) { x } query B($v: Int = 2) { x }";
        assert_eq!(
            variables_after_defaults(two, Some("B"), json!({})),
            json!({ "v": 2 })
        );
        assert_eq!(
            variables_after_defaults(two, None, json!({})),
            json!({}),
            "no single operation: left for the engine to refuse"
        );
        assert_eq!(
            variables_after_defaults("query(", None, json!({})),
            json!({})
        );
    }
}
