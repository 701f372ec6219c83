//! Variable coercion, as the GraphQL spec's CoerceVariableValues says,
//! before anything reads a variable: a variable not sent takes its declared
//! default; one that is required and missing, null where the type forbids
//! it, or of the wrong type is refused with an error naming it (and the
//! place inside it). `@skip`/`@include`, plan conditions, the response
//! projection and the variables forwarded to subgraphs all see the coerced
//! values.

use serde_json::{Map, Value};

use crate::supergraph::{ApiSchema, FieldType, TypeKind};

/// A variable an operation declares.
#[derive(Debug, Clone)]
pub struct VariableSpec {
    pub name: String,
    pub ty: FieldType,
    /// The declared default, as JSON.
    pub default: Option<Value>,
}

/// The coerced values: only the variables that have a value (sent, or
/// defaulted); a nullable variable neither sent nor defaulted is absent.
pub type Coerced = Map<String, Value>;

/// Coerces `provided` against `specs`. Variables that are not declared are
/// ignored (the spec leaves them out of the coerced values).
pub fn coerce(
    api: &ApiSchema,
    specs: &[VariableSpec],
    provided: &Map<String, Value>,
) -> Result<Coerced, String> {
    let mut out = Map::new();
    for spec in specs {
        let at = format!("${}", spec.name);
        match provided.get(&spec.name) {
            Some(value) => {
                out.insert(spec.name.clone(), coerce_value(api, &spec.ty, value, &at)?);
            }
            None => match &spec.default {
                Some(default) => {
                    out.insert(spec.name.clone(), default.clone());
                }
                None if spec.ty.non_null() => {
                    return Err(format!(
                        "Variable \"{at}\" of required type \"{}\" was not provided.",
                        spec.ty.display()
                    ));
                }
                None => {}
            },
        }
    }
    Ok(out)
}

fn invalid(at: &str, ty: &FieldType, why: impl std::fmt::Display) -> String {
    let var = at.split(['.', '[']).next().unwrap_or(at);
    if var == at {
        format!(
            "Variable \"{var}\" got an invalid value: {why} (expected type \"{}\").",
            ty.display()
        )
    } else {
        format!(
            "Variable \"{var}\" got an invalid value at \"{at}\": {why} (expected type \"{}\").",
            ty.display()
        )
    }
}

/// Coerces one value against an input type; `at` names where it sits
/// (`$input.lines[0].quantity`).
pub fn coerce_value(
    api: &ApiSchema,
    ty: &FieldType,
    value: &Value,
    at: &str,
) -> Result<Value, String> {
    if value.is_null() {
        return if ty.non_null() {
            Err(invalid(at, ty, "null where a value is required"))
        } else {
            Ok(Value::Null)
        };
    }
    match ty {
        FieldType::List { item, .. } => match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| coerce_value(api, item, v, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            // One value where a list is expected is a list of one.
            single => Ok(Value::Array(vec![coerce_value(api, item, single, at)?])),
        },
        FieldType::Named { name, .. } => coerce_named(api, ty, name, value, at),
    }
}

fn coerce_named(
    api: &ApiSchema,
    ty: &FieldType,
    name: &str,
    value: &Value,
    at: &str,
) -> Result<Value, String> {
    match name {
        "Int" => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(value.clone()),
            Some(_) => Err(invalid(at, ty, format!("{value} is not a 32-bit integer"))),
            None => Err(invalid(at, ty, format!("{value} is not an integer"))),
        },
        "Float" => match value {
            Value::Number(_) => Ok(value.clone()),
            _ => Err(invalid(at, ty, format!("{value} is not a number"))),
        },
        "String" => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(invalid(at, ty, format!("{value} is not a string"))),
        },
        "Boolean" => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(invalid(at, ty, format!("{value} is not a boolean"))),
        },
        "ID" => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Value::String(n.to_string())),
            _ => Err(invalid(at, ty, format!("{value} is not an ID"))),
        },
        _ => match api.kind(name) {
            Some(TypeKind::Enum) => match value.as_str() {
                Some(v) if api.enum_has(name, v) => Ok(value.clone()),
                _ => Err(invalid(
                    at,
                    ty,
                    format!("{value} is not a value of the enum {name}"),
                )),
            },
            Some(TypeKind::InputObject) => coerce_input_object(api, ty, name, value, at),
            // The platform's Long is checked here, so that no subgraph
            // sees half a request (kit::scalar).
            Some(TypeKind::Scalar) if name == kit::scalar::LONG => match value {
                Value::Number(n) => kit::scalar::Long::from_number(n)
                    .map(|_| value.clone())
                    .map_err(|why| invalid(at, ty, why)),
                _ => Err(invalid(at, ty, format!("{value} is not an integer"))),
            },
            // Any other custom scalar: the subgraph that defines it decides.
            Some(TypeKind::Scalar) => Ok(value.clone()),
            _ => Err(invalid(at, ty, format!("{name} is not an input type"))),
        },
    }
}

