//! Bounded work per request: before an operation is validated or planned,
//! its size is measured against configurable limits, and one past them is
//! refused with `LIMIT_EXCEEDED`-style request errors. Fragments are never
//! expanded to measure: each fragment's size is computed once and reused
//! wherever it is spread, so a fragment that spreads the next twice, twenty
//! times over, is measured (and refused) in microseconds.

use std::collections::HashMap;

use graphql_tools::static_graphql::query::{Definition, Document, Selection, SelectionSet};

/// The limits, with their defaults: the platform's configuration type
/// (`gateway.limits.*`), one definition for both.
pub use kit::config::OperationLimits as Limits;

/// An operation's size as the limits count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    pub depth: u64,
    pub aliases: u64,
    pub root_fields: u64,
    pub fields: u64,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            root_fields: self.root_fields.saturating_add(other.root_fields),
            fields: self.fields.saturating_add(other.fields),
        }
    }
}

/// Measures the operation `name` (or the only one) of `document`.
pub fn measure(document: &Document, name: Option<&str>) -> Size {
    let fragments: HashMap<&str, &SelectionSet> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), &f.selection_set)),
            _ => None,
        })
        .collect();
    let mut measurer = Measurer {
        fragments,
        memo: HashMap::new(),
        top: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = Size::default();
    for def in &document.definitions {
        let Definition::Operation(op) = def else {
            continue;
        };
        let (op_name, set) = operation_parts(op);
        if name.is_some() && op_name != name {
            continue;
        }
        let mut size = measurer.set(set);
        size.root_fields = root_fields(&mut measurer, set);
        total = total.add(size);
    }
    total
}

fn operation_parts(
    op: &graphql_tools::static_graphql::query::OperationDefinition,
) -> (Option<&str>, &SelectionSet) {
    use graphql_tools::static_graphql::query::OperationDefinition as O;
    match op {
        O::SelectionSet(s) => (None, s),
        O::Query(q) => (q.name.as_deref(), &q.selection_set),
        O::Mutation(m) => (m.name.as_deref(), &m.selection_set),
        O::Subscription(s) => (s.name.as_deref(), &s.selection_set),
    }
}

/// Root fields, fragments at the root counted where spread (each
/// fragment's count made once).
fn root_fields<'d>(m: &mut Measurer<'d>, set: &'d SelectionSet) -> u64 {
    set.items.iter().fold(0u64, |n, item| {
        n.saturating_add(match item {
            Selection::Field(_) => 1,
            Selection::InlineFragment(f) => root_fields(m, &f.selection_set),
            Selection::FragmentSpread(s) => m.top_fields(s.fragment_name.as_str()),
        })
    })
}

struct Measurer<'d> {
    fragments: HashMap<&'d str, &'d SelectionSet>,
    memo: HashMap<&'d str, Size>,
    /// Each fragment's fields at its own top level, spreads written out.
    top: HashMap<&'d str, u64>,
    /// Fragments being measured: a cycle (refused by validation later)
    /// counts as unbounded here.
    visiting: Vec<&'d str>,
}

impl<'d> Measurer<'d> {
    fn set(&mut self, set: &'d SelectionSet) -> Size {
        let mut size = Size::default();
        for item in &set.items {
            let inner = match item {
                Selection::Field(field) => {
                    let below = self.set(&field.selection_set);
                    Size {
                        depth: if field.selection_set.items.is_empty() {
                            1
                        } else {
                            below.depth.saturating_add(1)
                        },
                        aliases: below
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        root_fields: 0,
                        fields: below.fields.saturating_add(1),
                    }
                }
                Selection::InlineFragment(f) => self.set(&f.selection_set),
                Selection::FragmentSpread(s) => self.fragment(s.fragment_name.as_str()),
            };
            size = size.add(inner);
        }
        size
    }

    fn top_fields(&mut self, name: &'d str) -> u64 {
        if let Some(n) = self.top.get(name) {
            return *n;
        }
        if self.visiting.contains(&name) {
            return u64::MAX;
        }
        let Some(set) = self.fragments.get(name).copied() else {
            return 0;
        };
        self.visiting.push(name);
        let n = root_fields(self, set);
        self.visiting.pop();
        self.top.insert(name, n);
        n
    }

    fn fragment(&mut self, name: &'d str) -> Size {
        if let Some(size) = self.memo.get(name) {
            return *size;
        }
        if self.visiting.contains(&name) {
            return Size {
                depth: u64::MAX,
                aliases: u64::MAX,
                root_fields: 0,
                fields: u64::MAX,
            };
        }
        let Some(set) = self.fragments.get(name).copied() else {
            return Size::default();
        };
        self.visiting.push(name);
        let size = self.set(set);
        self.visiting.pop();
        self.memo.insert(name, size);
        size
    }
}

impl Size {
    /// The first of `limits` this size passes, as a message; None when
    /// within all.
    pub fn first_past(self, limits: &Limits) -> Option<String> {
        let (size, limits) = (self, limits);
        let over = |what: &str, got: u64, max: u64| {
            (got > max).then(|| {
                let got = if got == u64::MAX {
                    "unbounded".to_owned()
                } else {
                    got.to_string()
                };
                format!("the operation's {what} is {got}; this gateway allows at most {max}")
            })
        };
        over("depth", size.depth, limits.max_depth)
            .or_else(|| over("number of aliases", size.aliases, limits.max_aliases))
            .or_else(|| {
                over(
                    "number of root fields",
                    size.root_fields,
                    limits.max_root_fields,
                )
            })
            .or_else(|| {
                over(
                    "number of fields with fragments written out",
                    size.fields,
                    limits.max_fields,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Size {
        let doc = graphql_tools::parser::parse_query::<String>(text)
            .unwrap()
            .into_static();
        measure(&doc, None)
    }

    /// `query{...F0} fragment F0 on Query{...F1 ...F1} … fragment Fn on
    /// Query{__typename}`: 2^n fields once written out.
    fn fan_out(levels: usize) -> String {
        let mut text = String::from("query{...F0}");
        for i in 0..levels {
            text.push_str(&format!(
                " fragment F{i} on Query{{...F{} ...F{}}}",
                i + 1,
                i + 1
            ));
        }
        text.push_str(&format!(" fragment F{levels} on Query{{__typename}}"));
        text
    }

    #[test]
    fn sizes_count_fragments_where_they_are_spread() {
        let s = size("{ a { b c: d { e } } f: g } ");
        assert_eq!(
            s,
            Size {
                depth: 3,
                aliases: 2,
                root_fields: 2,
                fields: 5
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
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        let refused = s.first_past(&Limits::default()).unwrap();
        assert!(refused.contains("fields"), "{refused}");
        assert!(
            size(&fan_out(5)).first_past(&Limits::default()).is_none(),
            "32 is fine"
        );
    }

    #[test]
    fn each_limit_refuses_with_what_was_counted() {
        let limits = Limits::default();
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
