//! Subgraph answers as the gateway holds them: each answer parsed once, from
//! its bytes, into an immutable [`Doc`] that any number of requests can
//! share. Strings and numbers stay slices of those bytes, escapes and all,
//! so writing them to a client is a copy; nodes sit in flat arrays, so a
//! tree costs a few allocations, not one per object.
//!
//! Parsing checks what the gateway relies on when it copies bytes out: the
//! input is UTF-8, strings hold no raw control characters and only valid
//! escapes, numbers have JSON's shape, and nesting stays below
//! [`MAX_DEPTH`].

use std::borrow::Cow;

use bytes::Bytes;

/// A node's index in its document.
pub type NodeId = u32;

/// How deep a subgraph answer may nest.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// One JSON value: its kind, its bytes (`start..end`, quotes included for
/// a string), and for containers where its children are.
#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    /// For a string: whether it holds an escape. For a bool: its value.
    /// For an object: whether any key holds an escape.
    flag: bool,
    start: u32,
    end: u32,
    /// Containers: index of the first child in `items` or `fields`.
    first: u32,
    /// Containers: how many children.
    len: u32,
    /// Objects: one bit per key ([`key_bit`]), so that most look-ups of an
    /// absent key (the usual case when an object's fields come from several
    /// subgraphs) end without reading a member.
    keys: u32,
}

/// An object member: its key (raw, between the quotes) and its value.
#[derive(Debug, Clone, Copy)]
struct Member {
    key_start: u32,
    /// The raw key's length in bytes; [`ESCAPED`] set when it holds an
    /// escape.
    key_len: u32,
    value: NodeId,
    /// [`key_hash`] of the raw key: compared before the bytes.
    hash: u32,
}

const ESCAPED: u32 = 1 << 31;

/// A short, fast hash of a key's raw bytes (keys are field names, written
/// by subgraphs, not by clients; a collision only costs a byte compare).
#[inline]
fn key_hash(key: &[u8]) -> u32 {
    let mut h = (key.len() as u32).wrapping_mul(0x9E37_79B9);
    for &b in key {
        h = (h.rotate_left(5) ^ u32::from(b)).wrapping_mul(0x9E37_79B9);
    }
    h
}

/// The bit of an object's key set that stands for a key of this hash.
#[inline]
fn key_bit(hash: u32) -> u32 {
    1 << (hash >> 27)
}

/// A parsed JSON document.
#[derive(Debug, Clone)]
pub struct Doc {
    bytes: Bytes,
    nodes: Vec<Node>,
    items: Vec<NodeId>,
    members: Vec<Member>,
    /// Keys renamed after parsing ([`Doc::rename_key`]), by member index.
    renamed: Vec<(u32, Box<str>)>,
    root: NodeId,
}

/// Why bytes are not a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not JSON at byte {at}: {what}")]
pub struct JsonError {
    pub at: usize,
    pub what: &'static str,
}

impl Doc {
    /// Parses `bytes` (one JSON value, whitespace around it allowed).
    pub fn parse(bytes: Bytes) -> Result<Self, JsonError> {
        // Offsets are u32 and a key's length keeps its top bit for ESCAPED.
        if bytes.len() >= ESCAPED as usize {
            return Err(JsonError {
                at: 0,
                what: "larger than 2 GiB",
            });
        }
        std::str::from_utf8(&bytes).map_err(|e| JsonError {
            at: e.valid_up_to(),
            what: "not UTF-8",
        })?;
        let mut parser = Parser {
            input: &bytes,
            at: 0,
            nodes: Vec::with_capacity(bytes.len() / 24),
            items: Vec::new(),
            members: Vec::new(),
            scratch_items: Vec::new(),
            scratch_members: Vec::new(),
        };
        parser.skip_ws();
        let root = parser.value(0)?;
        parser.skip_ws();
        if parser.at != parser.input.len() {
            return Err(parser.error("text after the value"));
        }
        let Parser {
            nodes,
            items,
            members,
            ..
        } = parser;
        Ok(Doc {
            bytes,
            nodes,
            items,
            members,
            renamed: Vec::new(),
            root,
        })
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn kind(&self, node: NodeId) -> Kind {
        self.nodes[node as usize].kind
    }

    pub fn is_null(&self, node: NodeId) -> bool {
        self.kind(node) == Kind::Null
    }

    /// The node's JSON text, exactly as the subgraph sent it (whole
    /// subtrees included; renamed keys are not reflected).
    pub fn raw(&self, node: NodeId) -> &[u8] {
        let n = &self.nodes[node as usize];
        &self.bytes[n.start as usize..n.end as usize]
    }

    /// A string's value, unescaped; None for any other kind.
    pub fn str(&self, node: NodeId) -> Option<Cow<'_, str>> {
        let n = &self.nodes[node as usize];
        if n.kind != Kind::String {
            return None;
        }
        let inner = &self.bytes[n.start as usize + 1..n.end as usize - 1];
        Some(text(inner, n.flag))
    }

