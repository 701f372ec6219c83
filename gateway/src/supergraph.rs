//! A loaded supergraph: the planner over it, where each subgraph lives, and
//! the facts of its API schema (what clients may ask: no join machinery,
//! nothing `@inaccessible`) that execution needs: field and argument types,
//! input types for coercing variables, enum values, possible types of
//! abstract types.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use graphql_tools::parser::schema::{Definition, Type, TypeDefinition};
use graphql_tools::static_graphql::schema::Document as SchemaDocument;
use hive_router_query_planner::planner::{Planner, QueryPlannerOptions};

use crate::introspection::{INTROSPECTION_SDL, Introspection};

type Fast<K, V> = HashMap<K, V, ahash::RandomState>;

/// Why a supergraph could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the supergraph is not valid SDL: {0}")]
    Parse(String),
    #[error("the supergraph could not be planned over: {0}")]
    Planner(String),
    #[error("the supergraph names no subgraphs (no join__Graph enum)")]
    NoSubgraphs,
    #[error("subgraph {0} has no url in the supergraph and none is configured")]
    NoUrl(String),
    #[error("{0} names no subgraph of the supergraph (it has: {1})")]
    UnknownSubgraph(String, String),
}

/// The shape of a type reference: nullability at each level of lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Named {
        name: String,
        non_null: bool,
    },
    List {
        item: Box<FieldType>,
        non_null: bool,
    },
}

impl FieldType {
    /// The type as SDL writes it, e.g. `[Product!]!`.
    pub fn display(&self) -> String {
        let (text, non_null) = match self {
            FieldType::Named { name, non_null } => (name.clone(), *non_null),
            FieldType::List { item, non_null } => (format!("[{}]", item.display()), *non_null),
        };
        if non_null { format!("{text}!") } else { text }
    }

    pub fn from_ast(ty: &Type<'static, String>) -> Self {
        match ty {
            Type::NamedType(name) => FieldType::Named {
                name: name.clone(),
                non_null: false,
            },
            Type::ListType(inner) => FieldType::List {
                item: Box::new(Self::from_ast(inner)),
                non_null: false,
            },
            Type::NonNullType(inner) => match Self::from_ast(inner) {
                FieldType::Named { name, .. } => FieldType::Named {
                    name,
                    non_null: true,
                },
                FieldType::List { item, .. } => FieldType::List {
                    item,
                    non_null: true,
                },
            },
        }
    }

    pub fn non_null(&self) -> bool {
        match self {
            FieldType::Named { non_null, .. } | FieldType::List { non_null, .. } => *non_null,
        }
    }

    /// The named type at the bottom of any lists.
    pub fn named(&self) -> &str {
        match self {
            FieldType::Named { name, .. } => name,
            FieldType::List { item, .. } => item.named(),
        }
    }
}

/// What kind of type a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

/// An argument or input field: its type and default.
#[derive(Debug, Clone)]
pub struct InputValueDef {
    pub name: String,
    pub ty: FieldType,
    /// The default as a GraphQL literal, already in JSON.
    pub default: Option<serde_json::Value>,
}

/// An output field: its type and arguments.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub ty: FieldType,
    pub args: Vec<InputValueDef>,
}

/// What execution needs to know of the API schema.
#[derive(Debug, Default)]
pub struct ApiSchema {
    pub query_type: String,
    pub mutation_type: String,
    kinds: Fast<String, TypeKind>,
    /// Type → field → definition.
    fields: Fast<String, Fast<String, FieldDef>>,
    /// Abstract type → its possible object types.
    possible: Fast<String, HashSet<String>>,
    enum_values: Fast<String, HashSet<String>>,
    input_fields: Fast<String, Vec<InputValueDef>>,
    /// (type, field) → the subgraphs where the field is non-null although
    /// the API's type is nullable (`@join__field(type: "ID!")`).
    non_null_in: Fast<(String, String), HashSet<String>>,
}

