//! The client's answer: the merged data written straight into the output
//! buffer, shaped by a projection plan made once per cached operation.
//!
//! The plan is the spec's field collection done ahead: for each selection
//! set and each runtime type it may meet, the fields to write in order,
//! with the same response name selected in several places (directly, in
//! inline fragments on an interface or a concrete type) merged into one
//! field whose sub-selections are merged too. `@skip`/`@include` on
//! variables stay as guards evaluated per request against the coerced
//! variables.
//!
//! Writing follows the spec's null propagation: a null where the schema
//! forbids it raises a field error at its path (unless an error already
//! explains it) and nulls the nearest nullable parent, whose bytes are
//! truncated and replaced by `null`. A value the API schema does not have
//! (an `@inaccessible` enum value, an object of an `@inaccessible` type) is
//! a field error, never data.

use std::collections::HashMap;

use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};
use serde_json::Value;

use crate::data::{Data, Part, Parts};
use crate::error::{GraphqlError, Seg};
use crate::json::write_str;
use crate::supergraph::{ApiSchema, FieldType};
use crate::variables::Coerced;

/// Guards a field is written under: any of the conjunctions holds. Empty:
/// always written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Guards(Vec<Vec<(String, bool)>>);

impl Guards {
    fn always() -> Self {
        Guards(Vec::new())
    }

    /// Whether the field is written with these variables.
    pub fn hold(&self, vars: &Coerced) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|all| {
                all.iter()
                    .all(|(var, want)| vars.get(var) == Some(&Value::Bool(*want)))
            })
    }
}

/// What a field writes.
#[derive(Debug, Clone)]
pub enum FieldKind {
    /// `__typename`: the runtime type's name.
    Typename,
    /// A scalar (or lists of them), copied as the subgraph wrote it.
    Leaf,
    /// An enum (or lists of them): its values checked against the API
    /// schema (an inaccessible or unknown value is a field error), then
    /// copied.
    Enum,
    /// An object (or lists of them), written by a selection plan.
    Composite(SetId),
    /// `__schema` / `__type`: answered from the introspection documents.
    Introspection(SetId),
}

/// One field of a collected selection.
#[derive(Debug, Clone)]
pub struct FieldPlan {
    /// The key the field has in subgraph answers (an alias the gateway
    /// made, or the field's name).
    pub response_key: String,
    /// The key the client asked for.
    pub client_key: String,
    /// `"client_key":`, ready to write.
    key_json: Box<[u8]>,
    pub name: String,
    pub ty: FieldType,
    pub kind: FieldKind,
    guards: Guards,
    /// The guards of earlier occurrences of the same response key: when one
    /// of them holds, the field was written there (field collection puts a
    /// field where it is first collected).
    earlier: Vec<Guards>,
}

impl FieldPlan {
    /// Whether this entry writes the field with these variables.
    fn written(&self, vars: &Coerced) -> bool {
        self.guards.hold(vars) && !self.earlier.iter().any(|g| g.hold(vars))
    }
}

/// A selection set's fields for each runtime type it may meet.
#[derive(Debug, Default)]
pub struct SetPlan {
    /// Runtime type → fields; one entry for an object type.
    by_type: Vec<(String, Vec<FieldPlan>)>,
    /// Lookups by response key instead of field name (false only inside
    /// introspection answers).
    by_field_name: bool,
}

pub type SetId = usize;

/// The projection plan of an operation.
#[derive(Debug)]
pub struct ProjectionPlan {
    sets: Vec<SetPlan>,
    pub root: SetId,
    pub root_type: String,
}

/// One occurrence of a selection set, under the guards of the fields and
/// fragments it was reached through.
type Occurrence<'o> = (Guards, &'o SelectionSet);

/// What a selection plan is made of: its occurrences (guards, and the
/// selection set's address), its static type, and whether it answers
/// introspection. Equal keys make the same plan.
type SetKey = (Vec<(Guards, usize)>, String, bool);

struct Builder<'a> {
    api: &'a ApiSchema,
    sets: Vec<SetPlan>,
    memo: HashMap<SetKey, SetId>,
}

impl ProjectionPlan {
    /// Collects the fields of `operation` (normalised: fragments inlined)
    /// for every runtime type.
    pub fn build(api: &ApiSchema, operation: &OperationDefinition, root_type: &str) -> Self {
        let mut b = Builder {
            api,
            sets: Vec::new(),
            memo: HashMap::new(),
        };
        let root = b.set(
            &[(Guards::always(), &operation.selection_set)],
            root_type,
            false,
        );
        Self {
            sets: b.sets,
            root,
            root_type: root_type.to_owned(),
        }
    }

