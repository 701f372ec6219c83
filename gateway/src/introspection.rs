//! Introspection, answered by the gateway from the supergraph's API schema
//! (inaccessible elements and join machinery already removed): the whole
//! `__Schema` is built once per supergraph as a response tree, and the
//! client's selection is projected onto it like any other data.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use graphql_tools::parser::schema::{
    Definition, Directive, Field, InputValue, Type, TypeDefinition,
};
use graphql_tools::static_graphql::schema::Document as SchemaDocument;
use serde_json::{Value, json};

use crate::json::Doc;

/// The introspection types, as the GraphQL specification defines them.
pub const INTROSPECTION_SDL: &str = r#"
type __Schema { description: String types: [__Type!]! queryType: __Type! mutationType: __Type subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String specifiedByURL: String fields(includeDeprecated: Boolean = false): [__Field!] interfaces: [__Type!] possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean = false): [__EnumValue!] inputFields(includeDeprecated: Boolean = false): [__InputValue!] ofType: __Type isOneOf: Boolean }
type __Field { name: String! description: String args(includeDeprecated: Boolean = false): [__InputValue!]! type: __Type! isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String isDeprecated: Boolean! deprecationReason: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean! deprecationReason: String }
type __Directive { name: String! description: String locations: [__DirectiveLocation!]! args(includeDeprecated: Boolean = false): [__InputValue!]! isRepeatable: Boolean! }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
enum __DirectiveLocation { QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION }
"#;

const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// The `__Schema` answer and each type's `__Type` answer, as documents the
/// projection reads like any subgraph's (keyed by field name).
pub struct Introspection {
    pub schema: Arc<Doc>,
    types: HashMap<String, Arc<Doc>>,
}

fn doc_of(value: &Value) -> Arc<Doc> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    Arc::new(
        Doc::parse(Bytes::from(bytes))
            .unwrap_or_else(|_| Doc::parse(Bytes::from_static(b"null")).expect("null is JSON")),
    )
}

impl Introspection {
    pub fn build(
        api: &SchemaDocument,
        introspection: &SchemaDocument,
        query: &str,
        mutation: Option<&str>,
    ) -> Self {
        let definitions: Vec<&TypeDefinition<'static, String>> = api
            .definitions
            .iter()
            .chain(&introspection.definitions)
            .filter_map(|d| match d {
                Definition::TypeDefinition(t) => Some(t),
                _ => None,
            })
            .collect();
        let kinds: HashMap<&str, &str> = definitions
            .iter()
            .map(|t| (type_name(t), kind_of(t)))
            .chain(BUILT_IN_SCALARS.iter().map(|s| (*s, "SCALAR")))
            .collect();
        let mut possible: HashMap<&str, Vec<&str>> = HashMap::new();
        for t in &definitions {
            match t {
                TypeDefinition::Object(o) => {
                    for i in &o.implements_interfaces {
                        possible
                            .entry(i.as_str())
                            .or_default()
                            .push(o.name.as_str());
                    }
                }
                TypeDefinition::Union(u) => {
                    possible
                        .entry(u.name.as_str())
                        .or_default()
                        .extend(u.types.iter().map(String::as_str));
                }
                _ => {}
            }
        }
        let named = |name: &str| json!({ "kind": kinds.get(name).copied().unwrap_or("SCALAR"), "name": name, "ofType": null });
        let type_ref = |ty: &Type<'static, String>| type_ref(ty, &named);
        // Only names the API schema defines: a union may still list an
        // `@inaccessible` member, an object an inaccessible interface.
        let defined = |n: &str| kinds.contains_key(n);
        let possible_types = |name: &str| {
            Value::Array(
                possible
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter(|n| defined(n))
                    .map(|n| named(n))
                    .collect(),
            )
        };
        let interfaces = |list: &[String]| {
            Value::Array(
                list.iter()
                    .map(String::as_str)
                    .filter(|n| defined(n))
                    .map(named)
                    .collect(),
            )
        };
        let mut types: HashMap<String, Value> = HashMap::new();
        for scalar in BUILT_IN_SCALARS {
            types.insert(scalar.to_owned(), full_type("SCALAR", scalar, None));
        }
        for t in &definitions {
            let name = type_name(t);
            let mut v = full_type(kind_of(t), name, description_of(t));
            match t {
                TypeDefinition::Object(o) => {
                    v["fields"] = fields(&o.fields, &type_ref);
                    v["interfaces"] = interfaces(&o.implements_interfaces);
                }
                TypeDefinition::Interface(i) => {
                    v["fields"] = fields(&i.fields, &type_ref);
                    v["interfaces"] = interfaces(&i.implements_interfaces);
                    v["possibleTypes"] = possible_types(name);
                }
                TypeDefinition::Union(_) => {
                    v["possibleTypes"] = possible_types(name);
                }
                TypeDefinition::Enum(e) => {
                    v["enumValues"] = Value::Array(
                        e.values
                            .iter()
                            .map(|ev| {
                                let (deprecated, reason) = deprecation(&ev.directives);
                                json!({ "name": ev.name, "description": ev.description, "isDeprecated": deprecated, "deprecationReason": reason })
                            })
                            .collect(),
                    );
                }
                TypeDefinition::InputObject(io) => {
                    v["inputFields"] = input_values(&io.fields, &type_ref);
                }
                TypeDefinition::Scalar(_) => {}
            }
            types.insert(name.to_owned(), v);
        }
        let mut all: Vec<&Value> = types.values().collect();
        all.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let directives = vec![
            directive(
                "include",
                "Directs the executor to include this field or fragment only when the `if` argument is true.",
                &["FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"],
                &named,
            ),
            directive(
                "skip",
                "Directs the executor to skip this field or fragment when the `if` argument is true.",
                &["FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"],
                &named,
            ),
        ];
        let schema = json!({
            "description": null,
            "types": all,
            "queryType": types.get(query).cloned().unwrap_or(Value::Null),
            "mutationType": mutation.and_then(|m| types.get(m).cloned()).unwrap_or(Value::Null),
            "subscriptionType": null,
            "directives": directives,
        });
        Self {
            schema: doc_of(&schema),
            types: types.iter().map(|(k, v)| (k.clone(), doc_of(v))).collect(),
        }
    }

