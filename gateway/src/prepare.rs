//! From operation text to a prepared operation, in this order: unicode
//! escapes normalised; parsed; the operation chosen (several operations and
//! no `operationName` is a request error); measured against the limits
//! (before anything costly, fragments never expanded); `@defer` and
//! subscriptions refused; validated against the API schema (graphql-tools'
//! spec rules, argument values checked by our own rule that names the
//! argument, unknown names answered with "Did you mean"); normalised and
//! planned off the async workers under a time limit; and the projection plan
//! and each fetch's request parts made once. Results, refusals included,
//! are cached by operation text and name in a bounded LRU.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphql_tools::static_graphql::query::{
    self as q, Definition, Document, OperationDefinition as QOp, Selection,
};
use graphql_tools::validation::rules::*;
use graphql_tools::validation::validate::{ValidationPlan, validate};
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::operation::SubgraphFetchOperation;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::{FieldSelection, SelectionSet};
use hive_router_query_planner::ast::value::Value as PlanValue;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::planner::plan_nodes::{PlanNode, QueryPlan};
use hive_router_query_planner::state::supergraph_state::OperationKind;
use hive_router_query_planner::utils::cancellation::CancellationToken;
use kit::ErrorCode;
use lru::LruCache;

use crate::error::{GraphqlError, Location, Refusal};
use crate::json::write_str;
use crate::limits::{Limits, measure_text};
use crate::projection::ProjectionPlan;
use crate::supergraph::{FieldType, Supergraph, literal_to_json};
use crate::variables::VariableSpec;

/// A root `__schema` or `__type(name:)` field.
#[derive(Debug, Clone)]
pub struct IntrospectionField {
    pub response_key: String,
    /// None for `__schema`; the name (a literal, or a variable to read) for
    /// `__type`.
    pub type_name: Option<TypeNameArg>,
}

#[derive(Debug, Clone)]
pub enum TypeNameArg {
    Literal(String),
    Variable(String),
}

/// What an `_entities` selection (or a batch alias) provides.
#[derive(Debug, Clone, Default)]
pub struct AliasInfo {
    /// Response keys it provides on each entity.
    pub keys: Vec<String>,
    /// Types it can resolve.
    pub entity_types: Vec<String>,
}

/// A fetch node's request parts, made once per prepared operation.
#[derive(Debug, Clone, Default)]
pub struct FetchInfo {
    /// The operation text as a JSON string, quotes included.
    pub query_json: Box<[u8]>,
    /// A root fetch whose every root field has `@skip`/`@include`: those
    /// conditions. When all of them exclude their field, the fetch is not
    /// sent.
    pub root_conditions: Option<Vec<Condition>>,
    /// Response keys it provides: root fields, or each entity's fields.
    pub keys: Vec<String>,
    pub entity_types: Vec<String>,
    /// A batch fetch's aliases.
    pub aliases: HashMap<String, AliasInfo>,
}

/// A field's `@skip(if: $skip_if)` and `@include(if: $include_if)`.
#[derive(Debug, Clone)]
pub struct Condition {
    pub skip_if: Option<String>,
    pub include_if: Option<String>,
}

impl Condition {
    /// Whether these (coerced) variables leave the field out.
    pub fn excludes(&self, vars: &crate::variables::Coerced) -> bool {
        let is = |var: &Option<String>, want: bool| {
            var.as_ref()
                .is_some_and(|v| vars.get(v) == Some(&serde_json::Value::Bool(want)))
        };
        is(&self.skip_if, true) || is(&self.include_if, false)
    }
}

/// An operation ready to execute.
pub struct Prepared {
    /// The client's operation, normalised (fragments inlined).
    pub operation: OperationDefinition,
    pub kind: OperationKind,
    pub plan: QueryPlan,
    pub projection: ProjectionPlan,
    pub variables: Vec<VariableSpec>,
    pub fetches: HashMap<i64, FetchInfo>,
    pub introspection: Vec<IntrospectionField>,
    /// The size of the last answer, bytes: the next one's buffer is made
    /// about this big (no regrowing, no doubling past it).
    pub answer_size: std::sync::atomic::AtomicUsize,
}

/// Settings of preparation.
#[derive(Debug, Clone, Copy)]
pub struct PrepareSettings {
    pub introspection: bool,
    pub limits: Limits,
    /// How long planning one operation may take.
    pub plan_timeout: Duration,
}

impl Default for PrepareSettings {
    fn default() -> Self {
        Self {
            introspection: true,
            limits: Limits::default(),
            plan_timeout: Duration::from_secs(5),
        }
    }
}