impl ApiSchema {
    fn from_documents(docs: &[&SchemaDocument]) -> Self {
        let mut api = ApiSchema {
            query_type: "Query".to_owned(),
            mutation_type: "Mutation".to_owned(),
            ..Default::default()
        };
        for scalar in ["String", "Int", "Float", "Boolean", "ID"] {
            api.kinds.insert(scalar.to_owned(), TypeKind::Scalar);
        }
        for def in docs.iter().flat_map(|d| &d.definitions) {
            match def {
                Definition::SchemaDefinition(schema) => {
                    if let Some(q) = &schema.query {
                        api.query_type = q.clone();
                    }
                    if let Some(m) = &schema.mutation {
                        api.mutation_type = m.clone();
                    }
                }
                Definition::TypeDefinition(TypeDefinition::Object(object)) => {
                    api.kinds.insert(object.name.clone(), TypeKind::Object);
                    api.add_fields(&object.name, &object.fields);
                    for interface in &object.implements_interfaces {
                        api.possible
                            .entry(interface.clone())
                            .or_default()
                            .insert(object.name.clone());
                    }
                }
                Definition::TypeDefinition(TypeDefinition::Interface(interface)) => {
                    api.kinds
                        .insert(interface.name.clone(), TypeKind::Interface);
                    api.add_fields(&interface.name, &interface.fields);
                    api.possible.entry(interface.name.clone()).or_default();
                }
                Definition::TypeDefinition(TypeDefinition::Union(union)) => {
                    api.kinds.insert(union.name.clone(), TypeKind::Union);
                    api.possible
                        .entry(union.name.clone())
                        .or_default()
                        .extend(union.types.iter().cloned());
                }
                Definition::TypeDefinition(TypeDefinition::Enum(e)) => {
                    api.kinds.insert(e.name.clone(), TypeKind::Enum);
                    api.enum_values.insert(
                        e.name.clone(),
                        e.values.iter().map(|v| v.name.clone()).collect(),
                    );
                }
                Definition::TypeDefinition(TypeDefinition::Scalar(s)) => {
                    api.kinds.insert(s.name.clone(), TypeKind::Scalar);
                }
                Definition::TypeDefinition(TypeDefinition::InputObject(io)) => {
                    api.kinds.insert(io.name.clone(), TypeKind::InputObject);
                    api.input_fields
                        .insert(io.name.clone(), io.fields.iter().map(input_value).collect());
                }
                _ => {}
            }
        }
        // The introspection entry points every query type has.
        let root = api.fields.entry(api.query_type.clone()).or_default();
        root.insert(
            "__schema".into(),
            FieldDef {
                ty: FieldType::Named {
                    name: "__Schema".into(),
                    non_null: true,
                },
                args: Vec::new(),
            },
        );
        root.insert(
            "__type".into(),
            FieldDef {
                ty: FieldType::Named {
                    name: "__Type".into(),
                    non_null: false,
                },
                args: vec![InputValueDef {
                    name: "name".into(),
                    ty: FieldType::Named {
                        name: "String".into(),
                        non_null: true,
                    },
                    default: None,
                }],
            },
        );
        // A union may still name a member that is `@inaccessible` (and so
        // not an object type here): it is not a possible type, and an
        // answer of that type is a field error, never data.
        let kinds = &api.kinds;
        for members in api.possible.values_mut() {
            members.retain(|t| kinds.get(t) == Some(&TypeKind::Object));
        }
        api
    }