fn coerce_input_object(
    api: &ApiSchema,
    ty: &FieldType,
    name: &str,
    value: &Value,
    at: &str,
) -> Result<Value, String> {
    let Value::Object(given) = value else {
        return Err(invalid(at, ty, format!("{value} is not an object")));
    };
    let fields = api.input_fields(name).unwrap_or_default();
    if let Some(unknown) = given.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(invalid(
            at,
            ty,
            format!("{name} has no field \"{unknown}\""),
        ));
    }
    let mut out = Map::new();
    for field in fields {
        let inner = format!("{at}.{}", field.name);
        match given.get(&field.name) {
            Some(v) => {
                out.insert(field.name.clone(), coerce_value(api, &field.ty, v, &inner)?);
            }
            None => match &field.default {
                Some(default) => {
                    out.insert(field.name.clone(), default.clone());
                }
                None if field.ty.non_null() => {
                    return Err(invalid(&inner, &field.ty, "required, and not provided"));
                }
                None => {}
            },
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::supergraph::Supergraph;

    fn api() -> Supergraph {
        Supergraph::load(
            include_str!("../../schema/supergraph.graphql"),
            &BTreeMap::new(),
        )
        .unwrap()
    }

    fn spec(name: &str, ty: &str, default: Option<Value>) -> VariableSpec {
        let doc = graphql_tools::parser::parse_query::<String>(&format!(
            "query(${name}: {ty}) {{ __typename }}"
        ))
        .unwrap()
        .into_static();
        let graphql_tools::parser::query::Definition::Operation(
            graphql_tools::parser::query::OperationDefinition::Query(q),
        ) = &doc.definitions[0]
        else {
            unreachable!()
        };
        VariableSpec {
            name: name.into(),
            ty: FieldType::from_ast(&q.variable_definitions[0].var_type),
            default,
        }
    }

    fn run(specs: &[VariableSpec], given: Value) -> Result<Value, String> {
        let s = api();
        coerce(&s.api, specs, given.as_object().unwrap()).map(Value::Object)
    }

    #[test]
    fn a_missing_variable_takes_its_default_and_a_sent_one_wins() {
        let specs = [spec("w", "Boolean!", Some(json!(true)))];
        assert_eq!(run(&specs, json!({})).unwrap(), json!({ "w": true }));
        assert_eq!(
            run(&specs, json!({ "w": false })).unwrap(),
            json!({ "w": false })
        );
        let nullable = [spec("lean", "Boolean", None)];
        assert_eq!(
            run(&nullable, json!({})).unwrap(),
            json!({}),
            "absent, not null"
        );
        assert_eq!(
            run(&nullable, json!({ "lean": null })).unwrap(),
            json!({ "lean": null })
        );
    }

    #[test]
    fn wrong_values_are_refused_naming_the_variable_and_the_place() {
        let required = [spec("id", "ID!", None)];
        let err = run(&required, json!({})).unwrap_err();
        assert!(err.contains("\"$id\"") && err.contains("ID!"), "{err}");
        let err = run(&required, json!({ "id": null })).unwrap_err();
        assert!(err.contains("\"$id\"") && err.contains("null"), "{err}");
        let err = run(&[spec("n", "Int", None)], json!({ "n": "3" })).unwrap_err();
        assert!(err.contains("\"$n\"") && err.contains("Int"), "{err}");
        let err = run(&[spec("n", "Int", None)], json!({ "n": 3_000_000_000u64 })).unwrap_err();
        assert!(err.contains("32-bit"), "{err}");
        let err = run(&[spec("c", "Channel", None)], json!({ "c": "FAX" })).unwrap_err();
        assert!(err.contains("enum Channel"), "{err}");
        let lines = [spec("i", "PlaceOrderInput!", None)];
        let err = run(
            &lines,
            json!({ "i": { "channel": "APP", "fulfilment": "SHIP", "idempotencyKey": "k",
                "lines": [{ "skuId": "s", "quantity": "two" }] } }),
        )
        .unwrap_err();
        assert!(err.contains("$i.lines[0].quantity"), "{err}");
        let err = run(&lines, json!({ "i": { "nope": 1 } })).unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
    }

    #[test]
    fn a_long_is_an_integer_within_two_to_the_53() {
        let long = [spec("n", "Long", None)];
        for ok in [
            json!(0),
            json!(1_i64 << 31),
            json!((1_i64 << 53) - 1),
            json!(-((1_i64 << 53) - 1)),
        ] {
            assert_eq!(run(&long, json!({ "n": ok })).unwrap(), json!({ "n": ok }));
        }
        for bad in [
            json!(1_i64 << 53),
            json!(-(1_i64 << 53)),
            json!(u64::MAX),
            json!(1.5),
            json!("5"),
            json!(true),
        ] {
            let err = run(&long, json!({ "n": bad })).unwrap_err();
            assert!(
                err.contains("\"$n\"") && err.contains("Long"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn lists_ids_and_input_defaults_coerce_as_the_spec_says() {
        assert_eq!(
            run(&[spec("ids", "[ID!]", None)], json!({ "ids": 7 })).unwrap(),
            json!({ "ids": ["7"] }),
            "one value is a list of one; an Int ID becomes a string"
        );
        assert!(run(&[spec("ids", "[ID!]!", None)], json!({ "ids": [null] })).is_err());
    }
}