    pub fn bool(&self, node: NodeId) -> Option<bool> {
        let n = &self.nodes[node as usize];
        (n.kind == Kind::Bool).then_some(n.flag)
    }

    /// An array's items; empty for any other kind.
    pub fn items(&self, node: NodeId) -> &[NodeId] {
        let n = &self.nodes[node as usize];
        if n.kind != Kind::Array {
            return &[];
        }
        &self.items[n.first as usize..(n.first + n.len) as usize]
    }

    /// An object's members as (key, value), keys unescaped; empty for any
    /// other kind.
    pub fn members(&self, node: NodeId) -> impl Iterator<Item = (Cow<'_, str>, NodeId)> + '_ {
        let n = self.nodes[node as usize];
        let range = if n.kind == Kind::Object {
            n.first as usize..(n.first + n.len) as usize
        } else {
            0..0
        };
        range.map(move |i| (self.key(i), self.members[i].value))
    }

    fn key(&self, member: usize) -> Cow<'_, str> {
        if !self.renamed.is_empty()
            && let Some((_, to)) = self.renamed.iter().find(|(m, _)| *m as usize == member)
        {
            return Cow::Borrowed(to);
        }
        let m = &self.members[member];
        let len = m.key_len & !ESCAPED;
        text(
            &self.bytes[m.key_start as usize..(m.key_start + len) as usize],
            m.key_len & ESCAPED != 0,
        )
    }

    /// The value of `key` in an object; None when absent or not an object.
    pub fn get(&self, node: NodeId, key: &str) -> Option<NodeId> {
        let n = &self.nodes[node as usize];
        if n.kind != Kind::Object {
            return None;
        }
        if self.renamed.is_empty() && !n.flag {
            // The common case: no escapes, no renames; compare raw bytes.
            let key = key.as_bytes();
            let hash = key_hash(key);
            if n.keys & key_bit(hash) == 0 {
                return None;
            }
            let members = &self.members[n.first as usize..(n.first + n.len) as usize];
            return members
                .iter()
                .find(|m| {
                    m.hash == hash
                        && m.key_len as usize == key.len()
                        && short_eq(
                            &self.bytes[m.key_start as usize..m.key_start as usize + key.len()],
                            key,
                        )
                })
                .map(|m| m.value);
        }
        (n.first as usize..(n.first + n.len) as usize)
            .find(|&i| self.key(i) == key)
            .map(|i| self.members[i].value)
    }

    /// Renames `from` to `to` in an object (output rewrites of a fetch).
    pub fn rename_key(&mut self, node: NodeId, from: &str, to: &str) {
        let n = self.nodes[node as usize];
        if n.kind != Kind::Object || from == to {
            return;
        }
        if let Some(i) =
            (n.first as usize..(n.first + n.len) as usize).find(|&i| self.key(i) == from)
        {
            self.renamed.retain(|(m, _)| *m as usize != i);
            self.renamed.push((i as u32, to.into()));
        }
    }

    /// Writes the node as JSON (renamed keys as renamed).
    pub fn write(&self, node: NodeId, out: &mut Vec<u8>) {
        let n = &self.nodes[node as usize];
        match n.kind {
            Kind::Object if !self.renamed.is_empty() => {
                out.push(b'{');
                for (i, (key, value)) in self.members(node).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, &key);
                    out.push(b':');
                    self.write(value, out);
                }
                out.push(b'}');
            }
            Kind::Array if !self.renamed.is_empty() => {
                out.push(b'[');
                for (i, item) in self.items(node).iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(*item, out);
                }
                out.push(b']');
            }
            _ => out.extend_from_slice(self.raw(node)),
        }
    }

    /// The node as a `serde_json::Value` (for the rare paths: errors and
    /// their extensions).
    pub fn to_value(&self, node: NodeId) -> serde_json::Value {
        let mut out = Vec::new();
        self.write(node, &mut out);
        serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
    }
}

/// Equal slices of equal length, compared without a call into memcmp
/// (keys are short).
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() > 32 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Raw string content, unescaped when it holds an escape.
fn text(raw: &[u8], escaped: bool) -> Cow<'_, str> {
    // The document was checked to be UTF-8 and these are char boundaries.
    let s = std::str::from_utf8(raw).unwrap_or_default();
    if !escaped {
        return Cow::Borrowed(s);
    }
    let quoted = format!("\"{s}\"");
    Cow::Owned(serde_json::from_str::<String>(&quoted).unwrap_or_default())
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
    nodes: Vec<Node>,
    items: Vec<NodeId>,
    members: Vec<Member>,
    scratch_items: Vec<NodeId>,
    scratch_members: Vec<Member>,
}

