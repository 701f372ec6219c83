//! The merged data of one request, without merging anything: every
//! subgraph answer stays the immutable [`Doc`] it was parsed into (shared
//! with any identical request in flight), and an entity fetch's answer is
//! attached to the object it extends as an extra *part* of it. An object in
//! the response is therefore a list of parts; a field is looked up in each
//! of them. Nothing is copied until the projection writes the client's
//! answer.
//!
//! The merge rules, as deep merging would have them: objects found under
//! one key in several parts are one object of all those parts; lists of
//! equal length merge item by item (otherwise the last wins); for any other
//! value the last non-null one wins.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::Seg;
use crate::json::{Doc, Kind, NodeId};
use crate::supergraph::ApiSchema;
use hive_router_query_planner::planner::plan_nodes::FlattenNodePathSegment;

/// One node of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    pub doc: u32,
    pub node: NodeId,
}

impl Part {
    /// The data root, before any fetch answered: where root fetch failures
    /// are recorded.
    pub const ROOT: Part = Part {
        doc: u32::MAX,
        node: u32::MAX,
    };
}

/// The parts of one object position.
pub type Parts = SmallVec<[Part; 2]>;

/// What one key holds across the parts of an object: its non-null values,
/// in part order.
#[derive(Debug, Default)]
pub struct Found {
    pub values: Parts,
    /// Some part holds the key (possibly null).
    pub present: bool,
}

impl Found {
    pub fn is_null(&self) -> bool {
        self.values.is_empty()
    }

    /// The value a leaf takes: the last non-null one.
    pub fn last(&self) -> Option<Part> {
        self.values.last().copied()
    }
}

/// The merged data of a request.
#[derive(Default)]
pub struct Data {
    docs: Vec<Arc<Doc>>,
    /// Documents keyed by field name rather than response key (the
    /// introspection answers).
    by_field_name: Vec<bool>,
    /// The data objects of the root fetches.
    roots: Parts,
    /// Root `__schema` / `__type` answers, by response key.
    introspection: Vec<(String, Option<Part>)>,
    /// Entity answers attached to the object they extend.
    extras: HashMap<Part, Parts, ahash::RandomState>,
    /// Per document, a bit per node: whether anything is attached to it
    /// (so most objects need no map lookup).
    attached: Vec<Vec<u64>>,
}

impl Data {
    /// Adds a document; its index for [`Part`]s.
    pub fn add(&mut self, doc: Arc<Doc>, by_field_name: bool) -> u32 {
        self.docs.push(doc);
        self.by_field_name.push(by_field_name);
        self.attached.push(Vec::new());
        (self.docs.len() - 1) as u32
    }

    pub fn doc(&self, part: Part) -> &Doc {
        &self.docs[part.doc as usize]
    }

    /// Adds a root fetch's data object.
    pub fn add_root(&mut self, part: Part) {
        self.roots.push(part);
    }

    /// Sets the answer of a root `__schema` / `__type` field.
    pub fn set_introspection(&mut self, response_key: &str, answer: Option<Part>) {
        self.introspection.push((response_key.to_owned(), answer));
    }

    /// The answer of a root introspection field.
    pub fn introspection_root(&self, _field: &str, response_key: &str) -> Option<Part> {
        self.introspection
            .iter()
            .find(|(k, _)| k == response_key)
            .and_then(|(_, p)| *p)
    }

    /// Attaches `extra` to the object at `anchor`.
    pub fn attach(&mut self, anchor: Part, extra: Part) {
        if let Some(bits) = self.attached.get_mut(anchor.doc as usize) {
            let (word, bit) = (anchor.node as usize / 64, anchor.node % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1 << bit;
        }
        self.extras.entry(anchor).or_default().push(extra);
    }

    fn has_extras(&self, part: Part) -> bool {
        self.attached
            .get(part.doc as usize)
            .and_then(|bits| bits.get(part.node as usize / 64))
            .is_some_and(|word| word & (1 << (part.node % 64)) != 0)
    }

    /// The root object's parts.
    pub fn root(&self) -> Parts {
        let mut parts = self.roots.clone();
        self.expand(&mut parts);
        parts
    }

    /// Appends every part attached to `parts` (and to those, and so on).
    pub fn expand(&self, parts: &mut Parts) {
        if self.extras.is_empty() {
            return;
        }
        let mut i = 0;
        while i < parts.len() {
            let part = parts[i];
            if self.has_extras(part)
                && let Some(extra) = self.extras.get(&part)
            {
                parts.extend(extra.iter().copied());
            }
            i += 1;
        }
    }

    /// What `key` holds across `parts` (`field` is the field's name, which
    /// documents keyed by field name use).
    pub fn lookup(&self, parts: &[Part], key: &str, field: &str) -> Found {
        let mut found = Found::default();
        for part in parts {
            if *part == Part::ROOT {
                continue;
            }
            let doc = self.doc(*part);
            let key = if self.by_field_name[part.doc as usize] {
                field
            } else {
                key
            };
            let Some(node) = doc.get(part.node, key) else {
                continue;
            };
            found.present = true;
            if !doc.is_null(node) {
                found.values.push(Part {
                    doc: part.doc,
                    node,
                });
            }
        }
        found
    }

    pub fn kind(&self, part: Part) -> Kind {
        self.doc(part).kind(part.node)
    }

    /// The runtime type named by the last non-null `__typename` of the
    /// parts.
    pub fn typename(&self, parts: &[Part]) -> Option<Cow<'_, str>> {
        let part = self.lookup(parts, "__typename", "__typename").last()?;
        self.doc(part).str(part.node)
    }

