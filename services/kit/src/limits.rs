//! Bounded work per request, for the gateway and every subgraph alike: a
//! document's size is measured before it is validated, planned or
//! executed, and one past the [`OperationLimits`] is refused with
//! `LIMIT_EXCEEDED`.
//!
//! Everything in the document is measured, not only the operation that
//! would run: validation walks every operation and fragment, so a fragment
//! bomb in an operation that is never chosen costs as much as one that is.
//! Fragments are never expanded to measure: each fragment's size is
//! computed once and reused wherever it is spread, so a fragment that
//! spreads the next twice, twenty times over, is measured (and refused) in
//! microseconds.

use std::collections::HashMap;
use std::rc::Rc;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

pub use crate::config::OperationLimits;

/// A document's size as the limits count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// The deepest nesting of selection sets.
    pub depth: u64,
    /// Aliased fields, every fragment written out, over all operations.
    pub aliases: u64,
    /// The most fields at one operation's root.
    pub root_fields: u64,
    /// Fields, every fragment written out, over all operations (and
    /// fragments no operation spreads).
    pub fields: u64,
    /// The most fields sharing one response key in one selection set
    /// (validation compares every pair of them).
    pub same_key: u64,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            root_fields: self.root_fields.max(other.root_fields),
            fields: self.fields.saturating_add(other.fields),
            same_key: self.same_key.max(other.same_key),
        }
    }

    const UNBOUNDED: Size = Size {
        depth: u64::MAX,
        aliases: u64::MAX,
        root_fields: u64::MAX,
        fields: u64::MAX,
        same_key: u64::MAX,
    };

    /// The first of `limits` this size passes, as a message; None when
    /// within all.
    pub fn first_past(self, limits: &OperationLimits) -> Option<String> {
        let over = |what: &str, got: u64, max: u64| {
            (got > max).then(|| {
                let got = if got == u64::MAX {
                    "unbounded".to_owned()
                } else {
                    got.to_string()
                };
                format!("the operation's {what} is {got}; at most {max} is allowed")
            })
        };
        over("depth", self.depth, limits.max_depth)
            .or_else(|| over("number of aliases", self.aliases, limits.max_aliases))
            .or_else(|| {
                over(
                    "number of root fields",
                    self.root_fields,
                    limits.max_root_fields,
                )
            })
            .or_else(|| {
                over(
                    "number of fields with fragments written out",
                    self.fields,
                    limits.max_fields,
                )
            })
            .or_else(|| {
                over(
                    "number of fields sharing one response key in one selection set",
                    self.same_key,
                    limits.max_same_key,
                )
            })
    }
}

/// Measures every operation and fragment of `document`.
pub fn measure(document: &ExecutableDocument) -> Size {
    let mut measurer = Measurer {
        document,
        sizes: HashMap::new(),
        keys: HashMap::new(),
        visiting: Vec::new(),
    };
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    let mut total = Size::default();
    for op in operations {
        let set = &op.selection_set.node;
        let mut size = measurer.set(set);
        size.root_fields = measurer
            .top_keys(set)
            .values()
            .fold(0u64, |n, c| n.saturating_add(*c));
        total = total.add(size);
    }
    // Fragments no operation spreads are validated too.
    for name in document.fragments.keys() {
        if !measurer.sizes.contains_key(name.as_str()) {
            let size = measurer.fragment(name.as_str());
            total = total.add(Size {
                root_fields: 0,
                ..size
            });
        }
    }
    total
}

/// Response key → how many fields have it, at one selection set's top
/// level (inline fragments and spreads written out).
type TopKeys<'d> = Rc<HashMap<&'d str, u64>>;

struct Measurer<'d> {
    document: &'d ExecutableDocument,
    sizes: HashMap<&'d str, Size>,
    keys: HashMap<&'d str, TopKeys<'d>>,
    /// Fragments being measured: a cycle (refused by validation later)
    /// counts as unbounded here.
    visiting: Vec<&'d str>,
}