    fn add_fields(
        &mut self,
        type_name: &str,
        fields: &[graphql_tools::parser::schema::Field<'static, String>],
    ) {
        let known = self.fields.entry(type_name.to_owned()).or_default();
        for field in fields {
            known.insert(
                field.name.clone(),
                FieldDef {
                    ty: FieldType::from_ast(&field.field_type),
                    args: field.arguments.iter().map(input_value).collect(),
                },
            );
        }
    }

    /// Whether the schema has a type of this name with fields.
    pub fn has_fields(&self, type_name: &str) -> bool {
        self.fields.contains_key(type_name)
    }

    pub fn kind(&self, type_name: &str) -> Option<TypeKind> {
        self.kinds.get(type_name).copied()
    }

    /// A field's type.
    pub fn field(&self, parent: &str, field: &str) -> Option<&FieldType> {
        Some(&self.fields.get(parent)?.get(field)?.ty)
    }

    /// Whether the field is non-null in the given subgraph: in the API, or
    /// there alone (a key `ID!` in one subgraph and `ID` in another).
    pub fn non_null_in(&self, parent: &str, field: &str, subgraph: &str) -> bool {
        self.field(parent, field).is_some_and(FieldType::non_null)
            || self
                .non_null_in
                .get(&(parent.to_owned(), field.to_owned()))
                .is_some_and(|graphs| graphs.contains(subgraph))
    }

    /// Reads `@join__field(graph: G, type: "T!")` on nullable fields of the
    /// supergraph, naming subgraphs as `join__Graph` does.
    fn note_subgraph_types(&mut self, supergraph: &SchemaDocument) {
        use graphql_tools::parser::schema::Value;
        let mut graph_names: HashMap<String, String> = HashMap::new();
        for def in &supergraph.definitions {
            if let Definition::TypeDefinition(TypeDefinition::Enum(e)) = def
                && e.name == "join__Graph"
            {
                for value in &e.values {
                    for d in value.directives.iter().filter(|d| d.name == "join__graph") {
                        for (k, v) in &d.arguments {
                            if let (true, Value::String(name)) = (k == "name", v) {
                                graph_names.insert(value.name.clone(), name.clone());
                            }
                        }
                    }
                }
            }
        }
        for def in &supergraph.definitions {
            let (type_name, fields) = match def {
                Definition::TypeDefinition(TypeDefinition::Object(o)) => (&o.name, &o.fields),
                Definition::TypeDefinition(TypeDefinition::Interface(i)) => (&i.name, &i.fields),
                _ => continue,
            };
            for field in fields {
                if self
                    .field(type_name, &field.name)
                    .is_none_or(FieldType::non_null)
                {
                    continue;
                }
                for d in field.directives.iter().filter(|d| d.name == "join__field") {
                    let arg = |key: &str| {
                        d.arguments.iter().find_map(|(k, v)| match v {
                            Value::String(s) if k == key => Some(s.as_str()),
                            Value::Enum(s) if k == key => Some(s.as_str()),
                            _ => None,
                        })
                    };
                    let (Some(graph), Some(ty)) = (arg("graph"), arg("type")) else {
                        continue;
                    };
                    if ty.ends_with('!')
                        && let Some(name) = graph_names.get(graph)
                    {
                        self.non_null_in
                            .entry((type_name.clone(), field.name.clone()))
                            .or_default()
                            .insert(name.clone());
                    }
                }
            }
        }
    }

    pub fn field_def(&self, parent: &str, field: &str) -> Option<&FieldDef> {
        self.fields.get(parent)?.get(field)
    }

    /// The names of a type's fields (for suggestions).
    pub fn field_names(&self, parent: &str) -> impl Iterator<Item = &str> {
        self.fields
            .get(parent)
            .into_iter()
            .flat_map(|f| f.keys().map(String::as_str))
            .filter(|n| !n.starts_with("__"))
    }

    /// Every type name (for suggestions).
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// Whether the enum has this value.
    pub fn enum_has(&self, enum_name: &str, value: &str) -> bool {
        self.enum_values
            .get(enum_name)
            .is_some_and(|values| values.contains(value))
    }

    pub fn enum_values(&self, enum_name: &str) -> impl Iterator<Item = &str> {
        self.enum_values
            .get(enum_name)
            .into_iter()
            .flat_map(|v| v.iter().map(String::as_str))
    }

    pub fn input_fields(&self, input: &str) -> Option<&[InputValueDef]> {
        self.input_fields.get(input).map(Vec::as_slice)
    }

    /// Whether a leaf type: a scalar or an enum.
    pub fn is_leaf(&self, type_name: &str) -> bool {
        matches!(
            self.kind(type_name),
            Some(TypeKind::Scalar | TypeKind::Enum)
        )
    }

    /// Whether an object of type `object` matches a fragment on `condition`.
    pub fn matches(&self, condition: &str, object: &str) -> bool {
        condition == object
            || self
                .possible
                .get(condition)
                .is_some_and(|types| types.contains(object))
    }

    /// The object types an abstract type may be; an object type is itself.
    pub fn possible_types<'s>(&'s self, type_name: &'s str) -> Vec<&'s str> {
        match self.possible.get(type_name) {
            Some(types) => {
                let mut t: Vec<&str> = types.iter().map(String::as_str).collect();
                t.sort_unstable();
                t
            }
            None => vec![type_name],
        }
    }

    /// Whether the type may appear in the response as an object's runtime
    /// type: an object type of the API schema (an `@inaccessible` one is
    /// not in it).
    pub fn is_object(&self, type_name: &str) -> bool {
        self.kind(type_name) == Some(TypeKind::Object)
    }
}

fn input_value(v: &graphql_tools::parser::schema::InputValue<'static, String>) -> InputValueDef {
    InputValueDef {
        name: v.name.clone(),
        ty: FieldType::from_ast(&v.value_type),
        default: v.default_value.as_ref().map(literal_to_json),
    }
}

/// A constant GraphQL literal as JSON.
pub fn literal_to_json(
    value: &graphql_tools::parser::query::Value<'static, String>,
) -> serde_json::Value {
    use graphql_tools::parser::query::Value as V;
    match value {
        V::Null | V::Variable(_) => serde_json::Value::Null,
        V::Int(n) => n
            .as_i64()
            .map_or(serde_json::Value::Null, serde_json::Value::from),
        V::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        V::String(s) => serde_json::Value::String(s.clone()),
        V::Boolean(b) => serde_json::Value::Bool(*b),
        V::Enum(e) => serde_json::Value::String(e.clone()),
        V::List(items) => serde_json::Value::Array(items.iter().map(literal_to_json).collect()),
        V::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal_to_json(v)))
                .collect(),
        ),
    }
}