impl Parser<'_> {
    fn error(&self, what: &'static str) -> JsonError {
        JsonError { at: self.at, what }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.input.get(self.at) {
            self.at += 1;
        }
    }

    fn push(&mut self, kind: Kind, flag: bool, start: usize, first: u32, len: u32) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            kind,
            flag,
            start: start as u32,
            end: self.at as u32,
            first,
            len,
            keys: 0,
        });
        id
    }

    fn value(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.at;
        match self.input.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let escaped = self.string()?;
                Ok(self.push(Kind::String, escaped, start, 0, 0))
            }
            Some(b't') => self.literal(b"true", Kind::Bool, true),
            Some(b'f') => self.literal(b"false", Kind::Bool, false),
            Some(b'n') => self.literal(b"null", Kind::Null, false),
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(self.push(Kind::Number, false, start, 0, 0))
            }
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind, flag: bool) -> Result<NodeId, JsonError> {
        let start = self.at;
        if self.input[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(self.push(kind, flag, start, 0, 0))
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let digits = |p: &mut Self| {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.input.get(p.at) {
                p.at += 1;
            }
            p.at - from
        };
        if self.input.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.input.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("a number needs digits")),
        }
        if self.input.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("a fraction needs digits"));
            }
        }
        if let Some(b'e' | b'E') = self.input.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.input.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("an exponent needs digits"));
            }
        }
        Ok(())
    }

    /// Scans a string (at its opening quote); whether it holds an escape.
    fn string(&mut self) -> Result<bool, JsonError> {
        self.at += 1;
        let mut escaped = false;
        loop {
            // Most bytes are plain: skip them quickly.
            let rest = &self.input[self.at..];
            let plain = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .ok_or_else(|| self.error("unterminated string"))?;
            self.at += plain;
            match self.input[self.at] {
                b'"' => {
                    self.at += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.at += 1;
                    match self.input.get(self.at) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            let hex = self.input.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("\\u needs four hex digits"));
                            }
                            self.at += 5;
                        }
                        _ => return Err(self.error("unknown escape")),
                    }
                }
                _ => return Err(self.error("control character in a string")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        let start = self.at;
        self.at += 1;
        let mark = self.scratch_items.len();
        self.skip_ws();
        if self.input.get(self.at) == Some(&b']') {
            self.at += 1;
            let first = self.items.len() as u32;
            return Ok(self.push(Kind::Array, false, start, first, 0));
        }
        loop {
            self.skip_ws();
            let item = self.value(depth + 1)?;
            self.scratch_items.push(item);
            self.skip_ws();
            match self.input.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.error("expected , or ] in an array")),
            }
        }
        let first = self.items.len() as u32;
        let len = (self.scratch_items.len() - mark) as u32;
        self.items.extend(self.scratch_items.drain(mark..));
        Ok(self.push(Kind::Array, false, start, first, len))
    }

    fn object(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        let start = self.at;
        self.at += 1;
        let mark = self.scratch_members.len();
        self.skip_ws();
        if self.input.get(self.at) == Some(&b'}') {
            self.at += 1;
            let first = self.members.len() as u32;
            return Ok(self.push(Kind::Object, false, start, first, 0));
        }
        loop {
            self.skip_ws();
            if self.input.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a key"));
            }
            let key_start = self.at + 1;
            let key_escaped = self.string()?;
            let key_len = (self.at - 1 - key_start) as u32;
            self.skip_ws();
            if self.input.get(self.at) != Some(&b':') {
                return Err(self.error("expected : after a key"));
            }
            self.at += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            self.scratch_members.push(Member {
                key_start: key_start as u32,
                key_len: if key_escaped {
                    key_len | ESCAPED
                } else {
                    key_len
                },
                value,
                hash: key_hash(&self.input[key_start..key_start + key_len as usize]),
            });
            self.skip_ws();
            match self.input.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.error("expected , or } in an object")),
            }
        }
        let first = self.members.len() as u32;
        let len = (self.scratch_members.len() - mark) as u32;
        let mut keys = 0;
        let mut escaped = false;
        for m in &self.scratch_members[mark..] {
            keys |= key_bit(m.hash);
            escaped |= m.key_len & ESCAPED != 0;
        }
        self.members.extend(self.scratch_members.drain(mark..));
        let id = self.push(Kind::Object, escaped, start, first, len);
        self.nodes[id as usize].keys = keys;
        Ok(id)
    }
}

