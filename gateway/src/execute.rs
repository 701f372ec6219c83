//! Runs a query plan: Fetch, BatchFetch, Sequence, Parallel, Flatten and
//! Condition nodes. A root fetch's answer becomes a root part of the data;
//! an entity fetch sends one representation per distinct entity (built from
//! the fetch's `requires`, with its input rewrites; an entity whose key
//! fields are missing or null, or whose type the subgraph cannot resolve,
//! is not sent) and attaches each answer to every position it extends. A
//! subgraph's errors are re-pathed to the client's paths; a fetch that
//! fails is recorded against the positions it was to fill, so only the
//! fields it owns come back null, each with the failure's error at its
//! path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::{BoxFuture, join_all};
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::planner::plan_nodes::{
    BatchFetchNode, FetchNode, FetchNodePathSegment, FetchRewrite, FlattenNodePath, PlanNode,
};
use hive_router_query_planner::state::supergraph_state::OperationKind;
use http::HeaderMap;
use kit::ErrorCode;
use serde_json::Value;
use smallvec::SmallVec;

use crate::data::{Data, Part, Parts, Target};
use crate::error::{GraphqlError, PathSeg, Seg};
use crate::json::{Doc, Kind, NodeId, write_str};
use crate::prepare::{FetchInfo, Prepared};
use crate::projection::{Failure, Failures};
use crate::subgraph::{FetchError, Subgraphs};
use crate::supergraph::{ApiSchema, Supergraph};
use crate::variables::Coerced;

/// What a plan's execution leaves for the projection.
#[derive(Default)]
pub struct Outcome {
    pub data: Data,
    pub errors: Vec<GraphqlError>,
    pub failures: Failures,
    /// A mutation's non-null root field came back null: the answer's data
    /// is null, and the mutation fields after it are not run (as graphql-js
    /// stops its serial execution), so no write happens that the client
    /// cannot see.
    pub stopped: bool,
    /// Subgraph response headers for the client (`gateway.headers.respond`),
    /// each distinct one once, in the order they came.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// One plan's execution.
pub struct Execution<'a> {
    pub supergraph: &'a Supergraph,
    pub prepared: &'a Prepared,
    pub subgraphs: &'a Subgraphs,
    pub vars: &'a Coerced,
    /// Headers forwarded to every subgraph (credentials, trace context).
    pub forwarded: &'a HeaderMap,
    /// Whether fetches may be shared with identical ones in flight: never
    /// for a mutation's plan.
    pub shareable: bool,
    state: Mutex<Outcome>,
}