pub type Entry = Result<Arc<Prepared>, Refusal>;

struct Cached {
    text: Box<str>,
    name: Option<Box<str>>,
    entry: Entry,
}

/// An operation being planned now, shared by every identical request that
/// arrives before it is done.
struct InPlanning {
    text: Box<str>,
    name: Option<Box<str>>,
    /// Set once by whichever waiter plans; a waiter that hangs up while
    /// planning leaves the cell empty and the next waiter plans.
    entry: tokio::sync::OnceCell<Entry>,
}

/// The plan cache, and the slots for planning off the async workers.
pub struct Preparer {
    cache: Mutex<LruCache<u64, Cached>>,
    /// Operations being planned, by [`Preparer::key`]: N identical
    /// requests on a cold cache plan once (at start-up, 50 clients asking
    /// one query would otherwise plan it 50 times, two at a time).
    in_planning: Mutex<HashMap<u64, Arc<InPlanning>>>,
    hasher: ahash::RandomState,
    settings: PrepareSettings,
    planning: tokio::sync::Semaphore,
    plans_made: std::sync::atomic::AtomicUsize,
}

impl Preparer {
    pub fn new(capacity: usize, settings: PrepareSettings) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            cache: Mutex::new(LruCache::new(capacity)),
            in_planning: Mutex::new(HashMap::new()),
            plans_made: std::sync::atomic::AtomicUsize::new(0),
            hasher: ahash::RandomState::new(),
            settings,
            // Planning is CPU work on blocking threads: a few at a time.
            planning: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Cached>> {
        // A panic while holding the lock leaves only a cache behind.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, text: &str, name: Option<&str>) -> u64 {
        self.hasher.hash_one((text, name))
    }

    /// How many times an operation was planned (not found in the cache
    /// nor being planned for another request).
    pub fn plans_made(&self) -> usize {
        self.plans_made.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cached entry, if this very text and name were prepared.
    pub fn cached(&self, text: &str, name: Option<&str>) -> Option<Entry> {
        let key = self.key(text, name);
        let mut cache = self.lock();
        let hit = cache.get(&key)?;
        (&*hit.text == text && hit.name.as_deref() == name).then(|| hit.entry.clone())
    }

    /// Prepares `text` (from the cache, or now: the costly part on a
    /// blocking thread with a time limit).
    pub async fn prepare(
        self: &Arc<Self>,
        supergraph: &Arc<Supergraph>,
        text: &str,
        name: Option<&str>,
    ) -> Entry {
        if let Some(hit) = self.cached(text, name) {
            return hit;
        }
        // Cheap refusals first, on this thread: size and shape.
        if text.len() > self.settings.limits.max_bytes {
            return Err(Refusal::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the operation is {} bytes; at most {} are allowed",
                    text.len(),
                    self.settings.limits.max_bytes
                ),
            ));
        }
        let key = self.key(text, name);
        let shared = {
            let mut planning = self.in_planning.lock().unwrap_or_else(|p| p.into_inner());
            let slot = planning.entry(key).or_insert_with(|| {
                Arc::new(InPlanning {
                    text: text.into(),
                    name: name.map(Into::into),
                    entry: tokio::sync::OnceCell::new(),
                })
            });
            // Another text with the same hash plans on its own.
            (&*slot.text == text && slot.name.as_deref() == name).then(|| slot.clone())
        };
        let Some(shared) = shared else {
            return self.plan(supergraph, text, name, key).await;
        };
        let entry = shared
            .entry
            .get_or_init(|| self.plan(supergraph, text, name, key))
            .await
            .clone();
        let mut planning = self.in_planning.lock().unwrap_or_else(|p| p.into_inner());
        if planning
            .get(&key)
            .is_some_and(|slot| Arc::ptr_eq(slot, &shared))
        {
            planning.remove(&key);
        }
        entry
    }

    /// Plans now, on a blocking thread with a time limit, and caches what
    /// is not transient (before the waiters are answered, so that a
    /// request arriving after them finds it).
    async fn plan(
        self: &Arc<Self>,
        supergraph: &Arc<Supergraph>,
        text: &str,
        name: Option<&str>,
        key: u64,
    ) -> Entry {
        let made = {
            let _slot = self.planning.acquire().await;
            self.plans_made
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (this, supergraph) = (self.clone(), supergraph.clone());
            let (owned_text, owned_name) = (text.to_owned(), name.map(str::to_owned));
            let span = tracing::info_span!("graphql plan");
            tokio::task::spawn_blocking(move || {
                span.in_scope(|| {
                    prepare(
                        &supergraph,
                        &owned_text,
                        owned_name.as_deref(),
                        &this.settings,
                    )
                })
            })
            .await
            .unwrap_or_else(|_| {
                Err(Refusal::transient(
                    ErrorCode::QueryPlanningFailed,
                    "planning this operation failed",
                ))
            })
            .map(Arc::new)
        };
        if made.as_ref().is_err_and(|refusal| refusal.transient) {
            return made;
        }
        self.lock().put(
            key,
            Cached {
                text: text.into(),
                name: name.map(Into::into),
                entry: made.clone(),
            },
        );
        made
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal::new(code, message)
}

