//! GraphQL operation text, as the current spec draft and graphql-js read
//! it, for parsers that lag behind: `\u{1F600}` and a UTF-16 surrogate pair
//! written as two escapes (`\ud83d\ude00`) in a string literal are one
//! character. The gateway and every subgraph pass the text through
//! [`normalize_unicode_escapes`] before parsing it.

use std::borrow::Cow;

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
}