impl<'a> Execution<'a> {
    pub fn new(
        supergraph: &'a Supergraph,
        prepared: &'a Prepared,
        subgraphs: &'a Subgraphs,
        vars: &'a Coerced,
        forwarded: &'a HeaderMap,
        shareable: bool,
    ) -> Self {
        Self {
            supergraph,
            prepared,
            subgraphs,
            vars,
            forwarded,
            shareable,
            state: Mutex::new(Outcome::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Outcome> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The data, errors and failures once the plan has run.
    pub fn finish(self) -> Outcome {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a document that is not a subgraph's (introspection answers).
    pub fn add_document(&self, doc: Arc<Doc>, by_field_name: bool) -> u32 {
        self.state().data.add(doc, by_field_name)
    }

    pub fn set_introspection(&self, response_key: &str, answer: Option<Part>) {
        self.state().data.set_introspection(response_key, answer);
    }

    pub fn run<'n>(&'n self, node: &'n PlanNode) -> BoxFuture<'n, ()> {
        async move {
            match node {
                PlanNode::Fetch(fetch) => self.root_fetch(fetch).await,
                PlanNode::Flatten(flatten) => match flatten.node.as_ref() {
                    PlanNode::Fetch(fetch) if fetch.requires.is_some() => {
                        self.entity_fetch(&flatten.path, fetch).await
                    }
                    other => self.run(other).await,
                },
                PlanNode::BatchFetch(batch) => self.batch_fetch(batch).await,
                PlanNode::Sequence(seq) => {
                    for n in &seq.nodes {
                        if self.state().stopped {
                            break;
                        }
                        self.run(n).await;
                    }
                }
                PlanNode::Parallel(par) => {
                    join_all(par.nodes.iter().map(|n| self.run(n))).await;
                }
                PlanNode::Condition(cond) => {
                    let yes = self.vars.get(&cond.condition) == Some(&Value::Bool(true));
                    let branch = if yes {
                        &cond.if_clause
                    } else {
                        &cond.else_clause
                    };
                    if let Some(n) = branch {
                        self.run(n).await;
                    }
                }
                // Refused before planning; a plan never has them here.
                PlanNode::Subscription(_) | PlanNode::Defer(_) => {
                    self.state().errors.push(GraphqlError::new(
                        ErrorCode::GraphqlValidationFailed,
                        "subscriptions and @defer are not served",
                    ));
                }
            }
        }
        .boxed()
    }

    fn info(&self, id: i64) -> &FetchInfo {
        &self.prepared.fetches[&id]
    }

    /// The request body: the operation, the variables it uses, and the
    /// representations (under their variable names).
    fn body(
        &self,
        info: &FetchInfo,
        usages: Option<&std::collections::BTreeSet<String>>,
        reps: &[(&str, &[Vec<u8>])],
    ) -> Bytes {
        let size: usize = reps
            .iter()
            .flat_map(|(_, r)| r.iter().map(|x| x.len() + 1))
            .sum::<usize>();
        let mut out = Vec::with_capacity(info.query_json.len() + size + 64);
        out.extend_from_slice(br#"{"query":"#);
        out.extend_from_slice(&info.query_json);
        let used = usages
            .into_iter()
            .flatten()
            .any(|name| self.vars.contains_key(name.as_str()));
        // No variables: no `variables` member (the subgraph parses less).
        if !used && reps.is_empty() {
            out.push(b'}');
            return Bytes::from(out);
        }
        out.extend_from_slice(br#","variables":{"#);
        let mut first = true;
        for name in usages.into_iter().flatten() {
            if let Some(v) = self.vars.get(name) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_str(&mut out, name);
                out.push(b':');
                let _ = serde_json::to_writer(&mut out, v);
            }
        }
        for (name, list) in reps {
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(&mut out, name);
            out.extend_from_slice(b":[");
            for (i, rep) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(rep);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
        Bytes::from(out)
    }

    async fn send(&self, service: &str, body: Bytes) -> Result<Arc<Doc>, FetchError> {
        let Some(subgraph) = self.supergraph.subgraph(service) else {
            return Err(FetchError::BadUrl);
        };
        let reply = self
            .subgraphs
            .fetch(service, &subgraph.url, body, self.forwarded, self.shareable)
            .await?;
        if !reply.headers.is_empty() {
            let mut state = self.state();
            for header in &reply.headers {
                if !state.headers.contains(header) {
                    state.headers.push(header.clone());
                }
            }
        }
        Ok(reply.doc.clone())
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        let info = self.info(fetch.id);
        // Every root field it would fetch is left out: nothing to ask.
        if let Some(conditions) = &info.root_conditions
            && conditions.iter().all(|c| c.excludes(self.vars))
        {
            return;
        }
        let body = self.body(info, fetch.variable_usages.as_ref(), &[]);
        let answer = self.send(&fetch.service_name, body).await;
        let mut state = self.state();
        if self.nulls_a_non_null_mutation_field(fetch, answer.as_ref().ok()) {
            state.stopped = true;
        }
        let service = fetch.service_name.as_str();
        let doc = match answer {
            Ok(doc) => doc,
            Err(e) => {
                let error = GraphqlError::new(ErrorCode::SubgraphUnavailable, e.message(service))
                    .from_service(service);
                state.failures.record(
                    [Part::ROOT],
                    Failure {
                        error,
                        keys: info.keys.clone(),
                    },
                );
                return;
            }
        };
        let doc = rewritten(doc, fetch.output_rewrites.as_deref(), self.api(), |d| {
            d.get(d.root(), "data").into_iter().collect()
        });
        let renames = renames_of(fetch.output_rewrites.as_deref());
        let root = doc.root();
        let data_node = doc
            .get(root, "data")
            .filter(|d| doc.kind(*d) == Kind::Object);
        let errors = subgraph_errors(&doc, service);
        let index = state.data.add(doc.clone(), false);
        if let Some(node) = data_node {
            state.data.add_root(Part { doc: index, node });
        }
        let mut pathless = Vec::new();
        let mut placed = false;
        for (mut error, path) in errors {
            match path {
                Some(path) => {
                    error.path = Some(rename_path(path, &renames));
                    state.errors.push(error);
                    placed = true;
                }
                None if data_node.is_none() => pathless.push(error),
                None => state.errors.push(error),
            }
        }
        // No data: a path-less error (or, with no error at all, the lack of
        // an answer) is what each of the fetch's fields failed with. Errors
        // with paths explain the nulls at and below them on their own.
        if data_node.is_none() {
            let error = match pathless.into_iter().next() {
                Some(error) => Some(error),
                None if placed => None,
                None => Some(
                    GraphqlError::new(
                        ErrorCode::SubgraphUnavailable,
                        format!("subgraph {service} answered without data"),
                    )
                    .from_service(service),
                ),
            };
            if let Some(error) = error {
                state.failures.record(
                    [Part::ROOT],
                    Failure {
                        error,
                        keys: info.keys.clone(),
                    },
                );
            }
        }
    }

    fn api(&self) -> &ApiSchema {
        &self.supergraph.api
    }

    /// Whether this root fetch of a mutation leaves one of its non-null
    /// fields null (or got no answer at all for one).
    fn nulls_a_non_null_mutation_field(
        &self,
        fetch: &FetchNode,
        answer: Option<&Arc<Doc>>,
    ) -> bool {
        if !matches!(self.prepared.kind, OperationKind::Mutation) {
            return false;
        }
        let api = self.api();
        let data = answer.and_then(|doc| {
            doc.get(doc.root(), "data")
                .filter(|d| doc.kind(*d) == Kind::Object)
                .map(|d| (doc, d))
        });
        fetch
            .operation
            .document
            .operation
            .selection_set
            .items
            .iter()
            .any(|item| match item {
                SelectionItem::Field(f) => {
                    let non_null = api
                        .field(&api.mutation_type, &f.name)
                        .is_some_and(crate::supergraph::FieldType::non_null);
                    let key = f.alias.as_deref().unwrap_or(&f.name);
                    non_null
                        && data
                            .is_none_or(|(doc, d)| doc.get(d, key).is_none_or(|v| doc.is_null(v)))
                }
                _ => false,
            })
    }

    async fn entity_fetch(&self, path: &FlattenNodePath, fetch: &FetchNode) {
        let info = self.info(fetch.id);
        let Some(requires) = &fetch.requires else {
            return;
        };
        let batch = {
            let state = self.state();
            let targets = state.data.targets(self.api(), path.as_slice());
            Batch::build(
                &state.data,
                self.api(),
                &fetch.service_name,
                targets,
                requires,
                fetch.input_rewrites.as_deref(),
                &info.entity_types,
            )
        };
        if batch.reps.is_empty() {
            return;
        }
        let body = self.body(
            info,
            fetch.variable_usages.as_ref(),
            &[("representations", &batch.reps)],
        );
        let answer = self.send(&fetch.service_name, body).await;
        self.merge_entities(
            &fetch.service_name,
            "_entities",
            answer.as_ref(),
            &batch,
            fetch.output_rewrites.as_deref(),
            &info.keys,
        );
    }

    async fn batch_fetch(&self, batch_node: &BatchFetchNode) {
        let info = self.info(batch_node.id);
        let batches: Vec<Batch> = {
            let state = self.state();
            batch_node
                .entity_batch
                .aliases
                .iter()
                .map(|alias| {
                    let targets = alias
                        .merge_paths
                        .iter()
                        .flat_map(|p| state.data.targets(self.api(), p.as_slice()))
                        .collect();
                    let types = info
                        .aliases
                        .get(&alias.alias)
                        .map(|a| a.entity_types.as_slice())
                        .unwrap_or_default();
                    Batch::build(
                        &state.data,
                        self.api(),
                        &batch_node.service_name,
                        targets,
                        &alias.requires,
                        alias.input_rewrites.as_deref(),
                        types,
                    )
                })
                .collect()
        };
        if batches.iter().all(|b| b.reps.is_empty()) {
            return;
        }
        let reps: Vec<(&str, &[Vec<u8>])> = batch_node
            .entity_batch
            .aliases
            .iter()
            .zip(&batches)
            .map(|(a, b)| (a.representations_variable_name.as_str(), b.reps.as_slice()))
            .collect();
        let body = self.body(info, batch_node.variable_usages.as_ref(), &reps);
        let answer = self.send(&batch_node.service_name, body).await;
        for (alias, batch) in batch_node.entity_batch.aliases.iter().zip(&batches) {
            let keys = info
                .aliases
                .get(&alias.alias)
                .map(|a| a.keys.as_slice())
                .unwrap_or_default();
            self.merge_entities(
                &batch_node.service_name,
                &alias.alias,
                answer.as_ref(),
                batch,
                alias.output_rewrites.as_deref(),
                keys,
            );
        }
    }

    /// Attaches an `_entities` answer (under `field`) to its targets, and
    /// re-paths its errors.
    fn merge_entities(
        &self,
        service: &str,
        field: &str,
        answer: Result<&Arc<Doc>, &crate::subgraph::FetchError>,
        batch: &Batch,
        rewrites: Option<&[FetchRewrite]>,
        keys: &[String],
    ) {
        let mut state = self.state();
        let doc = match answer {
            Ok(doc) => doc.clone(),
            Err(e) => {
                let error = GraphqlError::new(ErrorCode::SubgraphUnavailable, e.message(service))
                    .from_service(service);
                state.failures.record(
                    batch.targets.iter().map(|(t, _)| t.anchor),
                    Failure {
                        error,
                        keys: keys.to_vec(),
                    },
                );
                return;
            }
        };
        let entities_of = |d: &Doc| -> Vec<NodeId> {
            d.get(d.root(), "data")
                .and_then(|data| d.get(data, field))
                .map(|list| d.items(list).to_vec())
                .unwrap_or_default()
        };
        let doc = rewritten(doc, rewrites, self.api(), entities_of);
        let renames = renames_of(rewrites);
        let entities = entities_of(&doc);
        let errors: Vec<(GraphqlError, Option<Vec<PathSeg>>)> = subgraph_errors(&doc, service)
            .into_iter()
            .filter(|(_, path)| match path.as_ref().and_then(|p| p.first()) {
                Some(PathSeg::Key(k)) => k == field,
                _ => true,
            })
            .collect();
        let index = state.data.add(doc.clone(), false);
        for (target, rep) in &batch.targets {
            if let Some(entity) = entities.get(*rep)
                && doc.kind(*entity) == Kind::Object
            {
                state.data.attach(
                    target.anchor,
                    Part {
                        doc: index,
                        node: *entity,
                    },
                );
            }
        }
        let mut whole_field_failed = None;
        let mut placed: std::collections::HashSet<(String, Vec<PathSeg>)> =
            std::collections::HashSet::new();
        for (error, path) in errors {
            match path.as_deref() {
                // ["_entities", i, rest…]: at every position of entity i.
                Some([PathSeg::Key(_), PathSeg::Index(i), rest @ ..]) => {
                    let rest = rename_path(rest.to_vec(), &renames);
                    for (target, rep) in &batch.targets {
                        if rep == i {
                            let mut full = Seg::owned(&target.path);
                            full.extend(rest.iter().cloned());
                            state.errors.push(error.clone().at(full));
                        }
                    }
                }
                // ["_entities", field, …] without an index (as some
                // subgraphs place an argument's error): at each entity
                // where that field came back null.
                Some([PathSeg::Key(_), PathSeg::Key(_), ..]) if !entities.is_empty() => {
                    let raw = path.as_deref().unwrap_or_default()[1..].to_vec();
                    let rest = rename_path(raw.clone(), &renames);
                    for (target, rep) in &batch.targets {
                        // Null (or absent) somewhere along the path inside
                        // this entity: `["_entities", "accounts", 0, "soon"]`
                        // lands on the entity whose accounts[0].soon failed.
                        let null_there = entities
                            .get(*rep)
                            .is_none_or(|e| null_along(&doc, *e, &raw, &renames));
                        if null_there {
                            let mut full = Seg::owned(&target.path);
                            full.extend(rest.iter().cloned());
                            // Such a subgraph sends one copy per entity:
                            // each position gets the message once.
                            if placed.insert((error.message.clone(), full.clone())) {
                                state.errors.push(error.clone().at(full));
                            }
                        }
                    }
                }
                // The whole field, or the request: every position.
                _ if entities.is_empty() => {
                    whole_field_failed.get_or_insert(error);
                }
                _ => state.errors.push(error),
            }
        }
        if entities.is_empty() {
            let error = whole_field_failed.unwrap_or_else(|| {
                GraphqlError::new(
                    ErrorCode::SubgraphUnavailable,
                    format!("subgraph {service} answered without entities"),
                )
                .from_service(service)
            });
            state.failures.record(
                batch.targets.iter().map(|(t, _)| t.anchor),
                Failure {
                    error,
                    keys: keys.to_vec(),
                },
            );
        }
    }
}

/// Whether the value at `path` (subgraph names, renamed as the fetch's
/// aliases say) below `node` is null or missing, or a step on the way is.
fn null_along(doc: &Doc, node: NodeId, path: &[PathSeg], renames: &[(String, String)]) -> bool {
    let mut at = node;
    for seg in path {
        let next = match seg {
            PathSeg::Key(key) => {
                let in_doc = renames
                    .iter()
                    .find(|(from, _)| from == key)
                    .map_or(key.as_str(), |(_, to)| to.as_str());
                doc.get(at, in_doc)
            }
            PathSeg::Index(i) => doc.items(at).get(*i).copied(),
        };
        match next {
            Some(v) if !doc.is_null(v) => at = v,
            _ => return true,
        }
    }
    false
}

/// A subgraph's errors with their paths (None when absent or not a path).
fn subgraph_errors(doc: &Doc, service: &str) -> Vec<(GraphqlError, Option<Vec<PathSeg>>)> {
    let Some(errors) = doc.get(doc.root(), "errors") else {
        return Vec::new();
    };
    doc.items(errors)
        .iter()
        .map(|e| {
            let value = doc.to_value(*e);
            let path = PathSeg::from_json(&value["path"]).filter(|p| !p.is_empty());
            (GraphqlError::from_subgraph(&value, service), path)
        })
        .collect()
}

/// Output key renames (internal alias → the client's key), for re-pathing
/// errors.
fn renames_of(rewrites: Option<&[FetchRewrite]>) -> Vec<(String, String)> {
    rewrites
        .unwrap_or_default()
        .iter()
        .filter_map(|r| match r {
            FetchRewrite::KeyRenamer(k) => match k.path.last() {
                Some(FetchNodePathSegment::Key(from)) => {
                    Some((from.clone(), k.rename_key_to.clone()))
                }
                _ => None,
            },
            FetchRewrite::ValueSetter(_) => None,
        })
        .collect()
}

/// A subgraph's response path as the client's: the planner's aliases
/// undone (`renames`), then the gateway's own (the client's alias).
fn rename_path(mut path: Vec<PathSeg>, renames: &[(String, String)]) -> Vec<PathSeg> {
    for seg in &mut path {
        if let PathSeg::Key(k) = seg {
            if let Some((_, to)) = renames.iter().find(|(from, _)| from == k) {
                *k = to.clone();
            }
            if k.starts_with(crate::prepare::ALIAS_PREFIX) {
                *k = crate::prepare::client_key(k).to_owned();
            }
        }
    }
    path
}

/// The document with a fetch's output rewrites applied (a private copy when
/// there are any: the parsed answer may be shared). `roots` gives the
/// objects the rewrites' paths start from.
fn rewritten(
    doc: Arc<Doc>,
    rewrites: Option<&[FetchRewrite]>,
    api: &ApiSchema,
    roots: impl Fn(&Doc) -> Vec<NodeId>,
) -> Arc<Doc> {
    let Some(rewrites) = rewrites.filter(|r| !r.is_empty()) else {
        return doc;
    };
    let mut copy = (*doc).clone();
    for rewrite in rewrites {
        if let FetchRewrite::KeyRenamer(k) = rewrite {
            for root in roots(&copy) {
                rename_at(&mut copy, api, root, &k.path, &k.rename_key_to);
            }
        }
    }
    Arc::new(copy)
}

fn rename_at(
    doc: &mut Doc,
    api: &ApiSchema,
    node: NodeId,
    path: &[FetchNodePathSegment],
    to: &str,
) {
    if doc.kind(node) == Kind::Array {
        for item in doc.items(node).to_vec() {
            rename_at(doc, api, item, path, to);
        }
        return;
    }
    if doc.kind(node) != Kind::Object {
        return;
    }
    match path {
        [] => {}
        [FetchNodePathSegment::TypenameEquals(types), rest @ ..] => {
            let holds = doc
                .get(node, "__typename")
                .and_then(|t| doc.str(t).map(Cow::into_owned))
                .is_none_or(|t| types.iter().any(|c| api.matches(c, &t)));
            if holds {
                rename_at(doc, api, node, rest, to);
            }
        }
        [FetchNodePathSegment::Key(from)] => doc.rename_key(node, from, to),
        [FetchNodePathSegment::Key(key), rest @ ..] => {
            if let Some(next) = doc.get(node, key) {
                rename_at(doc, api, next, rest, to);
            }
        }
    }
}

/// An entity fetch's representations: one per distinct entity, and which
/// one each target gets.
pub struct Batch<'p> {
    pub reps: Vec<Vec<u8>>,
    pub targets: Vec<(Target<'p>, usize)>,
}

impl<'p> Batch<'p> {
    /// `service`: the subgraph the representations are for (a key may be
    /// non-null there only).
    pub fn build(
        data: &Data,
        api: &ApiSchema,
        service: &str,
        targets: Vec<Target<'p>>,
        requires: &SelectionSet,
        rewrites: Option<&[FetchRewrite]>,
        entity_types: &[String],
    ) -> Batch<'p> {
        let mut reps: Vec<Vec<u8>> = Vec::new();
        // Representation hash → the reps with it (compared byte for byte).
        let mut index: HashMap<u64, SmallVec<[usize; 1]>, ahash::RandomState> = HashMap::default();
        let hasher = ahash::RandomState::new();
        let mut out = Vec::with_capacity(targets.len());
        let mut bytes = Vec::with_capacity(64);
        for target in targets {
            let Some(mut rep) = Rep::build(data, api, service, &target.parts, requires) else {
                continue;
            };
            for rewrite in rewrites.unwrap_or_default() {
                rep.rewrite(api, rewrite);
            }
            // A type the subgraph cannot resolve is not sent.
            let resolvable = rep.typename().is_some_and(|t| {
                entity_types.is_empty() || entity_types.iter().any(|c| api.matches(c, t))
            });
            if !resolvable {
                continue;
            }
            bytes.clear();
            rep.write(&mut bytes);
            let hash = hasher.hash_one(&bytes);
            let same = index.entry(hash).or_default();
            let i = match same.iter().find(|i| reps[**i] == bytes) {
                Some(i) => *i,
                None => {
                    reps.push(bytes.clone());
                    same.push(reps.len() - 1);
                    reps.len() - 1
                }
            };
            out.push((target, i));
        }
        Batch { reps, targets: out }
    }
}

/// A representation being built: what the entity's `requires` selects,
/// borrowing keys from the plan and values from the answers.
#[derive(Debug, Clone, PartialEq)]
enum Rep<'d> {
    Null,
    /// A value as the subgraph wrote it.
    Raw(&'d [u8]),
    Str(Cow<'d, str>),
    List(Vec<Rep<'d>>),
    Object(Vec<(Cow<'d, str>, Rep<'d>)>),
}

impl<'d> Rep<'d> {
    /// The representation of the object at `parts`; None when a selected
    /// field is missing, or null where the target subgraph forbids it (such
    /// an entity cannot be resolved: it is not sent).
    fn build(
        data: &'d Data,
        api: &ApiSchema,
        service: &str,
        parts: &[Part],
        requires: &'d SelectionSet,
    ) -> Option<Rep<'d>> {
        let typename = data.typename(parts);
        let mut fields = Vec::with_capacity(requires.items.len());
        Self::fill(
            data,
            (api, service),
            parts,
            requires,
            typename.as_ref(),
            &mut fields,
        )?;
        Some(Rep::Object(fields))
    }

    /// `to`: the API schema and the subgraph the representation is for.
    fn fill(
        data: &'d Data,
        to: (&ApiSchema, &str),
        parts: &[Part],
        selection: &'d SelectionSet,
        typename: Option<&Cow<'d, str>>,
        out: &mut Vec<(Cow<'d, str>, Rep<'d>)>,
    ) -> Option<()> {
        for item in &selection.items {
            match item {
                SelectionItem::Field(field) => {
                    let key: &'d str = field.alias.as_deref().unwrap_or(&field.name);
                    if field.name == "__typename" {
                        out.push((Cow::Borrowed(key), Rep::Str(typename?.clone())));
                        continue;
                    }
                    let found = data.lookup(parts, &field.name, &field.name);
                    if !found.present {
                        return None;
                    }
                    let value = if found.is_null() {
                        let (api, service) = to;
                        let non_null =
                            typename.is_some_and(|t| api.non_null_in(t, &field.name, service));
                        if non_null {
                            return None;
                        }
                        Rep::Null
                    } else if field.selections.items.is_empty() {
                        let last = found.last()?;
                        Rep::Raw(data.doc(last).raw(last.node))
                    } else {
                        Self::nested(data, to, &found.values, &field.selections)?
                    };
                    out.push((Cow::Borrowed(key), value));
                }
                SelectionItem::InlineFragment(fragment) => {
                    if typename.is_some_and(|t| to.0.matches(&fragment.type_condition, t)) {
                        Self::fill(data, to, parts, &fragment.selections, typename, out)?;
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
        Some(())
    }

    fn nested(
        data: &'d Data,
        to: (&ApiSchema, &str),
        values: &[Part],
        selection: &'d SelectionSet,
    ) -> Option<Rep<'d>> {
        let (mut objects, lists) = data.classify(values);
        if !objects.is_empty() {
            data.expand(&mut objects);
            let typename = data.typename(&objects);
            let mut fields = Vec::new();
            Self::fill(
                data,
                to,
                &objects,
                selection,
                typename.as_ref(),
                &mut fields,
            )?;
            return Some(Rep::Object(fields));
        }
        if !lists.is_empty() {
            let items: Vec<Parts> = data.list_items(&lists);
            return items
                .iter()
                .map(|item| Self::nested(data, to, item, selection))
                .collect::<Option<Vec<_>>>()
                .map(Rep::List);
        }
        Some(Rep::Null)
    }

    fn typename(&self) -> Option<&str> {
        match self {
            Rep::Object(fields) => fields.iter().find_map(|(k, v)| match (k.as_ref(), v) {
                ("__typename", Rep::Str(s)) => Some(s.as_ref()),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Applies an input rewrite (a value set, or a key renamed) where its
    /// path matches.
    fn rewrite(&mut self, api: &ApiSchema, rewrite: &FetchRewrite) {
        match rewrite {
            FetchRewrite::ValueSetter(setter) => {
                self.set_at(api, &setter.path, &setter.set_value_to)
            }
            FetchRewrite::KeyRenamer(renamer) => {
                self.rename_at(api, &renamer.path, &renamer.rename_key_to)
            }
        }
    }

    fn holds(&self, api: &ApiSchema, types: &std::collections::BTreeSet<String>) -> bool {
        // A type condition holds for the type itself and, when it is
        // abstract (an @interfaceObject's interface), its implementations.
        self.typename()
            .is_some_and(|t| types.iter().any(|c| api.matches(c, t)))
    }

    fn set_at(&mut self, api: &ApiSchema, path: &[FetchNodePathSegment], to: &str) {
        match (self, path) {
            (Rep::List(items), _) => items.iter_mut().for_each(|i| i.set_at(api, path, to)),
            (this, []) => *this = Rep::Str(Cow::Owned(to.to_owned())),
            (this @ Rep::Object(_), [FetchNodePathSegment::TypenameEquals(types), rest @ ..])
                if this.holds(api, types) =>
            {
                this.set_at(api, rest, to);
            }
            (Rep::Object(fields), [FetchNodePathSegment::Key(key), rest @ ..]) => {
                if let Some((_, v)) = fields.iter_mut().find(|(k, _)| k == key) {
                    v.set_at(api, rest, to);
                } else if rest.is_empty() {
                    fields.push((Cow::Owned(key.clone()), Rep::Str(Cow::Owned(to.to_owned()))));
                }
            }
            _ => {}
        }
    }

    fn rename_at(&mut self, api: &ApiSchema, path: &[FetchNodePathSegment], to: &str) {
        match (self, path) {
            (Rep::List(items), _) => items.iter_mut().for_each(|i| i.rename_at(api, path, to)),
            (this @ Rep::Object(_), [FetchNodePathSegment::TypenameEquals(types), rest @ ..])
                if this.holds(api, types) =>
            {
                this.rename_at(api, rest, to);
            }
            (Rep::Object(fields), [FetchNodePathSegment::Key(from)]) => {
                if let Some((k, _)) = fields.iter_mut().find(|(k, _)| k == from) {
                    *k = Cow::Owned(to.to_owned());
                }
            }
            (Rep::Object(fields), [FetchNodePathSegment::Key(key), rest @ ..]) => {
                if let Some((_, v)) = fields.iter_mut().find(|(k, _)| k == key) {
                    v.rename_at(api, rest, to);
                }
            }
            _ => {}
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Rep::Null => out.extend_from_slice(b"null"),
            Rep::Raw(raw) => out.extend_from_slice(raw),
            Rep::Str(s) => write_str(out, s),
            Rep::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Rep::Object(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_paths_are_re_pathed_to_the_clients_names() {
        let path = |keys: &[&str]| -> Vec<PathSeg> {
            keys.iter()
                .map(|k| match k.parse::<usize>() {
                    Ok(i) => PathSeg::Index(i),
                    Err(_) => PathSeg::Key((*k).to_owned()),
                })
                .collect()
        };
        let renames = vec![("_internal_qp_alias_0".to_owned(), "nickname".to_owned())];
        assert_eq!(
            rename_path(path(&["accounts", "1", "_internal_qp_alias_0"]), &renames),
            path(&["accounts", "1", "nickname"]),
            "a planner alias becomes the response key it stood for"
        );
        assert_eq!(
            rename_path(path(&["_bm_alias__all", "0", "_bm_alias__n"]), &[]),
            path(&["all", "0", "n"]),
            "an internal name of a client alias becomes the client's"
        );
        assert_eq!(
            rename_path(path(&["me", "name"]), &renames),
            path(&["me", "name"]),
            "other keys stay"
        );
    }
}