/// Writes `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[plain_from..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                plain_from = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        out.extend_from_slice(escape);
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc {
        Doc::parse(Bytes::copy_from_slice(text.as_bytes())).unwrap()
    }

    #[test]
    fn a_document_keeps_its_bytes_and_finds_members() {
        let d = doc(r#" {"data":{"a":[1,-2.5e3,true,null,"x\"y"],"b":{"c":"ü"}}} "#);
        let data = d.get(d.root(), "data").unwrap();
        let a = d.get(data, "a").unwrap();
        let items = d.items(a);
        assert_eq!(items.len(), 5);
        assert_eq!(d.raw(items[1]), b"-2.5e3");
        assert_eq!(d.bool(items[2]), Some(true));
        assert!(d.is_null(items[3]));
        assert_eq!(d.raw(items[4]), br#""x\"y""#, "escapes stay as sent");
        assert_eq!(d.str(items[4]).unwrap(), "x\"y", "and read unescaped");
        let b = d.get(data, "b").unwrap();
        assert_eq!(d.raw(b), r#"{"c":"ü"}"#.as_bytes());
        assert_eq!(d.get(data, "nope"), None);
        let keys: Vec<_> = d.members(data).map(|(k, _)| k.into_owned()).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn escaped_keys_are_found_by_their_value() {
        let d = doc(r#"{"\u0061b":1,"c":2}"#);
        assert_eq!(d.raw(d.get(d.root(), "ab").unwrap()), b"1");
        assert_eq!(d.raw(d.get(d.root(), "c").unwrap()), b"2");
        assert_eq!(
            d.get(d.root(), "\\u0061b"),
            None,
            "the raw text is not the key"
        );
        assert_eq!(d.get(d.root(), "d"), None);
    }

    #[test]
    fn every_key_of_a_wide_object_is_found_and_no_other() {
        // More keys than the key set has bits: every bit is shared.
        let keys: Vec<String> = (0..100).map(|i| format!("field{i}")).collect();
        let text = format!(
            "{{{}}}",
            keys.iter()
                .enumerate()
                .map(|(i, k)| format!("\"{k}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let d = doc(&text);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(d.raw(d.get(d.root(), k).unwrap()), i.to_string().as_bytes());
        }
        for absent in ["field100", "field", "", "Field1", "field1 "] {
            assert_eq!(d.get(d.root(), absent), None, "{absent:?}");
        }
    }

    #[test]
    fn renamed_keys_are_found_and_written_renamed() {
        let mut d = doc(r#"{"x":{"_internal_qp_alias_0":1,"b":2}}"#);
        let x = d.get(d.root(), "x").unwrap();
        d.rename_key(x, "_internal_qp_alias_0", "a");
        assert_eq!(d.raw(d.get(x, "a").unwrap()), b"1");
        assert_eq!(d.get(x, "_internal_qp_alias_0"), None);
        let mut out = Vec::new();
        d.write(d.root(), &mut out);
        assert_eq!(out, br#"{"x":{"a":1,"b":2}}"#);
    }

    #[test]
    fn broken_json_is_refused_with_the_place() {
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "[1,]",
            "01",
            "1.",
            "\"a\u{1}\"",
            "\"\\x\"",
            "\"\\u12\"",
            "tru",
            "{} x",
            "-",
        ] {
            assert!(
                Doc::parse(Bytes::copy_from_slice(bad.as_bytes())).is_err(),
                "{bad:?}"
            );
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(
            Doc::parse(Bytes::from(deep)).unwrap_err().what,
            "nested too deeply"
        );
        assert_eq!(
            Doc::parse(Bytes::from_static(b"\"\xff\""))
                .unwrap_err()
                .what,
            "not UTF-8"
        );
    }

    #[test]
    fn strings_are_written_as_json_reads_them() {
        for s in [
            "plain",
            "quote \" and \\",
            "line\nbreak\ttab",
            "\u{1}\u{1f}",
            "😀 ü",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::Bool),
                any::<i64>().prop_map(serde_json::Value::from),
                (-1e9f64..1e9).prop_map(serde_json::Value::from),
                ".{0,12}".prop_map(serde_json::Value::String),
            ];
            leaf.prop_recursive(4, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                    prop::collection::vec(("[a-z_]{1,6}", inner), 0..6)
                        .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()) }),
                ]
            })
        }

        proptest! {
            /// Whatever serde_json writes, a Doc reads, and writes back
            /// byte for byte; every member is found under its key.
            #[test]
            fn round_trips_what_serde_json_writes(value in json()) {
                let text = serde_json::to_vec(&value).unwrap();
                let d = Doc::parse(Bytes::from(text.clone())).unwrap();
                let mut out = Vec::new();
                d.write(d.root(), &mut out);
                prop_assert_eq!(&out, &text);
                if let serde_json::Value::Object(map) = &value {
                    for key in map.keys() {
                        prop_assert!(d.get(d.root(), key).is_some(), "{key}");
                    }
                }
            }
        }
    }
}