    /// How many items the merged list of `lists` has, and which of them
    /// merge item by item: all when they have one length, else the last.
    pub fn list_sources<'l>(&self, lists: &'l [Part]) -> (usize, &'l [Part]) {
        let Some(last) = lists.last() else {
            return (0, lists);
        };
        let len = self.doc(*last).items(last.node).len();
        let same = lists
            .iter()
            .all(|l| self.doc(*l).items(l.node).len() == len);
        if same {
            (len, lists)
        } else {
            (len, std::slice::from_ref(last))
        }
    }

    /// Item `i` of the merged list from `sources` (non-null values only).
    pub fn list_item(&self, sources: &[Part], i: usize) -> Parts {
        sources
            .iter()
            .filter_map(|l| {
                let node = self.doc(*l).items(l.node)[i];
                let p = Part { doc: l.doc, node };
                (!self.doc(p).is_null(node)).then_some(p)
            })
            .collect()
    }

    /// The merged list of `lists` (parts that are arrays): item by item
    /// when all have one length, else the last.
    pub fn list_items(&self, lists: &[Part]) -> Vec<Parts> {
        let (len, sources) = self.list_sources(lists);
        (0..len).map(|i| self.list_item(sources, i)).collect()
    }

    /// Splits merged values into objects and lists (nulls dropped).
    pub fn classify(&self, values: &[Part]) -> (Parts, Parts) {
        let mut objects = Parts::new();
        let mut lists = Parts::new();
        for v in values {
            match self.kind(*v) {
                Kind::Object => objects.push(*v),
                Kind::Array => lists.push(*v),
                _ => {}
            }
        }
        (objects, lists)
    }

    /// The objects at a flatten path (`products.@.reviews.@`, type
    /// conditions included), each with its parts and response path.
    pub fn targets<'p>(
        &self,
        api: &ApiSchema,
        path: &'p [FlattenNodePathSegment],
    ) -> Vec<Target<'p>> {
        let mut out = Vec::new();
        let root = self.root();
        if !root.is_empty() {
            self.walk(api, Walk::Objects(root), path, &mut Vec::new(), &mut out);
        }
        out
    }

    fn walk<'p>(
        &self,
        api: &ApiSchema,
        at: Walk,
        path: &'p [FlattenNodePathSegment],
        response_path: &mut Vec<Seg<'p>>,
        out: &mut Vec<Target<'p>>,
    ) {
        match (at, path.first()) {
            (Walk::Lists(lists), _) => {
                // A list where the path goes on: every item (the `@`).
                let rest = match path.first() {
                    Some(FlattenNodePathSegment::List) => &path[1..],
                    _ => path,
                };
                let (len, sources) = self.list_sources(&lists);
                for i in 0..len {
                    let item = self.list_item(sources, i);
                    let (objects, lists) = self.classify(&item);
                    response_path.push(Seg::Index(i as u32));
                    if !lists.is_empty() && objects.is_empty() {
                        self.walk(api, Walk::Lists(lists), rest, response_path, out);
                    } else if !objects.is_empty() {
                        let mut parts = objects;
                        self.expand(&mut parts);
                        self.walk(api, Walk::Objects(parts), rest, response_path, out);
                    }
                    response_path.pop();
                }
            }
            (Walk::Objects(parts), None) => out.push(Target {
                anchor: parts[0],
                parts,
                path: response_path.iter().copied().collect(),
            }),
            (Walk::Objects(parts), Some(FlattenNodePathSegment::Field(key))) => {
                let found = self.lookup(&parts, key, key);
                let (mut objects, lists) = self.classify(&found.values);
                response_path.push(Seg::Key(key));
                if !objects.is_empty() {
                    self.expand(&mut objects);
                    self.walk(api, Walk::Objects(objects), &path[1..], response_path, out);
                } else if !lists.is_empty() {
                    self.walk(api, Walk::Lists(lists), &path[1..], response_path, out);
                }
                response_path.pop();
            }
            (Walk::Objects(parts), Some(FlattenNodePathSegment::TypeCondition(types))) => {
                // Without a __typename the object is of the one type its
                // field has: the planner asks for __typename wherever more
                // than one is possible.
                let holds = self
                    .typename(&parts)
                    .is_none_or(|t| types.iter().any(|c| api.matches(c, &t)));
                if holds {
                    self.walk(api, Walk::Objects(parts), &path[1..], response_path, out);
                }
            }
            // `@` on an object: nothing to iterate.
            (Walk::Objects(_), Some(FlattenNodePathSegment::List)) => {}
        }
    }
}

