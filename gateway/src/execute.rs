//! Runs a query plan: fetches from subgraphs, entity representations built
//! from each fetch's `requires` and deduplicated, results merged into one
//! response tree, subgraph errors re-pathed to the client's paths. A failed
//! subgraph costs only its own fields.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared, join_all};
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::planner::plan_nodes::{
    BatchFetchNode, FetchNode, FetchNodePathSegment, FetchRewrite, FlattenNodePath,
    FlattenNodePathSegment, PlanNode,
};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use crate::supergraph::Supergraph;

/// A step of a response path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

impl PathStep {
    fn to_json(path: &[PathStep]) -> Value {
        Value::Array(
            path.iter()
                .map(|s| match s {
                    PathStep::Key(k) => Value::String(k.clone()),
                    PathStep::Index(i) => Value::from(*i),
                })
                .collect(),
        )
    }
}

/// A subgraph answer shared by every identical request in flight.
type InFlight = Shared<BoxFuture<'static, Result<Arc<Value>, String>>>;

/// How the gateway reaches subgraphs: one pooled keep-alive client, and
/// (unless turned off) identical requests in flight at the same moment sent
/// once. Identical means same URL, body (operation and variables) and
/// forwarded credentials, so no caller ever sees another caller's data.
#[derive(Clone)]
pub struct Subgraphs {
    client: reqwest::Client,
    timeout: Duration,
    coalesce: bool,
    traceparent_of: Option<crate::TraceparentOf>,
    in_flight: Arc<Mutex<HashMap<FetchKey, InFlight>>>,
}

impl Subgraphs {
    pub fn new(
        timeout: Duration,
        coalesce: bool,
        traceparent_of: Option<crate::TraceparentOf>,
    ) -> Self {
        Self {
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(90))
                .build()
                .unwrap_or_default(),
            timeout,
            coalesce,
            traceparent_of,
            in_flight: Arc::default(),
        }
    }

    /// POSTs `body` to `url`; the parsed JSON answer, or why there is none.
    async fn fetch(
        &self,
        service: &str,
        url: &str,
        body: Value,
        forwarded: &HeaderMap,
    ) -> Result<Arc<Value>, String> {
        // Serialised once: the same bytes are sent and, when coalescing,
        // compared.
        let body = bytes::Bytes::from(serde_json::to_vec(&body).map_err(|e| e.to_string())?);
        let span = tracing::info_span!("subgraph fetch", subgraph = service);
        let mut headers = forwarded.clone();
        if let Some(traceparent) = self
            .traceparent_of
            .as_ref()
            .and_then(|name| name(&span))
            .and_then(|t| reqwest::header::HeaderValue::from_str(&t).ok())
        {
            headers.insert("traceparent", traceparent);
        }
        let request = self
            .client
            .post(url)
            .headers(headers)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(body.clone());
        let service_name = service.to_owned();
        let call = async move {
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() {
                    format!("subgraph {service_name} timed out")
                } else {
                    format!("subgraph {service_name} is unreachable")
                }
            })?;
            let status = response.status();
            response.json::<Value>().await.map(Arc::new).map_err(|_| {
                format!("subgraph {service_name} answered {status} without a GraphQL response")
            })
        }
        .instrument(span);
        if !self.coalesce {
            return call.await;
        }
        // The whole request is the key (not a hash of it): two callers
        // share an answer only if they asked exactly the same thing.
        let key = FetchKey {
            url: url.to_owned(),
            body,
            credentials: forwarded.get(reqwest::header::AUTHORIZATION).cloned(),
        };
        let shared = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight
                .entry(key.clone())
                .or_insert_with(|| call.boxed().shared())
                .clone()
        };
        let answer = shared.await;
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        answer
    }
}

/// What makes two subgraph fetches identical.
#[derive(Clone, PartialEq, Eq, Hash)]
struct FetchKey {
    url: String,
    body: bytes::Bytes,
    credentials: Option<reqwest::header::HeaderValue>,
}

impl Subgraphs {
    /// Whether the subgraph at `url` answers `{ __typename }`.
    pub async fn probe(&self, url: &str) -> bool {
        let answer = self
            .client
            .post(url)
            .timeout(self.timeout.min(Duration::from_secs(2)))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await;
        match answer {
            Ok(r) => r
                .json::<Value>()
                .await
                .is_ok_and(|v| v["data"]["__typename"].is_string()),
            Err(_) => false,
        }
    }
}

/// What one subgraph answered.
struct SubgraphResponse {
    data: Option<Value>,
    errors: Vec<Value>,
}