    /// `__type(name:)`: the type, or None.
    pub fn type_named(&self, name: &str) -> Option<Arc<Doc>> {
        self.types.get(name).cloned()
    }
}

fn type_name<'t>(t: &'t TypeDefinition<'static, String>) -> &'t str {
    match t {
        TypeDefinition::Scalar(x) => &x.name,
        TypeDefinition::Object(x) => &x.name,
        TypeDefinition::Interface(x) => &x.name,
        TypeDefinition::Union(x) => &x.name,
        TypeDefinition::Enum(x) => &x.name,
        TypeDefinition::InputObject(x) => &x.name,
    }
}

fn description_of<'t>(t: &'t TypeDefinition<'static, String>) -> Option<&'t String> {
    match t {
        TypeDefinition::Scalar(x) => x.description.as_ref(),
        TypeDefinition::Object(x) => x.description.as_ref(),
        TypeDefinition::Interface(x) => x.description.as_ref(),
        TypeDefinition::Union(x) => x.description.as_ref(),
        TypeDefinition::Enum(x) => x.description.as_ref(),
        TypeDefinition::InputObject(x) => x.description.as_ref(),
    }
}

fn kind_of(t: &TypeDefinition<'static, String>) -> &'static str {
    match t {
        TypeDefinition::Scalar(_) => "SCALAR",
        TypeDefinition::Object(_) => "OBJECT",
        TypeDefinition::Interface(_) => "INTERFACE",
        TypeDefinition::Union(_) => "UNION",
        TypeDefinition::Enum(_) => "ENUM",
        TypeDefinition::InputObject(_) => "INPUT_OBJECT",
    }
}

/// A `__Type` with every list null, for its kind to fill in.
fn full_type(kind: &str, name: &str, description: Option<&String>) -> Value {
    json!({
        "kind": kind, "name": name, "description": description, "specifiedByURL": null,
        "fields": null, "interfaces": null, "possibleTypes": null, "enumValues": null,
        "inputFields": null, "ofType": null, "isOneOf": null,
    })
}

fn type_ref(ty: &Type<'static, String>, named: &dyn Fn(&str) -> Value) -> Value {
    match ty {
        Type::NamedType(n) => named(n),
        Type::ListType(inner) => {
            json!({ "kind": "LIST", "name": null, "ofType": type_ref(inner, named) })
        }
        Type::NonNullType(inner) => {
            json!({ "kind": "NON_NULL", "name": null, "ofType": type_ref(inner, named) })
        }
    }
}

fn deprecation(directives: &[Directive<'static, String>]) -> (bool, Value) {
    match directives.iter().find(|d| d.name == "deprecated") {
        None => (false, Value::Null),
        Some(d) => {
            let reason = d
                .arguments
                .iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| Value::String(v.to_string().trim_matches('"').to_owned()))
                .unwrap_or_else(|| Value::String("No longer supported".into()));
            (true, reason)
        }
    }
}

fn fields(
    fields: &[Field<'static, String>],
    type_ref: &dyn Fn(&Type<'static, String>) -> Value,
) -> Value {
    Value::Array(
        fields
            .iter()
            .filter(|f| !f.name.starts_with("__"))
            .map(|f| {
                let (deprecated, reason) = deprecation(&f.directives);
                json!({
                    "name": f.name, "description": f.description,
                    "args": input_values(&f.arguments, type_ref),
                    "type": type_ref(&f.field_type),
                    "isDeprecated": deprecated, "deprecationReason": reason,
                })
            })
            .collect(),
    )
}

fn input_values(
    values: &[InputValue<'static, String>],
    type_ref: &dyn Fn(&Type<'static, String>) -> Value,
) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                let (deprecated, reason) = deprecation(&v.directives);
                json!({
                    "name": v.name, "description": v.description,
                    "type": type_ref(&v.value_type),
                    "defaultValue": v.default_value.as_ref().map(|d| d.to_string()),
                    "isDeprecated": deprecated, "deprecationReason": reason,
                })
            })
            .collect(),
    )
}

fn directive(
    name: &str,
    description: &str,
    locations: &[&str],
    named: &dyn Fn(&str) -> Value,
) -> Value {
    json!({
        "name": name, "description": description, "locations": locations, "isRepeatable": false,
        "args": [{
            "name": "if", "description": null, "defaultValue": null, "isDeprecated": false, "deprecationReason": null,
            "type": { "kind": "NON_NULL", "name": null, "ofType": named("Boolean") },
        }],
    })
}
