//! Literal values in an operation, checked against the types of the
//! arguments, input fields and variables they are given to: the spec's
//! "values of correct type" rule, with messages that name the argument and
//! the place inside it, and suggest the enum value or input field meant.

use graphql_tools::static_graphql::query::{
    self as q, Definition, Document, OperationDefinition as QOp, Selection,
};
use kit::ErrorCode;

use crate::error::{GraphqlError, Location};
use crate::supergraph::{ApiSchema, FieldType, InputValueDef, TypeKind};

/// Every literal of the document that does not fit its type, as errors.
pub fn check(api: &ApiSchema, document: &Document) -> Vec<GraphqlError> {
    let mut errors = Vec::new();
    for def in &document.definitions {
        match def {
            Definition::Operation(op) => {
                let (root, set, vars): (&str, &q::SelectionSet, &[q::VariableDefinition]) = match op
                {
                    QOp::SelectionSet(s) => (&api.query_type, s, &[]),
                    QOp::Query(x) => (&api.query_type, &x.selection_set, &x.variable_definitions),
                    QOp::Mutation(x) => (
                        &api.mutation_type,
                        &x.selection_set,
                        &x.variable_definitions,
                    ),
                    QOp::Subscription(x) => {
                        ("Subscription", &x.selection_set, &x.variable_definitions)
                    }
                };
                for var in vars {
                    if let Some(default) = &var.default_value {
                        let ty = FieldType::from_ast(&var.var_type);
                        if let Err(why) = literal(api, &ty, default, &format!("${}", var.name)) {
                            errors.push(
                                GraphqlError::new(
                                    ErrorCode::GraphqlValidationFailed,
                                    format!(
                                        "Variable \"${}\" has an invalid default value{why}",
                                        var.name
                                    ),
                                )
                                .with_locations(vec![loc(var.position)]),
                            );
                        }
                    }
                }
                selections(api, root, set, &mut errors);
            }
            Definition::Fragment(f) => {
                let q::TypeCondition::On(on) = &f.type_condition;
                selections(api, on, &f.selection_set, &mut errors);
            }
        }
    }
    errors
}

fn loc(p: graphql_tools::parser::Pos) -> Location {
    Location {
        line: p.line,
        column: p.column,
    }
}

fn selections(
    api: &ApiSchema,
    parent: &str,
    set: &q::SelectionSet,
    errors: &mut Vec<GraphqlError>,
) {
    for item in &set.items {
        match item {
            Selection::Field(field) => {
                directives(api, &field.directives, field.position, errors);
                let Some(def) = api.field_def(parent, &field.name) else {
                    // Unknown fields are another rule's to report.
                    continue;
                };
                for (name, value) in &field.arguments {
                    let Some(arg) = def.args.iter().find(|a| &a.name == name) else {
                        continue;
                    };
                    if let Err(why) = literal(api, &arg.ty, value, name) {
                        errors.push(
                            GraphqlError::new(
                                ErrorCode::GraphqlValidationFailed,
                                format!(
                                    "Argument \"{name}\" of field \"{parent}.{}\" has an invalid value{why}",
                                    field.name
                                ),
                            )
                            .with_locations(vec![loc(field.position)]),
                        );
                    }
                }
                let named = def.ty.named().to_owned();
                selections(api, &named, &field.selection_set, errors);
            }
            Selection::InlineFragment(f) => {
                directives(api, &f.directives, f.position, errors);
                let on = match &f.type_condition {
                    Some(q::TypeCondition::On(t)) => t.as_str(),
                    None => parent,
                };
                selections(api, on, &f.selection_set, errors);
            }
            Selection::FragmentSpread(s) => directives(api, &s.directives, s.position, errors),
        }
    }
}

fn directives(
    api: &ApiSchema,
    list: &[q::Directive],
    at: graphql_tools::parser::Pos,
    errors: &mut Vec<GraphqlError>,
) {
    let boolean = FieldType::Named {
        name: "Boolean".into(),
        non_null: true,
    };
    for d in list
        .iter()
        .filter(|d| d.name == "skip" || d.name == "include")
    {
        for (name, value) in d.arguments.iter().filter(|(n, _)| n == "if") {
            if let Err(why) = literal(api, &boolean, value, name) {
                errors.push(
                    GraphqlError::new(
                        ErrorCode::GraphqlValidationFailed,
                        format!(
                            "Argument \"if\" of directive \"@{}\" has an invalid value{why}",
                            d.name
                        ),
                    )
                    .with_locations(vec![loc(at)]),
                );
            }
        }
    }
}

fn shown(value: &q::Value) -> String {
    value.to_string()
}

