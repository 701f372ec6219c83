//! The client's response: the merged data projected onto exactly the
//! client's selection (aliases, fragments, @skip/@include, field order),
//! with nulls propagated as the GraphQL spec requires. A non-null field
//! found null raises a field error at its path, unless an error already
//! accounts for it (one without a path, or at, above or below that path).

use hive_router_query_planner::ast::operation::OperationDefinition;
use hive_router_query_planner::ast::selection_item::SelectionItem;
use hive_router_query_planner::ast::selection_set::SelectionSet;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use serde_json::{Map, Value};

use crate::supergraph::{ApiSchema, FieldType};

/// `data` for the client (an object, or null if a non-null root field is
/// null), and the errors the projection adds to `errors`.
pub fn project<'a>(
    api: &'a ApiSchema,
    operation: &'a OperationDefinition,
    kind: &OperationKind,
    merged: &Value,
    variables: &'a Map<String, Value>,
    errors: &'a mut Vec<Value>,
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
    /// The response path of the value being projected: borrowed from the
    /// operation, so a field costs no allocation unless an error needs it.
    path: Vec<Step<'a>>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Step<'_> {
    fn same_as(self, json: &Value) -> bool {
        match self {
            Step::Key(k) => json.as_str() == Some(k),
            Step::Index(i) => json.as_u64() == Some(i as u64),
        }
    }

    fn to_json(self) -> Value {
        match self {
            Step::Key(k) => Value::from(k),
            Step::Index(i) => Value::from(i),
        }
    }
}

impl<'a> Projector<'a> {
    /// A non-null position is null here: an error says so, unless a known
    /// error already explains it: one without a path, one at or above this
    /// path, or one below it (a subgraph nulled this for it).
    fn null_where_forbidden(&mut self, ty: &FieldType) {
        let here = &self.path;
        let explained = self.errors[..self.known_errors].iter().any(|e| {
            e["path"]
                .as_array()
                .is_none_or(|p| p.iter().zip(here).all(|(json, step)| step.same_as(json)))
        });
        if !explained {
            let path: Vec<Value> = self.path.iter().map(|s| s.to_json()).collect();
            self.errors.push(serde_json::json!({
                "message": format!("Cannot return null for non-nullable type {}", ty.display()),
                "path": path,
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
        selection: &'a SelectionSet,
        obj: &Map<String, Value>,
        type_name: &str,
    ) -> Option<Map<String, Value>> {
        let mut out = Map::new();
        self.fill(selection, obj, type_name, &mut out)?;
        Some(out)
    }

    fn fill(
        &mut self,
        selection: &'a SelectionSet,
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
                    let key: &'a str = field.alias.as_deref().unwrap_or(&field.name);
                    if field.name == "__typename" {
                        out.insert(key.to_owned(), Value::String(actual.to_owned()));
                        continue;
                    }
                    let ty = self
                        .api
                        .field(actual, &field.name)
                        .or_else(|| self.api.field(type_name, &field.name));
                    // Subgraph data is keyed by response key; introspection
                    // trees by field name.
                    let raw = obj.get(key).or_else(|| obj.get(&field.name));
                    match ty {
                        Some(ty) => {
                            self.path.push(Step::Key(key));
                            let v = self.value(&field.selections, raw, ty);
                            self.path.pop();
                            match v {
                                Some(v) => {
                                    out.insert(key.to_owned(), v);
                                }
                                None if ty.non_null() => return None,
                                None => {
                                    out.insert(key.to_owned(), Value::Null);
                                }
                            }
                        }
                        None => {
                            out.insert(key.to_owned(), raw.cloned().unwrap_or(Value::Null));
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
        selection: &'a SelectionSet,
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
                    self.path.push(Step::Index(i));
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