/// A subgraph: its name and where it answers.
#[derive(Debug, Clone)]
pub struct SubgraphInfo {
    pub name: String,
    pub url: Arc<str>,
}

/// A supergraph ready to serve.
pub struct Supergraph {
    pub planner: Planner,
    pub api: ApiSchema,
    /// Subgraphs by name, from `join__graph(url:)` or configuration.
    pub subgraphs: BTreeMap<String, SubgraphInfo>,
    pub introspection: Introspection,
}

impl Supergraph {
    /// Parses and prepares a Federation v2 supergraph. `overrides` replace
    /// subgraph URLs by name.
    pub fn load(sdl: &str, overrides: &BTreeMap<String, String>) -> Result<Self, LoadError> {
        let parsed = graphql_tools::parser::parse_schema(sdl)
            .map_err(|e| LoadError::Parse(e.to_string()))?
            .into_static();
        let subgraphs = subgraph_urls(&parsed, overrides)?;
        let planner = Planner::new_from_supergraph(&parsed, QueryPlannerOptions::default())
            .map_err(|e| LoadError::Planner(e.to_string()))?;
        let introspection_types = graphql_tools::parser::parse_schema(INTROSPECTION_SDL)
            .map_err(|e| LoadError::Parse(e.to_string()))?
            .into_static();
        let mut api =
            ApiSchema::from_documents(&[&planner.consumer_schema.document, &introspection_types]);
        api.note_subgraph_types(&parsed);
        let has_mutation = api.has_fields(&api.mutation_type);
        let introspection = Introspection::build(
            &planner.consumer_schema.document,
            &introspection_types,
            &api.query_type,
            has_mutation.then_some(api.mutation_type.as_str()),
        );
        Ok(Self {
            planner,
            api,
            subgraphs,
            introspection,
        })
    }

    /// The API schema (inaccessible elements and join machinery removed),
    /// which operations are validated against.
    pub fn api_document(&self) -> &SchemaDocument {
        &self.planner.consumer_schema.document
    }