/// How many validation errors a refusal lists.
const MAX_VALIDATION_ERRORS: usize = 100;

/// The whole preparation of one operation.
pub fn prepare(
    supergraph: &Supergraph,
    text: &str,
    operation_name: Option<&str>,
    settings: &PrepareSettings,
) -> Result<Prepared, Refusal> {
    let text = kit::graphql_text::normalize_unicode_escapes(text);
    let document: Document = graphql_tools::parser::parse_query(&text)
        .map_err(|e| refuse(ErrorCode::GraphqlParseFailed, e.to_string()))?
        .into_static();
    let chosen = choose_operation(&document, operation_name)?;
    let size = measure_text(&text).map_err(|e| refuse(ErrorCode::GraphqlParseFailed, e))?;
    if let Some(over) = size.first_past(&settings.limits) {
        return Err(refuse(ErrorCode::LimitExceeded, over));
    }
    refuse_unserved(&document, chosen.op)?;
    let api = &supergraph.api;
    let mut errors: Vec<GraphqlError> =
        validate(supergraph.api_document(), &document, &validation_plan())
            .into_iter()
            .map(|e| {
                let message = crate::suggest::improve(api, e.error_code, &e.message);
                GraphqlError::new(ErrorCode::GraphqlValidationFailed, message).with_locations(
                    e.locations
                        .iter()
                        .map(|l| Location {
                            line: l.line,
                            column: l.column,
                        })
                        .collect(),
                )
            })
            .collect();
    errors.extend(crate::arguments::check(api, &document));
    if errors.len() > MAX_VALIDATION_ERRORS {
        // As graphql-js does: a client learns enough from the first ones.
        errors.truncate(MAX_VALIDATION_ERRORS);
        errors.push(GraphqlError::new(
            ErrorCode::GraphqlValidationFailed,
            format!("more than {MAX_VALIDATION_ERRORS} validation errors; the rest are not listed"),
        ));
    }
    if !errors.is_empty() {
        return Err(Refusal {
            errors,
            retry_after_secs: None,
            transient: false,
        });
    }
    let variables = variable_specs(chosen.op);
    let name = chosen.name.map(str::to_owned);
    let aliased = with_internal_aliases(document.clone());
    let normalize = |document: &Document| {
        normalize_operation(&supergraph.planner.supergraph, document, name.as_deref())
            .map(|n| n.operation)
            .map_err(|e| refuse(ErrorCode::GraphqlValidationFailed, e.to_string()))
    };
    // The operation as the client wrote it (aliases renamed) shapes the
    // answer; the planner gets it without redundant conditional copies.
    let operation = normalize(&aliased)?;
    let for_planner = match without_covered_conditional_leaves(&aliased) {
        Some(leaner) => normalize(&leaner)?,
        None => operation.clone(),
    };
    let kind = operation
        .operation_kind
        .clone()
        .unwrap_or(OperationKind::Query);
    let introspection = introspection_fields(&operation);
    if !introspection.is_empty() && !settings.introspection {
        return Err(refuse(
            ErrorCode::GraphqlValidationFailed,
            "introspection is disabled on this gateway",
        ));
    }
    let mut to_plan = for_planner;
    to_plan
        .selection_set
        .items
        .retain(|item| !is_introspection(item));
    let needs_subgraphs = to_plan
        .selection_set
        .items
        .iter()
        .any(|item| !matches!(item, SelectionItem::Field(f) if f.name == "__typename"));
    let plan = if needs_subgraphs {
        supergraph
            .planner
            .plan_from_normalized_operation(
                &to_plan,
                PlannerOverrideContext::default(),
                &CancellationToken::with_timeout(settings.plan_timeout),
            )
            .map_err(|e| {
                let message = e.to_string();
                if message.contains("timed out") {
                    Refusal::transient(
                        ErrorCode::LimitExceeded,
                        format!(
                            "planning this operation took longer than the {} ms this gateway allows",
                            settings.plan_timeout.as_millis()
                        ),
                    )
                } else {
                    refuse(ErrorCode::QueryPlanningFailed, message)
                }
            })?
    } else {
        QueryPlan {
            kind: "QueryPlan",
            node: None,
        }
    };
    let root_type = match kind {
        OperationKind::Mutation => api.mutation_type.clone(),
        _ => api.query_type.clone(),
    };
    let projection = ProjectionPlan::build(api, &operation, &root_type);
    let mut plan = plan;
    let mut fetches = HashMap::new();
    if let Some(node) = &mut plan.node {
        for_each_operation(node, &mut fit_for_subgraphs);
        fetch_infos(node, &mut fetches);
    }
    Ok(Prepared {
        operation,
        kind,
        plan,
        projection,
        variables,
        fetches,
        introspection,
        answer_size: std::sync::atomic::AtomicUsize::new(4096),
    })
}

