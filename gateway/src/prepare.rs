//! From operation text to a plan: parse, validate against the API schema
//! (graphql-tools' spec rules), normalise, plan. Results, failures included,
//! are cached by (hash of the text, operation name) in a bounded LRU.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use graphql_tools::validation::rules::default_rules_validation_plan;
use graphql_tools::validation::validate::validate;
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::planner::plan_nodes::QueryPlan;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use hive_router_query_planner::utils::cancellation::CancellationToken;
use lru::LruCache;
use serde_json::{Value, json};

use crate::supergraph::Supergraph;

/// An operation ready to execute.
pub struct Prepared {
    /// The client's operation, normalised (fragments inlined): what the
    /// response is projected onto.
    pub operation: OperationDefinition,
    pub kind: OperationKind,
    pub plan: QueryPlan,
}

/// Why an operation cannot run; each becomes a GraphQL error with a code.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub errors: Vec<Value>,
}

impl Refusal {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            errors: vec![json!({ "message": message.into(), "extensions": { "code": code } })],
        }
    }
}

type Entry = Result<Arc<Prepared>, Refusal>;

/// The plan cache.
pub struct Preparer {
    cache: Mutex<LruCache<(u64, Option<String>), Entry>>,
    /// Whether `__schema` and `__type` are answered.
    introspection: bool,
}

impl Preparer {
    pub fn new(capacity: usize, introspection: bool) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            cache: Mutex::new(LruCache::new(capacity)),
            introspection,
        }
    }

    /// The prepared operation, from the cache or made now.
    pub fn prepare(
        &self,
        supergraph: &Supergraph,
        text: &str,
        operation_name: Option<&str>,
    ) -> Entry {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        let key = (hasher.finish(), operation_name.map(str::to_owned));
        if let Some(hit) = self.lock().get(&key) {
            return hit.clone();
        }
        // Only a miss plans: its span is the request's planning step.
        let made = tracing::info_span!("graphql plan")
            .in_scope(|| prepare(supergraph, text, operation_name, self.introspection))
            .map(Arc::new);
        self.lock().put(key, made.clone());
        made
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(u64, Option<String>), Entry>> {
        // A panic while holding the lock leaves only a cache behind.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A root `__schema` or `__type` field.
pub fn is_introspection(item: &SelectionItem) -> bool {
    matches!(item, SelectionItem::Field(f) if f.name == "__schema" || f.name == "__type")
}

fn prepare(
    supergraph: &Supergraph,
    text: &str,
    operation_name: Option<&str>,
    introspection: bool,
) -> Result<Prepared, Refusal> {
    let document = graphql_tools::parser::parse_query(text)
        .map_err(|e| Refusal::new("GRAPHQL_PARSE_FAILED", e.to_string()))?
        .into_static();
    let errors = validate(
        supergraph.api_document(),
        &document,
        &default_rules_validation_plan(),
    );
    if !errors.is_empty() {
        return Err(Refusal {
            errors: errors
                .into_iter()
                .map(|e| {
                    json!({
                        "message": e.message,
                        "locations": e.locations.iter().map(|l| json!({ "line": l.line, "column": l.column })).collect::<Vec<_>>(),
                        "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
                    })
                })
                .collect(),
        });
    }
    let normalized = normalize_operation(&supergraph.planner.supergraph, &document, operation_name)
        .map_err(|e| Refusal::new("GRAPHQL_VALIDATION_FAILED", e.to_string()))?;
    let operation = normalized.operation;
    let kind = operation
        .operation_kind
        .clone()
        .unwrap_or(OperationKind::Query);
    if kind == OperationKind::Subscription {
        return Err(Refusal::new(
            "GRAPHQL_VALIDATION_FAILED",
            "subscriptions are not served",
        ));
    }
    // Introspection is answered here, not by subgraphs: plan the rest.
    let introspects = operation.selection_set.items.iter().any(is_introspection);
    if introspects && !introspection {
        return Err(Refusal::new(
            "GRAPHQL_VALIDATION_FAILED",
            "introspection is disabled on this gateway",
        ));
    }
    let mut to_plan = operation.clone();
    to_plan
        .selection_set
        .items
        .retain(|item| !is_introspection(item));
    let needs_subgraphs = to_plan
        .selection_set
        .items
        .iter()
        .any(|item| !matches!(item, SelectionItem::Field(f) if f.name == "__typename"));
    if !needs_subgraphs {
        return Ok(Prepared {
            operation,
            kind,
            plan: QueryPlan {
                kind: "QueryPlan",
                node: None,
            },
        });
    }
    let plan = supergraph
        .planner
        .plan_from_normalized_operation(
            &to_plan,
            PlannerOverrideContext::default(),
            &CancellationToken::new(),
        )
        .map_err(|e| Refusal::new("QUERY_PLANNING_FAILED", e.to_string()))?;
    Ok(Prepared {
        operation,
        kind,
        plan,
    })
}