/// Ok, or why `value` does not fit `ty` (`: expected …, found …`, with the
/// place when it is inside the value).
fn literal(api: &ApiSchema, ty: &FieldType, value: &q::Value, at: &str) -> Result<(), String> {
    let wrong = |expected: &FieldType, found: &q::Value, place: &str, hint: String| {
        let place = if place.contains(['.', '[']) {
            format!(" at \"{place}\"")
        } else {
            String::new()
        };
        format!(
            "{place}: expected \"{}\", found {}.{hint}",
            expected.display(),
            shown(found)
        )
    };
    if let q::Value::Variable(_) = value {
        // Variables are checked where they are coerced.
        return Ok(());
    }
    if let q::Value::Null = value {
        return if ty.non_null() {
            Err(wrong(ty, value, at, String::new()))
        } else {
            Ok(())
        };
    }
    match ty {
        FieldType::List { item, .. } => match value {
            q::Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    literal(api, item, v, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            single => literal(api, item, single, at),
        },
        FieldType::Named { name, .. } => {
            let fits = match (name.as_str(), value) {
                ("Int", q::Value::Int(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                ("Float", q::Value::Int(_) | q::Value::Float(_)) => true,
                ("String", q::Value::String(_)) => true,
                ("Boolean", q::Value::Boolean(_)) => true,
                ("ID", q::Value::String(_) | q::Value::Int(_)) => true,
                ("Int" | "Float" | "String" | "Boolean" | "ID", _) => false,
                _ => match api.kind(name) {
                    Some(TypeKind::Enum) => {
                        return match value {
                            q::Value::Enum(v) if api.enum_has(name, v) => Ok(()),
                            q::Value::Enum(v) | q::Value::String(v) => Err(wrong(
                                ty,
                                value,
                                at,
                                crate::suggest::did_you_mean(v, api.enum_values(name)),
                            )),
                            _ => Err(wrong(ty, value, at, String::new())),
                        };
                    }
                    Some(TypeKind::InputObject) => {
                        return input_object(api, ty, name, value, at, &wrong);
                    }
                    // The platform's Long, checked here so that no
                    // subgraph sees half a request (kit::scalar).
                    Some(TypeKind::Scalar) if name == kit::scalar::LONG => {
                        let fits = matches!(value, q::Value::Int(n)
                            if n.as_i64().is_some_and(|v| kit::scalar::Long::new(v).is_some()));
                        return if fits {
                            Ok(())
                        } else {
                            Err(wrong(
                                ty,
                                value,
                                at,
                                format!(" A Long is an integer within ±{}.", kit::scalar::MAX_SAFE),
                            ))
                        };
                    }
                    // Any other custom scalar takes any literal: its
                    // subgraph decides.
                    _ => true,
                },
            };
            if fits {
                Ok(())
            } else {
                Err(wrong(ty, value, at, String::new()))
            }
        }
    }
}

fn input_object(
    api: &ApiSchema,
    ty: &FieldType,
    name: &str,
    value: &q::Value,
    at: &str,
    wrong: &dyn Fn(&FieldType, &q::Value, &str, String) -> String,
) -> Result<(), String> {
    let q::Value::Object(given) = value else {
        return Err(wrong(ty, value, at, String::new()));
    };
    let fields: &[InputValueDef] = api.input_fields(name).unwrap_or_default();
    for (key, v) in given {
        let Some(field) = fields.iter().find(|f| &f.name == key) else {
            return Err(format!(
                " at \"{at}\": {name} has no field \"{key}\".{}",
                crate::suggest::did_you_mean(key, fields.iter().map(|f| f.name.as_str()))
            ));
        };
        literal(api, &field.ty, v, &format!("{at}.{key}"))?;
    }
    if let Some(missing) = fields.iter().find(|f| {
        f.ty.non_null() && f.default.is_none() && !given.iter().any(|(k, _)| *k == f.name)
    }) {
        return Err(format!(
            " at \"{at}\": the field \"{}\" of type \"{}\" is required, and not provided.",
            missing.name,
            missing.ty.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::supergraph::Supergraph;

    fn errors(text: &str) -> Vec<String> {
        let sg = Supergraph::load(
            include_str!("../../schema/supergraph.graphql"),
            &BTreeMap::new(),
        )
        .unwrap();
        let doc = graphql_tools::parser::parse_query::<String>(text)
            .unwrap()
            .into_static();
        check(&sg.api, &doc)
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn a_wrong_literal_names_its_argument() {
        let e = errors(
            r#"{ storesNear(lat: "x", lng: 121.47, radiusKm: 5) { edges { distanceMeters } } }"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("Argument \"lat\" of field \"Query.storesNear\"")
                && e[0].contains("expected \"Float!\", found \"x\""),
            "{}",
            e[0]
        );
    }

    #[test]
    fn enum_values_and_input_fields_are_suggested_and_placed() {
        let e = errors(
            r#"mutation { placeOrder(input: { channel: APPP, fulfilment: SHIP, lines: [{ skuId: "s", quantity: 1 }], idempotencyKey: "k" }) { id } }"#,
        );
        assert!(
            e[0].contains("at \"input.channel\"") && e[0].contains("Did you mean \"APP\"?"),
            "{e:?}"
        );
        let e = errors(
            r#"mutation { placeOrder(input: { channel: APP, fulfilment: SHIP, lines: [{ skuId: "s", quantity: "1" }], idempotencyKey: "k" }) { id } }"#,
        );
        assert!(e[0].contains("at \"input.lines[0].quantity\""), "{e:?}");
        assert!(errors("{ programmes { id } }").is_empty());
        assert!(
            errors(r#"query($c: Channel = FAXX) { programmes { id } }"#)[0]
                .contains("Variable \"$c\" has an invalid default value")
        );
    }
}