/// The alias of the `__typename` added to objects whose fields may all be
/// skipped.
const NONEMPTY_ALIAS: &str = "_bm_nonempty";

/// What the gateway renames a client's alias to before planning.
pub const ALIAS_PREFIX: &str = "_bm_alias__";

/// The key a client sees for a response key the gateway used.
pub fn client_key(key: &str) -> &str {
    key.strip_prefix(ALIAS_PREFIX).unwrap_or(key)
}

/// The document with every alias made unmistakable: `a: f` becomes
/// `_bm_alias__a: f` (the same for every `a`, so the spec's merging of one
/// response name is kept), and an alias equal to its field's name is
/// dropped. A client alias can then never take the response key of a field
/// the gateway adds itself (an entity key, a `@requires` field,
/// `__typename`), nor confuse the planner about which field a key holds.
/// The projection writes the client's alias back.
fn with_internal_aliases(mut document: Document) -> Document {
    fn set(selection: &mut q::SelectionSet) {
        for item in &mut selection.items {
            match item {
                Selection::Field(field) => {
                    if let Some(alias) = &field.alias {
                        field.alias =
                            (alias != &field.name).then(|| format!("{ALIAS_PREFIX}{alias}"));
                    }
                    set(&mut field.selection_set);
                }
                Selection::InlineFragment(f) => set(&mut f.selection_set),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for def in &mut document.definitions {
        match def {
            Definition::Operation(op) => set(match op {
                QOp::SelectionSet(s) => s,
                QOp::Query(x) => &mut x.selection_set,
                QOp::Mutation(x) => &mut x.selection_set,
                QOp::Subscription(x) => &mut x.selection_set,
            }),
            Definition::Fragment(f) => set(&mut f.selection_set),
        }
    }
    document
}

/// The document without conditional copies of leaves also selected plainly
/// in the same selection set (None when it has none). Field collection
/// always includes such a leaf, so for planning the copy says nothing, and
/// the planner fails on some such sets ("Path … cannot be found in
/// selection set"). Where the field is written is the projection's
/// business, from the document as written.
fn without_covered_conditional_leaves(document: &Document) -> Option<Document> {
    fn set(selection: &mut q::SelectionSet, changed: &mut bool) {
        for item in &mut selection.items {
            match item {
                Selection::Field(field) => set(&mut field.selection_set, changed),
                Selection::InlineFragment(f) => set(&mut f.selection_set, changed),
                Selection::FragmentSpread(_) => {}
            }
        }
        let before = selection.items.len();
        drop_covered_conditional_leaves(selection);
        *changed |= selection.items.len() != before;
    }
    let mut document = document.clone();
    let mut changed = false;
    for def in &mut document.definitions {
        match def {
            Definition::Operation(op) => set(
                match op {
                    QOp::SelectionSet(s) => s,
                    QOp::Query(x) => &mut x.selection_set,
                    QOp::Mutation(x) => &mut x.selection_set,
                    QOp::Subscription(x) => &mut x.selection_set,
                },
                &mut changed,
            ),
            Definition::Fragment(f) => set(&mut f.selection_set, &mut changed),
        }
    }
    changed.then_some(document)
}

fn drop_covered_conditional_leaves(selection: &mut q::SelectionSet) {
    let key = |f: &q::Field| f.alias.clone().unwrap_or_else(|| f.name.clone());
    let unconditional: Vec<(String, &q::Field)> = selection
        .items
        .iter()
        .filter_map(|item| match item {
            Selection::Field(f) if f.selection_set.items.is_empty() && f.directives.is_empty() => {
                Some((key(f), f))
            }
            _ => None,
        })
        .collect();
    if unconditional.is_empty() {
        return;
    }
    let covered: Vec<bool> = selection
        .items
        .iter()
        .map(|item| match item {
            Selection::Field(f)
                if f.selection_set.items.is_empty()
                    && !f.directives.is_empty()
                    && f.directives
                        .iter()
                        .all(|d| d.name == "skip" || d.name == "include") =>
            {
                let k = key(f);
                unconditional
                    .iter()
                    .any(|(uk, u)| *uk == k && u.name == f.name && u.arguments == f.arguments)
            }
            _ => false,
        })
        .collect();
    let mut covered = covered.into_iter();
    selection.items.retain(|_| !covered.next().unwrap_or(false));
}

struct Chosen<'d> {
    op: &'d QOp,
    name: Option<&'d str>,
}

/// The operation to run: the one named, or the only one.
fn choose_operation<'d>(document: &'d Document, name: Option<&str>) -> Result<Chosen<'d>, Refusal> {
    let ops: Vec<(Option<&str>, &QOp)> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some((op_name(op), op)),
            _ => None,
        })
        .collect();
    match name {
        Some(wanted) => ops
            .iter()
            .find(|(n, _)| *n == Some(wanted))
            .map(|(n, op)| Chosen { op, name: *n })
            .ok_or_else(|| {
                refuse(
                    ErrorCode::GraphqlValidationFailed,
                    format!("Unknown operation named \"{wanted}\"."),
                )
            }),
        None => match ops.as_slice() {
            [(n, op)] => Ok(Chosen { op, name: *n }),
            [] => Err(refuse(
                ErrorCode::GraphqlValidationFailed,
                "the document has no operation",
            )),
            _ => Err(refuse(
                ErrorCode::GraphqlValidationFailed,
                "Must provide operation name if query contains multiple operations.",
            )),
        },
    }
}

