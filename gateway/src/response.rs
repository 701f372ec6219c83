//! The client's response: the merged data projected onto exactly the
//! client's selection (aliases, fragments, @skip/@include, field order),
//! with nulls propagated as the GraphQL spec requires. A non-null field
//! found null raises a field error at its path, unless an error already
//! accounts for it (a subgraph's, at or above that path).

use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use serde_json::{Map, Value};

use crate::supergraph::{ApiSchema, FieldType};

/// `data` for the client (an object, or null if a non-null root field is
/// null), and the errors the projection adds to `errors`.
pub fn project(
    api: &ApiSchema,
    operation: &OperationDefinition,
    kind: &OperationKind,
    merged: &Value,
    variables: &Map<String, Value>,
    errors: &mut Vec<Value>,
) -> Value {
    let root = match kind {
        OperationKind::Mutation => api.mutation_type.as_str(),
        _ => api.query_type.as_str(),
    };
    let empty = Map::new();
    let obj = merged.as_object().unwrap_or(&empty);
    let mut projector = Projector {
        api,
        variables,
        known_errors: errors.len(),
        errors,
        path: Vec::new(),
    };
    match projector.object(&operation.selection_set, obj, root) {
        Some(out) => Value::Object(out),
        None => Value::Null,
    }
}

struct Projector<'a> {
    api: &'a ApiSchema,
    variables: &'a Map<String, Value>,
    /// Errors before projection: subgraphs' and the gateway's.
    known_errors: usize,
    errors: &'a mut Vec<Value>,
    /// The response path of the value being projected.
    path: Vec<Value>,
}

impl Projector<'_> {
    /// A non-null position is null here: an error says so, unless a known
    /// error already explains it: one without a path, one at or above this
    /// path, or one below it (a subgraph nulled this for it).
    fn null_where_forbidden(&mut self, ty: &FieldType) {
        let here = &self.path;
        let explained = self.errors[..self.known_errors].iter().any(|e| {
            e["path"].as_array().is_none_or(|p| {
                let shared = p.len().min(here.len());
                p[..shared] == here[..shared]
            })
        });
        if !explained {
            self.errors.push(serde_json::json!({
                "message": format!("Cannot return null for non-nullable type {}", ty.display()),
                "path": self.path,
            }));
        }
    }

    fn included(&self, skip_if: &Option<String>, include_if: &Option<String>) -> bool {
        let flag = |name: &String| self.variables.get(name) == Some(&Value::Bool(true));
        !skip_if.as_ref().is_some_and(flag) && include_if.as_ref().is_none_or(flag)
    }

    /// None: a non-null field below is null, so this object is null too.
    fn object(
        &mut self,
        selection: &SelectionSet,
        obj: &Map<String, Value>,
        type_name: &str,
    ) -> Option<Map<String, Value>> {
        let mut out = Map::new();
        self.fill(selection, obj, type_name, &mut out)?;
        Some(out)
    }

    fn fill(
        &mut self,
        selection: &SelectionSet,
        obj: &Map<String, Value>,
        type_name: &str,
        out: &mut Map<String, Value>,
    ) -> Option<()> {
        let actual = obj
            .get("__typename")
            .and_then(Value::as_str)
            .unwrap_or(type_name);
        for item in &selection.items {
            match item {
                SelectionItem::Field(field) => {
                    if field.omit_from_response || !self.included(&field.skip_if, &field.include_if)
                    {
                        continue;
                    }
                    let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
                    if field.name == "__typename" {
                        out.insert(key, Value::String(actual.to_owned()));
                        continue;
                    }
                    let ty = self
                        .api
                        .field(actual, &field.name)
                        .or_else(|| self.api.field(type_name, &field.name));
                    // Subgraph data is keyed by response key; introspection
                    // trees by field name.
                    let raw = obj.get(&key).or_else(|| obj.get(&field.name));
                    match ty {
                        Some(ty) => {
                            self.path.push(Value::String(key.clone()));
                            let v = self.value(&field.selections, raw, ty);
                            self.path.pop();
                            match v {
                                Some(v) => {
                                    out.insert(key, v);
                                }
                                None if ty.non_null() => return None,
                                None => {
                                    out.insert(key, Value::Null);
                                }
                            }
                        }
                        None => {
                            out.insert(key, raw.cloned().unwrap_or(Value::Null));
                        }
                    }
                }
                SelectionItem::InlineFragment(fragment) => {
                    if self.included(&fragment.skip_if, &fragment.include_if)
                        && self.api.matches(&fragment.type_condition, actual)
                    {
                        self.fill(&fragment.selections, obj, actual, out)?;
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
        Some(())
    }

    /// None when the value is null (or unknown) where the type forbids it.
    fn value(
        &mut self,
        selection: &SelectionSet,
        raw: Option<&Value>,
        ty: &FieldType,
    ) -> Option<Value> {
        let nullable = |v: Option<Value>| match v {
            Some(v) => Some(v),
            None if ty.non_null() => None,
            None => Some(Value::Null),
        };
        // Where the null starts (not where it propagates to).
        let missing = match (ty, raw) {
            (_, None | Some(Value::Null)) => true,
            (FieldType::List { .. }, Some(v)) => !v.is_array(),
            (FieldType::Named { .. }, Some(v)) => !selection.items.is_empty() && !v.is_object(),
        };
        if missing {
            if ty.non_null() {
                self.null_where_forbidden(ty);
            }
            return nullable(None);
        }
        let raw = raw?;
        match (ty, raw) {
            (FieldType::List { item, .. }, Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    self.path.push(Value::from(i));
                    let v = self.value(selection, Some(v), item);
                    self.path.pop();
                    match v {
                        Some(v) => out.push(v),
                        None => return nullable(None),
                    }
                }
                Some(Value::Array(out))
            }
            (FieldType::Named { name, .. }, Value::Object(obj)) if !selection.items.is_empty() => {
                nullable(self.object(selection, obj, name).map(Value::Object))
            }
            _ => Some(raw.clone()),
        }
    }
}