/// One plan's execution.
pub struct Execution<'a> {
    pub supergraph: &'a Supergraph,
    pub subgraphs: &'a Subgraphs,
    pub variables: &'a Map<String, Value>,
    /// Headers forwarded to every subgraph (credentials, trace context).
    pub forwarded: &'a HeaderMap,
    data: Mutex<Value>,
    errors: Mutex<Vec<Value>>,
}

impl<'a> Execution<'a> {
    pub fn new(
        supergraph: &'a Supergraph,
        subgraphs: &'a Subgraphs,
        variables: &'a Map<String, Value>,
        forwarded: &'a HeaderMap,
    ) -> Self {
        Self {
            supergraph,
            subgraphs,
            variables,
            forwarded,
            data: Mutex::new(Value::Object(Map::new())),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// The merged data and the errors, once the plan has run.
    pub fn finish(self) -> (Value, Vec<Value>) {
        (
            self.data.into_inner().unwrap_or_else(|p| p.into_inner()),
            self.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
        )
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Value> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, error: Value) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(error);
    }

    pub fn run<'n>(&'n self, node: &'n PlanNode) -> BoxFuture<'n, ()> {
        async move {
            match node {
                PlanNode::Fetch(fetch) => self.root_fetch(fetch).await,
                PlanNode::Flatten(flatten) => match flatten.node.as_ref() {
                    PlanNode::Fetch(fetch) => self.entity_fetch(&flatten.path, fetch).await,
                    other => self.run(other).await,
                },
                PlanNode::BatchFetch(batch) => self.batch_fetch(batch).await,
                PlanNode::Sequence(seq) => {
                    for n in &seq.nodes {
                        self.run(n).await;
                    }
                }
                PlanNode::Parallel(par) => {
                    join_all(par.nodes.iter().map(|n| self.run(n))).await;
                }
                PlanNode::Condition(cond) => {
                    let yes = self.variables.get(&cond.condition) == Some(&Value::Bool(true));
                    let branch = if yes {
                        &cond.if_clause
                    } else {
                        &cond.else_clause
                    };
                    if let Some(n) = branch {
                        self.run(n).await;
                    }
                }
                PlanNode::Subscription(_) | PlanNode::Defer(_) => self.error(json!({
                    "message": "subscriptions and @defer are not served",
                    "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
                })),
            }
        }
        .boxed()
    }

    fn variables_for(
        &self,
        usages: Option<&std::collections::BTreeSet<String>>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for name in usages.into_iter().flatten() {
            if let Some(v) = self.variables.get(name) {
                out.insert(name.clone(), v.clone());
            }
        }
        out
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        let variables = self.variables_for(fetch.variable_usages.as_ref());
        match self
            .send(
                &fetch.service_name,
                &fetch.operation.document_str,
                variables,
            )
            .await
        {
            Ok(response) => {
                if let Some(data) = response.data {
                    deep_merge(&mut self.data(), data);
                }
                for e in response.errors {
                    self.error(tag_service(e, &fetch.service_name));
                }
            }
            Err(message) => self.error(unavailable(&fetch.service_name, &message, None)),
        }
    }

    async fn entity_fetch(&self, path: &FlattenNodePath, fetch: &FetchNode) {
        let Some(requires) = &fetch.requires else {
            return self.root_fetch(fetch).await;
        };
        let (representations, targets) = {
            let data = self.data();
            self.collect(&data, path, requires, fetch.input_rewrites.as_deref())
        };
        if representations.is_empty() {
            return;
        }
        let mut variables = self.variables_for(fetch.variable_usages.as_ref());
        variables.insert("representations".into(), Value::Array(representations));
        let response = self
            .send(
                &fetch.service_name,
                &fetch.operation.document_str,
                variables,
            )
            .await;
        self.merge_entities(
            &fetch.service_name,
            "_entities",
            response,
            &targets,
            fetch.output_rewrites.as_deref(),
        );
    }

    async fn batch_fetch(&self, batch: &BatchFetchNode) {
        let mut variables = self.variables_for(batch.variable_usages.as_ref());
        let mut all_targets = Vec::new();
        {
            let data = self.data();
            for alias in &batch.entity_batch.aliases {
                let mut reps = Vec::new();
                let mut targets = Vec::new();
                let mut seen = HashMap::new();
                for path in &alias.merge_paths {
                    let (r, t) = self.collect(
                        &data,
                        path,
                        &alias.requires,
                        alias.input_rewrites.as_deref(),
                    );
                    // Deduplicate across merge paths too.
                    let remap: Vec<usize> = r
                        .into_iter()
                        .map(|rep| {
                            let key = rep.to_string();
                            *seen.entry(key).or_insert_with(|| {
                                reps.push(rep);
                                reps.len() - 1
                            })
                        })
                        .collect();
                    targets.extend(t.into_iter().map(|(p, i)| (p, remap[i])));
                }
                variables.insert(
                    alias.representations_variable_name.clone(),
                    Value::Array(reps),
                );
                all_targets.push((alias, targets));
            }
        }
        let response = self
            .send(
                &batch.service_name,
                &batch.operation.document_str,
                variables,
            )
            .await;
        match response {
            Ok(mut r) => {
                for (alias, targets) in &all_targets {
                    let part = Ok(SubgraphResponse {
                        data: r.data.as_mut().map(|d| json!({ alias.alias.clone(): d.get_mut(&alias.alias).map(Value::take).unwrap_or(Value::Null) })),
                        errors: r
                            .errors
                            .iter()
                            .filter(|e| e["path"][0] == Value::String(alias.alias.clone()))
                            .cloned()
                            .collect(),
                    });
                    self.merge_entities(
                        &batch.service_name,
                        &alias.alias,
                        part,
                        targets,
                        alias.output_rewrites.as_deref(),
                    );
                }
                for e in r.errors.into_iter().filter(|e| !e["path"].is_array()) {
                    self.error(tag_service(e, &batch.service_name));
                }
            }
            Err(message) => {
                for (_, targets) in &all_targets {
                    for (path, _) in targets {
                        self.error(unavailable(&batch.service_name, &message, Some(path)));
                    }
                }
            }
        }
    }

    /// The representations of the entities at `path` (deduplicated) and,
    /// per entity, its response path and representation index.
    fn collect(
        &self,
        data: &Value,
        path: &FlattenNodePath,
        requires: &SelectionSet,
        rewrites: Option<&[FetchRewrite]>,
    ) -> (Vec<Value>, Vec<(Vec<PathStep>, usize)>) {
        let mut found = Vec::new();
        walk(data, path.as_slice(), &mut Vec::new(), &mut found);
        let mut representations = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut targets = Vec::new();
        for (at, entity) in found {
            let mut rep = project_requires(self.supergraph, requires, entity);
            for rewrite in rewrites.unwrap_or_default() {
                apply_rewrite(self.supergraph, rewrite, &mut rep);
            }
            let key = rep.to_string();
            let i = *index.entry(key).or_insert_with(|| {
                representations.push(rep);
                representations.len() - 1
            });
            targets.push((at, i));
        }
        (representations, targets)
    }

    fn merge_entities(
        &self,
        service: &str,
        field: &str,
        response: Result<SubgraphResponse, String>,
        targets: &[(Vec<PathStep>, usize)],
        rewrites: Option<&[FetchRewrite]>,
    ) {
        let response = match response {
            Ok(r) => r,
            Err(message) => {
                for (path, _) in targets {
                    self.error(unavailable(service, &message, Some(path)));
                }
                return;
            }
        };
        let mut entities = response
            .data
            .and_then(|mut d| d.get_mut(field).map(Value::take))
            .and_then(|v| match v {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .unwrap_or_default();
        {
            // An answer shared by deduplicated entities is copied for all
            // but the last of them, which takes it.
            let mut uses = vec![0usize; entities.len()];
            for (_, i) in targets {
                if let Some(n) = uses.get_mut(*i) {
                    *n += 1;
                }
            }
            let mut data = self.data();
            for (path, i) in targets {
                let Some(slot) = entities.get_mut(*i) else {
                    continue;
                };
                uses[*i] -= 1;
                let mut entity = if uses[*i] == 0 {
                    slot.take()
                } else {
                    slot.clone()
                };
                for rewrite in rewrites.unwrap_or_default() {
                    apply_rewrite(self.supergraph, rewrite, &mut entity);
                }
                if let Some(slot) = get_mut(&mut data, path) {
                    deep_merge(slot, entity);
                }
            }
        }
        for mut e in response.errors {
            // ["_entities", i, rest…] → the first entity's path + rest;
            // ["_entities"] (the whole field failed) → where all the
            // entities sit: the longest path they share.
            let repathed = e["path"].as_array().and_then(|p| {
                let Some(i) = p.get(1) else {
                    return Some(PathStep::to_json(common_prefix(targets)));
                };
                let i = i.as_u64()? as usize;
                let (target, _) = targets.iter().find(|(_, idx)| *idx == i)?;
                let mut full = PathStep::to_json(target);
                if let Value::Array(items) = &mut full {
                    items.extend(p.iter().skip(2).cloned());
                }
                Some(full)
            });
            match repathed {
                Some(path) => e["path"] = path,
                None => {
                    if let Some(obj) = e.as_object_mut() {
                        obj.remove("path");
                    }
                }
            }
            self.error(tag_service(e, service));
        }
    }

    async fn send(
        &self,
        service: &str,
        query: &str,
        variables: Map<String, Value>,
    ) -> Result<SubgraphResponse, String> {
        let url = self
            .supergraph
            .subgraphs
            .get(service)
            .or_else(|| {
                self.supergraph
                    .subgraphs
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(service))
                    .map(|(_, url)| url)
            })
            .ok_or_else(|| format!("no URL for subgraph {service}"))?;
        let body = self
            .subgraphs
            .fetch(
                service,
                url,
                json!({ "query": query, "variables": variables }),
                self.forwarded,
            )
            .await?;
        let errors = match body.get("errors") {
            Some(Value::Array(errors)) => errors.clone(),
            _ => Vec::new(),
        };
        let data = body.get("data").filter(|d| !d.is_null()).cloned();
        if data.is_none() && errors.is_empty() {
            return Err(format!(
                "subgraph {service} answered without data or errors"
            ));
        }
        Ok(SubgraphResponse { data, errors })
    }
}

/// A subgraph's error as the client sees it: naming the service, without
/// `locations` (they point into the subgraph's operation, not the client's).
fn tag_service(mut error: Value, service: &str) -> Value {
    if let Some(obj) = error.as_object_mut() {
        obj.remove("locations");
        let ext = obj.entry("extensions").or_insert_with(|| json!({}));
        if let Some(ext) = ext.as_object_mut() {
            ext.insert("serviceName".into(), Value::String(service.to_owned()));
        }
    }
    error
}

/// The longest path all targets share.
fn common_prefix(targets: &[(Vec<PathStep>, usize)]) -> &[PathStep] {
    let Some(((first, _), rest)) = targets.split_first() else {
        return &[];
    };
    let len = rest.iter().fold(first.len(), |len, (path, _)| {
        first[..len]
            .iter()
            .zip(path)
            .take_while(|(a, b)| a == b)
            .count()
    });
    &first[..len]
}

fn unavailable(service: &str, message: &str, path: Option<&[PathStep]>) -> Value {
    let mut e = json!({
        "message": message,
        "extensions": { "code": "SUBGRAPH_UNAVAILABLE", "serviceName": service },
    });
    if let Some(path) = path {
        e["path"] = PathStep::to_json(path);
    }
    e
}

fn typename_in(obj: &Map<String, Value>, types: &std::collections::BTreeSet<String>) -> bool {
    obj.get("__typename")
        .and_then(Value::as_str)
        .is_some_and(|t| types.contains(t))
}

/// Objects at `path` (fields, `@` for list items, type conditions).
fn walk<'v>(
    value: &'v Value,
    path: &[FlattenNodePathSegment],
    at: &mut Vec<PathStep>,
    out: &mut Vec<(Vec<PathStep>, &'v Value)>,
) {
    match (path.first(), value) {
        (_, Value::Null) => {}
        (None, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                at.push(PathStep::Index(i));
                walk(item, path, at, out);
                at.pop();
            }
        }
        (None, Value::Object(_)) => out.push((at.clone(), value)),
        (None, _) => {}
        (Some(FlattenNodePathSegment::Field(name)), Value::Object(obj)) => {
            if let Some(next) = obj.get(name) {
                at.push(PathStep::Key(name.clone()));
                walk(next, &path[1..], at, out);
                at.pop();
            }
        }
        (Some(FlattenNodePathSegment::List), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                at.push(PathStep::Index(i));
                walk(item, &path[1..], at, out);
                at.pop();
            }
        }
        (Some(FlattenNodePathSegment::TypeCondition(types)), Value::Object(obj))
            if typename_in(obj, types) =>
        {
            walk(value, &path[1..], at, out);
        }
        _ => {}
    }
}