    /// A subgraph by the name a plan uses (case-insensitive as a fallback:
    /// plans name subgraphs as the supergraph's enum does).
    pub fn subgraph(&self, service: &str) -> Option<&SubgraphInfo> {
        self.subgraphs.get(service).or_else(|| {
            self.subgraphs
                .values()
                .find(|s| s.name.eq_ignore_ascii_case(service))
        })
    }
}

/// Reads `enum join__Graph { NAME @join__graph(name: "n", url: "u") }`.
fn subgraph_urls(
    doc: &SchemaDocument,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, SubgraphInfo>, LoadError> {
    use graphql_tools::parser::schema::Value;
    let mut out = BTreeMap::new();
    for def in &doc.definitions {
        let Definition::TypeDefinition(TypeDefinition::Enum(e)) = def else {
            continue;
        };
        if e.name != "join__Graph" {
            continue;
        }
        for value in &e.values {
            for directive in value.directives.iter().filter(|d| d.name == "join__graph") {
                let arg = |key: &str| {
                    directive.arguments.iter().find_map(|(k, v)| match v {
                        Value::String(s) if k == key => Some(s.clone()),
                        _ => None,
                    })
                };
                let name = arg("name").unwrap_or_else(|| value.name.to_lowercase());
                let url = overrides
                    .get(&name)
                    .cloned()
                    .or_else(|| arg("url"))
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| LoadError::NoUrl(name.clone()))?;
                out.insert(
                    name.clone(),
                    SubgraphInfo {
                        name,
                        url: url.into(),
                    },
                );
            }
        }
    }
    if out.is_empty() {
        return Err(LoadError::NoSubgraphs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUPERGRAPH: &str = include_str!("../../schema/supergraph.graphql");

    #[test]
    fn subgraph_urls_come_from_the_supergraph_or_configuration() {
        let loaded = Supergraph::load(SUPERGRAPH, &BTreeMap::new()).unwrap();
        assert_eq!(
            &*loaded.subgraphs["alliance"].url,
            "http://127.0.0.1:4004/graphql"
        );
        let overrides =
            BTreeMap::from([("alliance".to_owned(), "http://elsewhere/graphql".to_owned())]);
        let moved = Supergraph::load(SUPERGRAPH, &overrides).unwrap();
        assert_eq!(
            &*moved.subgraphs["alliance"].url,
            "http://elsewhere/graphql"
        );
        let without = SUPERGRAPH.replace(r#", url: "http://127.0.0.1:4004/graphql""#, "");
        assert!(matches!(
            Supergraph::load(&without, &BTreeMap::new()),
            Err(LoadError::NoUrl(name)) if name == "alliance"
        ));
        assert!(
            Supergraph::load(&without, &overrides).is_ok(),
            "configuration supplies it"
        );
        assert!(matches!(
            Supergraph::load("type {", &BTreeMap::new()),
            Err(LoadError::Parse(_))
        ));
    }

    #[test]
    fn the_api_schema_knows_types_fields_arguments_and_enums() {
        let loaded = Supergraph::load(SUPERGRAPH, &BTreeMap::new()).unwrap();
        let api = &loaded.api;
        assert!(api.field("Query", "programmes").unwrap().non_null());
        assert!(
            !api.field("Brand", "products").unwrap().non_null(),
            "contributed: nullable"
        );
        assert_eq!(api.field("Query", "__schema").unwrap().named(), "__Schema");
        assert!(api.field("Brand", "nope").is_none());
        assert!(api.matches("Brand", "Brand"));
        assert!(!api.matches("Brand", "Store"));
        assert_eq!(api.kind("Channel"), Some(TypeKind::Enum));
        assert!(api.enum_has("Channel", "APP"));
        assert!(!api.enum_has("Channel", "FAX"));
        assert!(api.is_leaf("ID") && api.is_leaf("Channel") && !api.is_leaf("Member"));
        let near = api.field_def("Query", "storesNear").unwrap();
        assert!(near.args.iter().any(|a| a.name == "radiusKm"));
    }
}