    fn set(&self, id: SetId) -> &SetPlan {
        &self.sets[id]
    }
}

fn and(a: &Guards, b: &Guards) -> Guards {
    match (a.0.is_empty(), b.0.is_empty()) {
        (true, _) => b.clone(),
        (_, true) => a.clone(),
        _ => Guards(
            a.0.iter()
                .flat_map(|x| {
                    b.0.iter().map(move |y| {
                        let mut all = x.clone();
                        all.extend(y.iter().cloned());
                        all
                    })
                })
                .collect(),
        ),
    }
}

fn own_guards(skip_if: &Option<String>, include_if: &Option<String>) -> Guards {
    let mut all = Vec::new();
    if let Some(var) = skip_if {
        all.push((var.clone(), false));
    }
    if let Some(var) = include_if {
        all.push((var.clone(), true));
    }
    if all.is_empty() {
        Guards::always()
    } else {
        Guards(vec![all])
    }
}

impl Builder<'_> {
    /// The plan of the merged `occurrences` of a selection on
    /// `static_type`.
    fn set(
        &mut self,
        occurrences: &[Occurrence<'_>],
        static_type: &str,
        introspection: bool,
    ) -> SetId {
        let key = (
            occurrences
                .iter()
                .map(|(g, s)| (g.clone(), *s as *const SelectionSet as usize))
                .collect(),
            static_type.to_owned(),
            introspection,
        );
        if let Some(id) = self.memo.get(&key) {
            return *id;
        }
        let id = self.sets.len();
        self.sets.push(SetPlan::default());
        self.memo.insert(key, id);
        let runtime_types: Vec<String> = self
            .api
            .possible_types(static_type)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut by_type = Vec::with_capacity(runtime_types.len());
        for runtime in runtime_types {
            let fields = self.collect(occurrences, &runtime, static_type, introspection);
            by_type.push((runtime, fields));
        }
        self.sets[id] = SetPlan {
            by_type,
            by_field_name: introspection,
        };
        id
    }

    /// Field collection for one runtime type.
    fn collect(
        &mut self,
        occurrences: &[Occurrence<'_>],
        runtime: &str,
        static_type: &str,
        introspection: bool,
    ) -> Vec<FieldPlan> {
        // Response key → its occurrences; and every occurrence in order.
        let mut order: Vec<(String, usize)> = Vec::new();
        let mut seen: HashMap<String, Vec<(Guards, &FieldSelection)>> = HashMap::new();
        for (guards, set) in occurrences {
            self.gather(set, guards, runtime, &mut order, &mut seen);
        }
        let mut made: HashMap<String, FieldPlan> = HashMap::new();
        let mut out = Vec::with_capacity(order.len());
        for (key, index) in order {
            let found = &seen[&key];
            // A field goes where it is first collected: at this occurrence
            // if it holds and no earlier one did. Past an unconditional
            // occurrence there is nothing more to place.
            if found[..index].iter().any(|(g, _)| g.0.is_empty()) {
                continue;
            }
            let template = match made.get(&key) {
                Some(t) => t.clone(),
                None => {
                    let t = self.field_plan(&key, found, runtime, static_type, introspection);
                    made.insert(key.clone(), t.clone());
                    t
                }
            };
            out.push(FieldPlan {
                guards: found[index].0.clone(),
                earlier: found[..index].iter().map(|(g, _)| g.clone()).collect(),
                ..template
            });
        }
        out
    }

    /// A response key's plan, its sub-selections merged from every
    /// occurrence (guards are set by the caller).
    fn field_plan(
        &mut self,
        key: &str,
        found: &[(Guards, &FieldSelection)],
        runtime: &str,
        static_type: &str,
        introspection: bool,
    ) -> FieldPlan {
        let field = found[0].1;
        let client_key = crate::prepare::client_key(key).to_owned();
        let mut key_json = Vec::with_capacity(client_key.len() + 3);
        write_str(&mut key_json, &client_key);
        key_json.push(b':');
        if field.name == "__typename" {
            return FieldPlan {
                response_key: key.to_owned(),
                client_key,
                key_json: key_json.into(),
                name: field.name.clone(),
                ty: FieldType::Named {
                    name: "String".into(),
                    non_null: true,
                },
                kind: FieldKind::Typename,
                guards: Guards::always(),
                earlier: Vec::new(),
            };
        }
        let ty = self
            .api
            .field(runtime, &field.name)
            .or_else(|| self.api.field(static_type, &field.name))
            .cloned()
            .unwrap_or(FieldType::Named {
                name: "String".into(),
                non_null: false,
            });
        let named = ty.named().to_owned();
        let root_introspection =
            !introspection && (field.name == "__schema" || field.name == "__type");
        let kind = if self.api.kind(&named) == Some(crate::supergraph::TypeKind::Enum) {
            FieldKind::Enum
        } else if self.api.is_leaf(&named) || field.selections.items.is_empty() {
            FieldKind::Leaf
        } else {
            // Children carry their parent occurrence's guards, so a child
            // reached only through a skipped occurrence is skipped with it.
            let children: Vec<Occurrence<'_>> = found
                .iter()
                .map(|(g, f)| (g.clone(), &f.selections))
                .collect();
            let child = self.set(&children, &named, introspection || root_introspection);
            if root_introspection {
                FieldKind::Introspection(child)
            } else {
                FieldKind::Composite(child)
            }
        };
        FieldPlan {
            response_key: key.to_owned(),
            client_key,
            key_json: key_json.into(),
            name: field.name.clone(),
            ty,
            kind,
            guards: Guards::always(),
            earlier: Vec::new(),
        }
    }

    fn gather<'s>(
        &self,
        set: &'s SelectionSet,
        guards: &Guards,
        runtime: &str,
        order: &mut Vec<(String, usize)>,
        seen: &mut HashMap<String, Vec<(Guards, &'s FieldSelection)>>,
    ) {
        for item in &set.items {
            match item {
                SelectionItem::Field(field) => {
                    if field.omit_from_response {
                        continue;
                    }
                    let g = and(guards, &own_guards(&field.skip_if, &field.include_if));
                    let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
                    let entry = seen.entry(key.clone()).or_default();
                    order.push((key, entry.len()));
                    entry.push((g, field));
                }
                SelectionItem::InlineFragment(fragment) => {
                    if self.api.matches(&fragment.type_condition, runtime) {
                        let g = and(guards, &own_guards(&fragment.skip_if, &fragment.include_if));
                        self.gather(&fragment.selections, &g, runtime, order, seen);
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
    }
}

/// A non-null position found null: the nearest nullable parent becomes
/// null.
pub struct Null;

/// A fetch that failed: its error, written at the path of each field it
/// would have provided that came back null.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: GraphqlError,
    /// The response keys the fetch would have provided at its positions.
    pub keys: Vec<String>,
}

/// Where fetches failed, by the object they were to extend.
#[derive(Debug, Default)]
pub struct Failures {
    pub all: Vec<Failure>,
    pub at: HashMap<Part, Vec<usize>, ahash::RandomState>,
}

impl Failures {
    pub fn record(&mut self, anchors: impl IntoIterator<Item = Part>, failure: Failure) {
        let i = self.all.len();
        self.all.push(failure);
        for anchor in anchors {
            self.at.entry(anchor).or_default().push(i);
        }
    }

    fn covering(&self, parts: &[Part], key: &str) -> Option<&Failure> {
        parts.iter().find_map(|p| {
            self.at.get(p)?.iter().find_map(|i| {
                let f = &self.all[*i];
                f.keys.iter().any(|k| k == key).then_some(f)
            })
        })
    }
}

/// One request's writer.
pub struct Writer<'a> {
    pub api: &'a ApiSchema,
    pub plan: &'a ProjectionPlan,
    pub data: &'a Data,
    pub vars: &'a Coerced,
    pub failures: &'a Failures,
    /// Errors so far: subgraphs' and the executor's first (`known`), then
    /// the projection's.
    pub errors: Vec<GraphqlError>,
    known: usize,
    out: Vec<u8>,
    path: Vec<Seg<'a>>,
}

impl<'a> Writer<'a> {
    pub fn new(
        api: &'a ApiSchema,
        plan: &'a ProjectionPlan,
        data: &'a Data,
        vars: &'a Coerced,
        failures: &'a Failures,
        errors: Vec<GraphqlError>,
        capacity: usize,
    ) -> Self {
        let known = errors.len();
        Self {
            api,
            plan,
            data,
            vars,
            failures,
            errors,
            known,
            out: Vec::with_capacity(capacity),
            path: Vec::new(),
        }
    }

    /// Writes the response: `{"data":…}` when there are no errors, the
    /// data written straight into its buffer; with errors,
    /// `{"errors":[…],"data":…}`. `data` is an object, or `null` when a
    /// non-null root field is null.
    pub fn finish(mut self) -> (Vec<u8>, Vec<GraphqlError>) {
        const PREFIX: &[u8] = br#"{"data":"#;
        self.out.extend_from_slice(PREFIX);
        let mut root = self.data.root();
        root.push(Part::ROOT);
        let root_type = self.plan.root_type.clone();
        if self
            .object(self.plan.root, &root, &root_type, true)
            .is_err()
        {
            self.out.truncate(PREFIX.len());
            self.out.extend_from_slice(b"null");
        }
        if self.errors.is_empty() {
            self.out.push(b'}');
            return (self.out, self.errors);
        }
        // Errors first (the spec's advice): the one case that copies.
        let mut body = Vec::with_capacity(self.out.len() + 256 * self.errors.len());
        body.extend_from_slice(br#"{"errors":["#);
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            e.write(&mut body);
        }
        body.extend_from_slice(br#"],"data":"#);
        body.extend_from_slice(&self.out[PREFIX.len()..]);
        body.push(b'}');
        (body, self.errors)
    }

    /// A known error explains a null here: one without a path, or one at,
    /// above or below this path.
    fn explained(&self) -> bool {
        self.errors[..self.known].iter().any(|e| match &e.path {
            None => true,
            Some(p) => p.iter().zip(&self.path).all(|(a, b)| b.same(a)),
        })
    }

    fn null_here(&mut self, ty: &FieldType) {
        if !self.explained() {
            self.errors.push(GraphqlError::field(
                format!("Cannot return null for non-nullable type {}", ty.display()),
                Seg::owned(&self.path),
            ));
        }
    }

    fn object(
        &mut self,
        set: SetId,
        parts: &[Part],
        static_type: &str,
        root: bool,
    ) -> Result<(), Null> {
        let plan = self.plan.set(set);
        let fields = if plan.by_type.len() == 1 {
            &plan.by_type[0]
        } else {
            let typename = self.data.typename(parts);
            match typename
                .as_deref()
                .and_then(|t| plan.by_type.iter().find(|(name, _)| name == t))
            {
                Some(fields) => fields,
                None => {
                    let message = match typename {
                        Some(t) => format!(
                            "an object of type \"{t}\" is not one the graph has for {static_type}"
                        ),
                        None => format!(
                            "no __typename for an object of the abstract type {static_type}"
                        ),
                    };
                    self.errors
                        .push(GraphqlError::field(message, Seg::owned(&self.path)));
                    return Err(Null);
                }
            }
        };
        let (runtime, fields) = (fields.0.as_str(), &fields.1);
        let by_field_name = plan.by_field_name;
        self.out.push(b'{');
        let mut first = true;
        for field in fields.iter() {
            if !field.written(self.vars) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.out.extend_from_slice(&field.key_json);
            self.path.push(Seg::Key(&field.client_key));
            let written = self.field(field, parts, runtime, by_field_name, root);
            self.path.pop();
            written?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn field(
        &mut self,
        field: &FieldPlan,
        parts: &[Part],
        runtime: &str,
        by_field_name: bool,
        root: bool,
    ) -> Result<(), Null> {
        match &field.kind {
            FieldKind::Typename => {
                write_str(&mut self.out, runtime);
                Ok(())
            }
            FieldKind::Introspection(set) => self.introspection(field, *set),
            _ => {
                let key = if by_field_name {
                    &field.name
                } else {
                    &field.response_key
                };
                let found = self.data.lookup(parts, key, &field.name);
                if !found.present
                    && let Some(failure) = self.failures.covering(parts, &field.response_key)
                {
                    self.fail_here(failure, root);
                }
                self.value(&field.ty, &field.kind, &found.values)
            }
        }
    }

    /// A failed fetch's error at this field.
    fn fail_here(&mut self, failure: &Failure, _root: bool) {
        let here = &self.path;
        let said = self.errors.iter().any(|e| {
            e.message == failure.error.message
                && e.path.as_ref().is_some_and(|p| {
                    p.len() == here.len() && p.iter().zip(here).all(|(a, b)| b.same(a))
                })
        });
        if !said {
            self.errors
                .push(failure.error.clone().at(Seg::owned(&self.path)));
            // It explains the null below: count it among the known.
            let last = self.errors.len() - 1;
            self.errors.swap(self.known, last);
            self.known += 1;
        }
    }

    /// Writes a value of type `ty` from the merged `values` (non-missing
    /// values of the key in each part).
    fn value(&mut self, ty: &FieldType, kind: &FieldKind, values: &[Part]) -> Result<(), Null> {
        let start = self.out.len();
        let written = self.value_inner(ty, kind, values);
        match written {
            Ok(()) => Ok(()),
            Err(Null) => {
                self.out.truncate(start);
                if ty.non_null() {
                    Err(Null)
                } else {
                    self.out.extend_from_slice(b"null");
                    Ok(())
                }
            }
        }
    }

    fn value_inner(
        &mut self,
        ty: &FieldType,
        kind: &FieldKind,
        values: &[Part],
    ) -> Result<(), Null> {
        if values.is_empty() {
            if ty.non_null() {
                self.null_here(ty);
                return Err(Null);
            }
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        match ty {
            FieldType::List { item, .. } => {
                let (_, lists) = self.data.classify(values);
                if lists.is_empty() {
                    self.errors.push(GraphqlError::field(
                        format!("expected a list for {}", ty.display()),
                        Seg::owned(&self.path),
                    ));
                    return Err(Null);
                }
                let (len, sources) = self.data.list_sources(&lists);
                self.out.push(b'[');
                for i in 0..len {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    let item_values = self.data.list_item(sources, i);
                    self.path.push(Seg::Index(i as u32));
                    let written = self.value(item, kind, &item_values);
                    self.path.pop();
                    written?;
                }
                self.out.push(b']');
                Ok(())
            }
            FieldType::Named { name, .. } => match kind {
                FieldKind::Composite(set) | FieldKind::Introspection(set) => {
                    let (mut objects, _) = self.data.classify(values);
                    if objects.is_empty() {
                        self.errors.push(GraphqlError::field(
                            format!("expected an object of type {name}"),
                            Seg::owned(&self.path),
                        ));
                        return Err(Null);
                    }
                    self.data.expand(&mut objects);
                    self.object(*set, &objects, name, false)
                }
                _ => {
                    let last = *values.last().expect("not empty");
                    let doc = self.data.doc(last);
                    if matches!(kind, FieldKind::Enum) {
                        let value = doc.str(last.node);
                        if !value.as_deref().is_some_and(|v| self.api.enum_has(name, v)) {
                            self.errors.push(GraphqlError::field(
                                format!(
                                    "Enum \"{name}\" cannot represent value {}",
                                    String::from_utf8_lossy(doc.raw(last.node))
                                ),
                                Seg::owned(&self.path),
                            ));
                            return Err(Null);
                        }
                    }
                    doc.write(last.node, &mut self.out);
                    Ok(())
                }
            },
        }
    }

    /// `__schema` / `__type(name:)` from the introspection answers.
    fn introspection(&mut self, field: &FieldPlan, set: SetId) -> Result<(), Null> {
        let found = self
            .data
            .introspection_root(field.name.as_str(), &field.response_key);
        match found {
            Some(part) => {
                let mut parts = Parts::new();
                parts.push(part);
                let start = self.out.len();
                match self.object(set, &parts, field.ty.named(), false) {
                    Ok(()) => Ok(()),
                    Err(Null) => {
                        self.out.truncate(start);
                        if field.ty.non_null() {
                            Err(Null)
                        } else {
                            self.out.extend_from_slice(b"null");
                            Ok(())
                        }
                    }
                }
            }
            None => {
                if field.ty.non_null() {
                    self.null_here(&field.ty);
                    return Err(Null);
                }
                self.out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::data::Part;
    use crate::json::Doc;
    use crate::prepare::{PrepareSettings, Preparer};
    use crate::supergraph::Supergraph;

    const SUPERGRAPH: &str = include_str!("../tests/conformance/fixtures/supergraph.graphql");

    /// The client's answer to `query` with `vars` sent, when the root
    /// fetches answered `roots` (each a subgraph's `data`).
    async fn answer(query: &str, vars: Value, roots: &[Value]) -> Value {
        let supergraph = Arc::new(Supergraph::load(SUPERGRAPH, &Default::default()).unwrap());
        let preparer = Arc::new(Preparer::new(4, PrepareSettings::default()));
        let prepared = preparer
            .prepare(&supergraph, query, None)
            .await
            .unwrap_or_else(|r| panic!("{r:?}"));
        let vars = crate::variables::coerce(
            &supergraph.api,
            &prepared.variables,
            vars.as_object().unwrap(),
        )
        .unwrap();
        let mut data = Data::default();
        for root in roots {
            let text = json!({ "data": root }).to_string();
            let doc = Arc::new(Doc::parse(Bytes::from(text)).unwrap());
            let node = doc.get(doc.root(), "data").unwrap();
            let index = data.add(doc, false);
            data.add_root(Part { doc: index, node });
        }
        let failures = Failures::default();
        let (body, _) = Writer::new(
            &supergraph.api,
            &prepared.projection,
            &data,
            &vars,
            &failures,
            Vec::new(),
            64,
        )
        .finish();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn fields_come_in_the_clients_order_merged_by_response_name() {
        let a = answer(
            "{ me { name ... on User { id name } ...F } } fragment F on User { username id }",
            json!({}),
            &[json!({ "me": { "username": "ada", "id": "u1", "name": "Ada" } })],
        )
        .await;
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"data":{"me":{"name":"Ada","id":"u1","username":"ada"}}}"#
        );
    }

    #[tokio::test]
    async fn internal_alias_keys_are_written_as_the_clients() {
        let a = answer(
            "{ me { n: name id: username } }",
            json!({}),
            &[json!({ "me": { "_bm_alias__n": "Ada", "_bm_alias__id": "ada" } })],
        )
        .await;
        assert_eq!(a, json!({ "data": { "me": { "n": "Ada", "id": "ada" } } }));
    }

    #[tokio::test]
    async fn a_null_in_a_non_null_field_nulls_the_nearest_nullable_parent() {
        // [Product!]! of Int!: up to data itself.
        let a = answer(
            "{ topProducts { name price } }",
            json!({}),
            &[json!({ "topProducts": [{ "name": "Dune", "price": 1 }, { "name": "X", "price": null }] })],
        )
        .await;
        assert_eq!(
            a,
            json!({ "errors": [{ "message": "Cannot return null for non-nullable type Int!", "path": ["topProducts", 1, "price"] }], "data": null })
        );
        // [[Product]]!: only the item.
        let a = answer(
            "{ aisles { sku } }",
            json!({}),
            &[json!({ "aisles": [[{ "sku": "S1" }, { "sku": null }], []] })],
        )
        .await;
        assert_eq!(
            a,
            json!({ "errors": [{ "message": "Cannot return null for non-nullable type String!", "path": ["aisles", 0, 1, "sku"] }], "data": { "aisles": [[{ "sku": "S1" }, null], []] } })
        );
    }

    #[tokio::test]
    async fn guards_read_the_coerced_variables() {
        let q = "query($w: Boolean = false) { me { name @include(if: $w) id @skip(if: $w) } }";
        let root = json!({ "me": { "name": "Ada", "id": "u1" } });
        assert_eq!(
            answer(q, json!({}), std::slice::from_ref(&root)).await,
            json!({ "data": { "me": { "id": "u1" } } })
        );
        assert_eq!(
            answer(q, json!({ "w": true }), &[root]).await,
            json!({ "data": { "me": { "name": "Ada" } } })
        );
    }

    #[tokio::test]
    async fn values_the_api_does_not_have_are_field_errors() {
        let a = answer(
            "{ bestsellerCategory pick(id: \"p1\") { __typename } }",
            json!({}),
            &[json!({ "bestsellerCategory": "MUSIC", "pick": { "__typename": "Podcast" } })],
        )
        .await;
        assert_eq!(
            a["data"],
            json!({ "bestsellerCategory": null, "pick": null })
        );
        let paths: Vec<&Value> = a["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["path"])
            .collect();
        assert_eq!(paths, [&json!(["bestsellerCategory"]), &json!(["pick"])]);
    }

    #[test]
    fn guards_hold_when_any_occurrence_holds() {
        let vars: Coerced = serde_json::from_value(json!({ "a": true, "b": false })).unwrap();
        let g = |alts: &[&[(&str, bool)]]| {
            Guards(
                alts.iter()
                    .map(|all| all.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect())
                    .collect(),
            )
        };
        assert!(g(&[]).hold(&vars), "no guard: always");
        assert!(g(&[&[("a", true)]]).hold(&vars));
        assert!(
            !g(&[&[("a", true), ("b", true)]]).hold(&vars),
            "all of one occurrence"
        );
        assert!(
            g(&[&[("b", true)], &[("a", true)]]).hold(&vars),
            "any occurrence"
        );
        assert!(
            !g(&[&[("c", true)]]).hold(&vars),
            "an unknown variable holds nothing"
        );
    }
}