/// The representation of an entity: exactly the `requires` selection
/// (keys, `@requires` fields, `__typename`) read from what is known of it.
fn project_requires(supergraph: &Supergraph, selection: &SelectionSet, value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| project_requires(supergraph, selection, v))
                .collect(),
        ),
        Value::Object(obj) => {
            let mut out = Map::new();
            project_into(supergraph, selection, obj, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn project_into(
    supergraph: &Supergraph,
    selection: &SelectionSet,
    obj: &Map<String, Value>,
    out: &mut Map<String, Value>,
) {
    let typename = obj.get("__typename").and_then(Value::as_str);
    for item in &selection.items {
        match item {
            SelectionItem::Field(field) => {
                let key = field.alias.as_deref().unwrap_or(&field.name);
                if let Some(v) = obj.get(key) {
                    let projected = if field.selections.items.is_empty() {
                        v.clone()
                    } else {
                        project_requires(supergraph, &field.selections, v)
                    };
                    out.insert(field.name.clone(), projected);
                }
            }
            SelectionItem::InlineFragment(fragment) => {
                if typename.is_some_and(|t| supergraph.api.matches(&fragment.type_condition, t))
                    || typename == Some(fragment.type_condition.as_str())
                {
                    project_into(supergraph, &fragment.selections, obj, out);
                }
            }
            SelectionItem::FragmentSpread(_) => {}
        }
    }
}

/// Applies an input or output rewrite (a value set or a key renamed) where
/// its path matches.
fn apply_rewrite(supergraph: &Supergraph, rewrite: &FetchRewrite, value: &mut Value) {
    match rewrite {
        FetchRewrite::ValueSetter(setter) => set_at(supergraph, value, &setter.path, &|slot| {
            *slot = Value::String(setter.set_value_to.clone());
        }),
        FetchRewrite::KeyRenamer(renamer) => {
            let Some((last, parent)) = renamer.path.split_last() else {
                return;
            };
            let FetchNodePathSegment::Key(from) = last else {
                return;
            };
            let to = renamer.rename_key_to.clone();
            rename_at(value, parent, from, &to);
        }
    }
}

fn set_at(
    supergraph: &Supergraph,
    value: &mut Value,
    path: &[FetchNodePathSegment],
    f: &dyn Fn(&mut Value),
) {
    match path.first() {
        None => f(value),
        Some(FetchNodePathSegment::TypenameEquals(types)) => {
            // A type condition holds for the type itself and, when it is
            // abstract (an @interfaceObject's interface), its implementations.
            let holds = value
                .get("__typename")
                .and_then(Value::as_str)
                .is_some_and(|t| types.iter().any(|c| supergraph.api.matches(c, t)));
            if holds {
                set_at(supergraph, value, &path[1..], f);
            }
        }
        Some(FetchNodePathSegment::Key(key)) => match value {
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| set_at(supergraph, v, path, f)),
            Value::Object(obj) => {
                if path.len() == 1 {
                    f(obj.entry(key.clone()).or_insert(Value::Null));
                } else if let Some(next) = obj.get_mut(key) {
                    set_at(supergraph, next, &path[1..], f);
                }
            }
            _ => {}
        },
    }
}

fn rename_at(value: &mut Value, path: &[FetchNodePathSegment], from: &str, to: &str) {
    if let Value::Array(items) = value {
        return items.iter_mut().for_each(|v| rename_at(v, path, from, to));
    }
    let Value::Object(obj) = value else {
        return;
    };
    match path.first() {
        None => {
            if let Some(v) = obj.remove(from) {
                obj.insert(to.to_owned(), v);
            }
        }
        Some(FetchNodePathSegment::TypenameEquals(types)) => {
            if typename_in(obj, types) {
                rename_at(value, &path[1..], from, to);
            }
        }
        Some(FetchNodePathSegment::Key(key)) => {
            if let Some(next) = obj.get_mut(key) {
                rename_at(next, &path[1..], from, to);
            }
        }
    }
}

fn get_mut<'v>(value: &'v mut Value, path: &[PathStep]) -> Option<&'v mut Value> {
    let mut current = value;
    for step in path {
        current = match step {
            PathStep::Key(k) => current.get_mut(k)?,
            PathStep::Index(i) => current.get_mut(*i)?,
        };
    }
    Some(current)
}

/// Merges `incoming` into `target`: objects key by key, lists item by item.
pub fn deep_merge(target: &mut Value, incoming: Value) {
    match (target, incoming) {
        (Value::Object(t), Value::Object(i)) => {
            for (k, v) in i {
                match t.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(i)) if t.len() == i.len() => {
            for (existing, v) in t.iter_mut().zip(i) {
                deep_merge(existing, v);
            }
        }
        (t, i) => {
            if !i.is_null() || t.is_null() {
                *t = i;
            }
        }
    }
}

/// Subgraph URL overrides by name, e.g. from configuration.
pub type UrlOverrides = BTreeMap<String, String>;