fn op_name(op: &QOp) -> Option<&str> {
    match op {
        QOp::SelectionSet(_) => None,
        QOp::Query(x) => x.name.as_deref(),
        QOp::Mutation(x) => x.name.as_deref(),
        QOp::Subscription(x) => x.name.as_deref(),
    }
}

/// Subscriptions and `@defer`/`@stream` are refused at validation: this
/// gateway answers each request with one response.
fn refuse_unserved(document: &Document, op: &QOp) -> Result<(), Refusal> {
    if matches!(op, QOp::Subscription(_)) {
        return Err(refuse(
            ErrorCode::GraphqlValidationFailed,
            "subscriptions are not served by this gateway: ask with a query (and poll) instead",
        ));
    }
    fn uses(set: &q::SelectionSet) -> Option<&'static str> {
        set.items.iter().find_map(|item| {
            let (directives, inner): (&[q::Directive], Option<&q::SelectionSet>) = match item {
                Selection::Field(f) => (&f.directives, Some(&f.selection_set)),
                Selection::InlineFragment(f) => (&f.directives, Some(&f.selection_set)),
                Selection::FragmentSpread(s) => (&s.directives, None),
            };
            directives
                .iter()
                .find_map(|d| match d.name.as_str() {
                    "defer" => Some("@defer"),
                    "stream" => Some("@stream"),
                    _ => None,
                })
                .or_else(|| inner.and_then(uses))
        })
    }
    let found = document.definitions.iter().find_map(|d| match d {
        Definition::Operation(op) => uses(selection_set_of(op)),
        Definition::Fragment(f) => uses(&f.selection_set),
    });
    match found {
        Some(directive) => Err(refuse(
            ErrorCode::GraphqlValidationFailed,
            format!(
                "{directive} is not served by this gateway: every answer comes whole in one response; ask without {directive}"
            ),
        )),
        None => Ok(()),
    }
}

fn selection_set_of(op: &QOp) -> &q::SelectionSet {
    match op {
        QOp::SelectionSet(s) => s,
        QOp::Query(x) => &x.selection_set,
        QOp::Mutation(x) => &x.selection_set,
        QOp::Subscription(x) => &x.selection_set,
    }
}