enum Walk {
    Objects(Parts),
    Lists(Parts),
}

/// An object an entity fetch extends.
#[derive(Debug, Clone)]
pub struct Target<'p> {
    /// The part its answer is attached to.
    pub anchor: Part,
    /// All its parts so far.
    pub parts: Parts,
    /// Where it sits in the response.
    pub path: SmallVec<[Seg<'p>; 6]>,
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::PathSeg;

    fn doc(text: &str) -> Arc<Doc> {
        Arc::new(Doc::parse(Bytes::copy_from_slice(text.as_bytes())).unwrap())
    }

    fn api() -> ApiSchema {
        ApiSchema::default()
    }

    #[test]
    fn an_entity_answer_extends_every_position_it_is_attached_to() {
        let mut data = Data::default();
        let root_doc = doc(r#"{"products":[{"upc":"1"},{"upc":"2"},{"upc":"1"}]}"#);
        let r = data.add(root_doc.clone(), false);
        data.add_root(Part {
            doc: r,
            node: root_doc.root(),
        });
        let path = [
            FlattenNodePathSegment::Field("products".into()),
            FlattenNodePathSegment::List,
        ];
        let targets = data.targets(&api(), &path);
        assert_eq!(targets.len(), 3);
        assert_eq!(
            Seg::owned(&targets[2].path),
            [PathSeg::Key("products".into()), PathSeg::Index(2)]
        );
        let answer = doc(r#"{"_entities":[{"name":"Dune"},{"name":"Solaris"}]}"#);
        let a = data.add(answer.clone(), false);
        let entities = answer.items(answer.get(answer.root(), "_entities").unwrap());
        // Deduplicated: upc 1 is asked once and extends positions 0 and 2.
        for (target, rep) in targets.iter().zip([0usize, 1, 0]) {
            data.attach(
                target.anchor,
                Part {
                    doc: a,
                    node: entities[rep],
                },
            );
        }
        let name = |i: usize| {
            let mut parts = data.targets(&api(), &path)[i].parts.clone();
            data.expand(&mut parts);
            let found = data.lookup(&parts, "name", "name");
            let p = found.last().unwrap();
            data.doc(p).str(p.node).unwrap().into_owned()
        };
        assert_eq!(
            (name(0), name(1), name(2)),
            ("Dune".into(), "Solaris".into(), "Dune".into())
        );
    }

    #[test]
    fn merging_follows_the_deep_merge_rules() {
        let mut data = Data::default();
        let a = doc(r#"{"x":{"a":1},"l":[{"p":1},{"p":2}],"s":"first","n":"kept"}"#);
        let b = doc(r#"{"x":{"b":2},"l":[{"q":1},{"q":2}],"s":"second","n":null}"#);
        let ia = data.add(a.clone(), false);
        let ib = data.add(b.clone(), false);
        let parts: Parts = [
            Part {
                doc: ia,
                node: a.root(),
            },
            Part {
                doc: ib,
                node: b.root(),
            },
        ]
        .into_iter()
        .collect();
        assert_eq!(
            data.lookup(&parts, "x", "x").values.len(),
            2,
            "one object of two parts"
        );
        let s = data.lookup(&parts, "s", "s").last().unwrap();
        assert_eq!(data.doc(s).str(s.node).unwrap(), "second", "the last wins");
        let n = data.lookup(&parts, "n", "n").last().unwrap();
        assert_eq!(
            data.doc(n).str(n.node).unwrap(),
            "kept",
            "null does not win"
        );
        let items = data.list_items(&data.lookup(&parts, "l", "l").values);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].len(), 2, "item by item");
        assert!(!data.lookup(&parts, "missing", "missing").present);
    }
}