impl<'d> Measurer<'d> {
    fn set(&mut self, set: &'d SelectionSet) -> Size {
        let mut size = Size::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let below = self.set(&field.selection_set.node);
                    Size {
                        depth: if field.selection_set.node.items.is_empty() {
                            1
                        } else {
                            below.depth.saturating_add(1)
                        },
                        aliases: below
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        root_fields: 0,
                        fields: below.fields.saturating_add(1),
                        same_key: below.same_key,
                    }
                }
                Selection::InlineFragment(f) => self.set(&f.node.selection_set.node),
                Selection::FragmentSpread(s) => self.fragment(s.node.fragment_name.node.as_str()),
            };
            size = size.add(inner);
        }
        let same_key = self.top_keys(set).values().copied().max().unwrap_or(0);
        size.same_key = size.same_key.max(same_key);
        size
    }

    fn fragment(&mut self, name: &'d str) -> Size {
        if let Some(size) = self.sizes.get(name) {
            return *size;
        }
        if self.visiting.contains(&name) {
            return Size::UNBOUNDED;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Size::default();
        };
        self.visiting.push(name);
        let size = self.set(&fragment.node.selection_set.node);
        self.visiting.pop();
        self.sizes.insert(name, size);
        size
    }

    fn top_keys(&mut self, set: &'d SelectionSet) -> TopKeys<'d> {
        let mut keys: HashMap<&'d str, u64> = HashMap::new();
        self.add_top_keys(set, &mut keys);
        Rc::new(keys)
    }

    fn add_top_keys(&mut self, set: &'d SelectionSet, keys: &mut HashMap<&'d str, u64>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = field.alias.as_ref().unwrap_or(&field.name).node.as_str();
                    let n = keys.entry(key).or_default();
                    *n = n.saturating_add(1);
                }
                Selection::InlineFragment(f) => self.add_top_keys(&f.node.selection_set.node, keys),
                Selection::FragmentSpread(s) => {
                    for (key, count) in self
                        .fragment_top_keys(s.node.fragment_name.node.as_str())
                        .iter()
                    {
                        let n = keys.entry(key).or_default();
                        *n = n.saturating_add(*count);
                    }
                }
            }
        }
    }

    fn fragment_top_keys(&mut self, name: &'d str) -> TopKeys<'d> {
        if let Some(keys) = self.keys.get(name) {
            return keys.clone();
        }
        if self.visiting.contains(&name) {
            return Rc::new(HashMap::from([("", u64::MAX)]));
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Rc::default();
        };
        self.visiting.push(name);
        let keys = self.top_keys(&fragment.node.selection_set.node);
        self.visiting.pop();
        self.keys.insert(name, keys.clone());
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Size {
        measure(&async_graphql::parser::parse_query(text).unwrap())
    }

    use crate::testing::fragment_fan_out as fan_out;

    #[test]
    fn sizes_count_fragments_where_they_are_spread() {
        let s = size("{ a { b c: d { e } } f: g } ");
        assert_eq!(
            s,
            Size {
                depth: 3,
                aliases: 2,
                root_fields: 2,
                fields: 5,
                same_key: 1,
            }
        );
        let s = size("query { ...F x { ...F } } fragment F on T { a: b c }");
        assert_eq!((s.fields, s.aliases, s.root_fields, s.depth), (5, 2, 3, 2));
    }

    #[test]
    fn a_fragment_fan_out_is_measured_without_expanding_it() {
        let started = std::time::Instant::now();
        let s = size(&fan_out(40));
        assert_eq!(s.fields, 1u64 << 40, "2^40 fields written out");
        assert_eq!(s.same_key, 1u64 << 40, "all of them __typename");
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        let refused = s.first_past(&OperationLimits::default()).unwrap();
        assert!(refused.contains("fields"), "{refused}");
        assert!(
            size(&fan_out(5))
                .first_past(&OperationLimits::default())
                .is_none(),
            "32 is fine"
        );
    }

    #[test]
    fn operations_that_would_not_run_and_unused_fragments_are_measured() {
        let limits = OperationLimits::default();
        // The bomb in an operation the request does not choose.
        let bomb = fan_out(30).replacen("query{", "query B{", 1);
        let text = format!("query A {{ __typename }} {bomb}");
        assert!(size(&text).first_past(&limits).is_some());
        // The bomb in a fragment no operation spreads.
        let unused = fan_out(30).replacen("query{...F0}", "query A { __typename }", 1);
        let refused = size(&unused).first_past(&limits).unwrap();
        assert!(refused.contains("fields"), "{refused}");
        // Two operations within the limits each, over them together.
        let half: String = (0..1_200).map(|i| format!("f{i} ")).collect();
        let two = format!("query A {{ x {{ {half} }} }} query B {{ y {{ {half} }} }}");
        let refused = size(&two).first_past(&limits).unwrap();
        assert!(
            refused.contains("fields with fragments written out is 2402"),
            "{refused}"
        );
    }

    #[test]
    fn fields_sharing_a_response_key_are_counted_across_fragments() {
        let copies: String = (0..300)
            .map(|i| format!("inventory(skuIds: [\"{i}\"]) {{ available }} "))
            .collect();
        let s = size(&format!("{{ store {{ {copies} }} }}"));
        assert_eq!(s.same_key, 300);
        let refused = s.first_past(&OperationLimits::default()).unwrap();
        assert!(
            refused.contains("sharing one response key in one selection set is 300"),
            "{refused}"
        );
        // Spread through fragments and inline fragments, they add up.
        let s = size(
            "{ s { ...A ...B ... on S { id } id } } fragment A on S { id ...B } fragment B on S { id }",
        );
        assert_eq!(s.same_key, 5);
    }

    #[test]
    fn each_limit_refuses_with_what_was_counted() {
        let limits = OperationLimits::default();
        let aliases: String = (0..10_000).map(|i| format!("a{i}: __typename ")).collect();
        let msg = size(&format!("{{ {aliases} }}"))
            .first_past(&limits)
            .unwrap();
        assert!(msg.contains("aliases is 10000"), "{msg}");
        let deep = "{ a ".repeat(20) + &"}".repeat(20);
        assert!(
            size(&deep)
                .first_past(&limits)
                .unwrap()
                .contains("depth is 20")
        );
        let cyclic = size("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }");
        assert!(cyclic.first_past(&limits).unwrap().contains("unbounded"));
    }
}