/// The spec's rules, but for values of arguments: `arguments::check` does
/// that, naming the argument.
fn validation_plan() -> ValidationPlan {
    let rules: Vec<Box<dyn ValidationRule>> = vec![
        Box::new(UniqueOperationNames::new()),
        Box::new(LoneAnonymousOperation::new()),
        Box::new(SingleFieldSubscriptions::new()),
        Box::new(KnownTypeNames::new()),
        Box::new(FragmentsOnCompositeTypes::new()),
        Box::new(VariablesAreInputTypes::new()),
        Box::new(LeafFieldSelections::new()),
        Box::new(FieldsOnCorrectType::new()),
        Box::new(UniqueFragmentNames::new()),
        Box::new(KnownFragmentNames::new()),
        Box::new(NoUnusedFragments::new()),
        Box::new(OverlappingFieldsCanBeMerged::new()),
        Box::new(NoFragmentsCycle::new()),
        Box::new(PossibleFragmentSpreads::new()),
        Box::new(NoUnusedVariables::new()),
        Box::new(NoUndefinedVariables::new()),
        Box::new(KnownArgumentNames::new()),
        Box::new(UniqueArgumentNames::new()),
        Box::new(UniqueVariableNames::new()),
        Box::new(ProvidedRequiredArguments::new()),
        Box::new(KnownDirectives::new()),
        Box::new(VariablesInAllowedPosition::new()),
        Box::new(UniqueInputFieldNames::new()),
        Box::new(UniqueDirectivesPerLocation::new()),
    ];
    ValidationPlan::from(rules)
}

fn variable_specs(op: &QOp) -> Vec<VariableSpec> {
    let defs: &[q::VariableDefinition] = match op {
        QOp::SelectionSet(_) => &[],
        QOp::Query(x) => &x.variable_definitions,
        QOp::Mutation(x) => &x.variable_definitions,
        QOp::Subscription(x) => &x.variable_definitions,
    };
    defs.iter()
        .map(|d| VariableSpec {
            name: d.name.clone(),
            ty: FieldType::from_ast(&d.var_type),
            default: d.default_value.as_ref().map(literal_to_json),
        })
        .collect()
}

/// A root `__schema` or `__type` field.
pub fn is_introspection(item: &SelectionItem) -> bool {
    matches!(item, SelectionItem::Field(f) if f.name == "__schema" || f.name == "__type")
}

fn introspection_fields(operation: &OperationDefinition) -> Vec<IntrospectionField> {
    operation
        .selection_set
        .items
        .iter()
        .filter_map(|item| match item {
            SelectionItem::Field(f) if f.name == "__schema" || f.name == "__type" => {
                let type_name = (f.name == "__type").then(|| {
                    match f.arguments.as_ref().and_then(|a| a.get_argument("name")) {
                        Some(PlanValue::Variable(v)) => TypeNameArg::Variable(v.clone()),
                        Some(PlanValue::String(s)) => TypeNameArg::Literal(s.clone()),
                        _ => TypeNameArg::Literal(String::new()),
                    }
                });
                Some(IntrospectionField {
                    response_key: f.alias.clone().unwrap_or_else(|| f.name.clone()),
                    type_name,
                })
            }
            _ => None,
        })
        .collect()
}

/// Each fetch node's request parts.
fn fetch_infos(node: &PlanNode, out: &mut HashMap<i64, FetchInfo>) {
    match node {
        PlanNode::Fetch(f) => {
            let mut json = Vec::with_capacity(f.operation.document_str.len() + 8);
            write_str(&mut json, &f.operation.document_str);
            let doc = &f.operation.document;
            let fragments: BTreeMap<
                &str,
                &hive_router_query_planner::ast::fragment::FragmentDefinition,
            > = doc
                .fragments
                .iter()
                .map(|fr| (fr.name.as_str(), fr))
                .collect();
            let root = &doc.operation.selection_set;
            let entities = root.items.iter().find_map(|i| match i {
                SelectionItem::Field(field) if field.name == "_entities" => Some(field),
                _ => None,
            });
            let (keys, entity_types) = match entities {
                Some(e) => entity_parts(&e.selections, &fragments),
                None => (response_keys(root, &fragments), Vec::new()),
            };
            let root_conditions = match entities {
                Some(_) => None,
                None => root
                    .items
                    .iter()
                    .map(|item| match item {
                        SelectionItem::Field(f)
                            if f.skip_if.is_some() || f.include_if.is_some() =>
                        {
                            Some(Condition {
                                skip_if: f.skip_if.clone(),
                                include_if: f.include_if.clone(),
                            })
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .filter(|all| !all.is_empty()),
            };
            out.insert(
                f.id,
                FetchInfo {
                    query_json: json.into(),
                    root_conditions,
                    keys,
                    entity_types,
                    aliases: HashMap::new(),
                },
            );
        }
        PlanNode::BatchFetch(b) => {
            let mut json = Vec::with_capacity(b.operation.document_str.len() + 8);
            write_str(&mut json, &b.operation.document_str);
            let doc = &b.operation.document;
            let fragments: BTreeMap<
                &str,
                &hive_router_query_planner::ast::fragment::FragmentDefinition,
            > = doc
                .fragments
                .iter()
                .map(|fr| (fr.name.as_str(), fr))
                .collect();
            let aliases = doc
                .operation
                .selection_set
                .items
                .iter()
                .filter_map(|i| match i {
                    SelectionItem::Field(field) if field.name == "_entities" => {
                        let alias = field.alias.clone().unwrap_or_else(|| field.name.clone());
                        let (keys, entity_types) = entity_parts(&field.selections, &fragments);
                        Some((alias, AliasInfo { keys, entity_types }))
                    }
                    _ => None,
                })
                .collect();
            out.insert(
                b.id,
                FetchInfo {
                    query_json: json.into(),
                    root_conditions: None,
                    keys: Vec::new(),
                    entity_types: Vec::new(),
                    aliases,
                },
            );
        }
        PlanNode::Sequence(s) => s.nodes.iter().for_each(|n| fetch_infos(n, out)),
        PlanNode::Parallel(p) => p.nodes.iter().for_each(|n| fetch_infos(n, out)),
        PlanNode::Flatten(f) => fetch_infos(&f.node, out),
        PlanNode::Condition(c) => {
            for n in c.if_clause.iter().chain(c.else_clause.iter()) {
                fetch_infos(n, out);
            }
        }
        PlanNode::Subscription(_) | PlanNode::Defer(_) => {}
    }
}

/// Calls `f` with every subgraph operation of a plan.
fn for_each_operation(node: &mut PlanNode, f: &mut impl FnMut(&mut SubgraphFetchOperation)) {
    match node {
        PlanNode::Fetch(fetch) => f(&mut fetch.operation),
        PlanNode::BatchFetch(batch) => f(&mut batch.operation),
        PlanNode::Sequence(s) => s.nodes.iter_mut().for_each(|n| for_each_operation(n, f)),
        PlanNode::Parallel(p) => p.nodes.iter_mut().for_each(|n| for_each_operation(n, f)),
        PlanNode::Flatten(flatten) => for_each_operation(&mut flatten.node, f),
        PlanNode::Condition(c) => {
            for n in c.if_clause.iter_mut().chain(c.else_clause.iter_mut()) {
                for_each_operation(n, f);
            }
        }
        PlanNode::Subscription(_) | PlanNode::Defer(_) => {}
    }
}

/// Makes subgraph operations fit the subgraphs: every object selects at
/// least one field whatever the variables (where all of an object's fields
/// carry `@skip`/`@include`, it also selects `_bm_nonempty: __typename`),
/// `__typename` is asked without conditions, and variables no longer used
/// are not declared. Some engines
/// (async-graphql among them) answer null for an object whose fields were
/// all skipped, where the spec's answer is `{}`; that null would then null
/// its parents. The text sent is re-rendered from the changed document.
fn fit_for_subgraphs(operation: &mut SubgraphFetchOperation) {
    /// Whether the set yields a field whatever the variables: it has an
    /// unconditional field or a spread of a fragment in `sure_fragments`,
    /// or is made only of unconditional inline fragments that each do (an
    /// `_entities` selection, where each entity's type has its fragment).
    /// The planner's named fragments stand for a whole selection set and
    /// are spread where their type condition is the parent's type.
    fn sure(set: &SelectionSet, sure_fragments: &HashSet<String>) -> bool {
        let unconditional = |item: &SelectionItem| match item {
            SelectionItem::Field(f) => f.skip_if.is_none() && f.include_if.is_none(),
            SelectionItem::FragmentSpread(name) => sure_fragments.contains(name),
            SelectionItem::InlineFragment(_) => false,
        };
        set.items.iter().any(unconditional)
            || (!set.items.is_empty()
                && set.items.iter().all(|item| {
                    matches!(item, SelectionItem::InlineFragment(f)
                        if f.skip_if.is_none() && f.include_if.is_none() && sure(&f.selections, sure_fragments))
                }))
    }
    fn patch(set: &mut SelectionSet, object: bool, sure_fragments: &HashSet<String>) {
        patch_items(set, sure_fragments);
        if object && !sure(set, sure_fragments) {
            // Under an alias of ours: an interface object's subgraph answers
            // its own `__typename` (the interface), which must not be read
            // as the object's type.
            let mut typename = FieldSelection::new_typename();
            typename.alias = Some(NONEMPTY_ALIAS.to_owned());
            set.items.push(SelectionItem::Field(typename));
        }
    }
    fn patch_items(set: &mut SelectionSet, sure_fragments: &HashSet<String>) {
        for item in &mut set.items {
            match item {
                // Asked whatever the variables: the projection decides
                // whether the client sees it, and async-graphql's
                // validation does not count a variable used only in a
                // directive on `__typename` ("Variable "$v" is not used").
                SelectionItem::Field(f) if f.name == "__typename" => {
                    f.skip_if = None;
                    f.include_if = None;
                }
                SelectionItem::Field(f) if !f.selections.items.is_empty() => {
                    patch(&mut f.selections, true, sure_fragments)
                }
                SelectionItem::InlineFragment(f) => patch(&mut f.selections, false, sure_fragments),
                _ => {}
            }
        }
    }
    let document = &mut operation.document;
    // Fragments first: which of them yield a field whatever the variables
    // (a fragment may spread another, so until nothing changes).
    // (Patching adds nothing at a fragment's own level, so this holds
    // after it too.)
    let mut sure_fragments = HashSet::new();
    loop {
        let before = sure_fragments.len();
        for fragment in &document.fragments {
            if sure(&fragment.selection_set, &sure_fragments) {
                sure_fragments.insert(fragment.name.clone());
            }
        }
        if sure_fragments.len() == before {
            break;
        }
    }
    for fragment in &mut document.fragments {
        patch(&mut fragment.selection_set, false, &sure_fragments);
    }
    // The root gets no field of ours: a fetch whose root fields are all
    // excluded is not sent.
    patch_items(&mut document.operation.selection_set, &sure_fragments);
    drop_unused_variables(document);
    let text = document.to_string();
    if text != operation.document_str {
        operation.document_str = text;
    }
}

/// Removes variable definitions the operation no longer uses. The planner
/// keeps a variable whose only use it dropped (`__typename @skip(if: $v)`,
/// answered by the gateway), and a subgraph then refuses the whole
/// operation ("Variable "$v" is not used").
fn drop_unused_variables(document: &mut hive_router_query_planner::ast::document::Document) {
    fn value(v: &PlanValue, used: &mut Vec<String>) {
        match v {
            PlanValue::Variable(name) => used.push(name.clone()),
            PlanValue::List(items) => items.iter().for_each(|i| value(i, used)),
            PlanValue::Object(fields) => fields.values().for_each(|f| value(f, used)),
            _ => {}
        }
    }
    fn set(s: &SelectionSet, used: &mut Vec<String>) {
        for item in &s.items {
            let (skip_if, include_if) = match item {
                SelectionItem::Field(f) => {
                    for v in f.arguments.iter().flat_map(|a| a.values()) {
                        value(v, used);
                    }
                    set(&f.selections, used);
                    (&f.skip_if, &f.include_if)
                }
                SelectionItem::InlineFragment(f) => {
                    set(&f.selections, used);
                    (&f.skip_if, &f.include_if)
                }
                SelectionItem::FragmentSpread(_) => continue,
            };
            used.extend(skip_if.iter().chain(include_if.iter()).cloned());
        }
    }
    let Some(definitions) = &mut document.operation.variable_definitions else {
        return;
    };
    let mut used = Vec::new();
    set(&document.operation.selection_set, &mut used);
    for fragment in &document.fragments {
        set(&fragment.selection_set, &mut used);
    }
    definitions.retain(|d| used.contains(&d.name));
    if definitions.is_empty() {
        document.operation.variable_definitions = None;
    }
}

type Fragments<'f> =
    BTreeMap<&'f str, &'f hive_router_query_planner::ast::fragment::FragmentDefinition>;

/// The keys and types of an `_entities` selection (`... on T { … }`).
fn entity_parts(set: &SelectionSet, fragments: &Fragments<'_>) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut types = Vec::new();
    for item in &set.items {
        let (condition, inner) = match item {
            SelectionItem::InlineFragment(f) => (f.type_condition.as_str(), &f.selections),
            SelectionItem::FragmentSpread(name) => match fragments.get(name.as_str()) {
                Some(fr) => (fr.type_condition.as_str(), &fr.selection_set),
                None => continue,
            },
            SelectionItem::Field(_) => continue,
        };
        if !types.iter().any(|t| t == condition) {
            types.push(condition.to_owned());
        }
        for key in response_keys(inner, fragments) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    (keys, types)
}

fn response_keys(set: &SelectionSet, fragments: &Fragments<'_>) -> Vec<String> {
    let mut keys = Vec::new();
    for item in &set.items {
        match item {
            SelectionItem::Field(f) => {
                let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            SelectionItem::InlineFragment(f) => {
                for k in response_keys(&f.selections, fragments) {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            SelectionItem::FragmentSpread(name) => {
                if let Some(fr) = fragments.get(name.as_str()) {
                    for k in response_keys(&fr.selection_set, fragments) {
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
            }
        }
    }
    keys
}
