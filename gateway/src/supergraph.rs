//! A loaded supergraph: the planner over it, where each subgraph lives, and
//! the facts of its API schema that execution needs (field types for null
//! propagation, possible types for fragments).

use std::collections::{BTreeMap, HashMap, HashSet};

use graphql_tools::parser::schema::{Definition, Type, TypeDefinition};
use graphql_tools::static_graphql::schema::Document as SchemaDocument;
use hive_router_query_planner::planner::{Planner, QueryPlannerOptions};

use crate::introspection::{INTROSPECTION_SDL, Introspection};

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
}

/// The shape of a field's type: nullability at each level of lists.
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

    fn from_ast(ty: &Type<'static, String>) -> Self {
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

/// What execution needs to know of the API schema.
#[derive(Debug, Default)]
pub struct ApiSchema {
    pub query_type: String,
    pub mutation_type: String,
    /// Type → field → its type; looked up by `&str` on every response field.
    fields: HashMap<String, HashMap<String, FieldType>>,
    /// Abstract type → its possible object types.
    possible: HashMap<String, HashSet<String>>,
}

impl ApiSchema {
    fn from_documents(docs: &[&SchemaDocument]) -> Self {
        let mut api = ApiSchema {
            query_type: "Query".to_owned(),
            mutation_type: "Mutation".to_owned(),
            ..Default::default()
        };
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
                    api.add_fields(&object.name, &object.fields);
                    for interface in &object.implements_interfaces {
                        api.possible
                            .entry(interface.clone())
                            .or_default()
                            .insert(object.name.clone());
                    }
                }
                Definition::TypeDefinition(TypeDefinition::Interface(interface)) => {
                    api.add_fields(&interface.name, &interface.fields);
                }
                Definition::TypeDefinition(TypeDefinition::Union(union)) => {
                    api.possible
                        .entry(union.name.clone())
                        .or_default()
                        .extend(union.types.iter().cloned());
                }
                _ => {}
            }
        }
        // The introspection entry points every query type has.
        let root = api.fields.entry(api.query_type.clone()).or_default();
        root.insert(
            "__schema".into(),
            FieldType::Named {
                name: "__Schema".into(),
                non_null: true,
            },
        );
        root.insert(
            "__type".into(),
            FieldType::Named {
                name: "__Type".into(),
                non_null: false,
            },
        );
        api
    }

    fn add_fields(
        &mut self,
        type_name: &str,
        fields: &[graphql_tools::parser::schema::Field<'static, String>],
    ) {
        let known = self.fields.entry(type_name.to_owned()).or_default();
        for field in fields {
            known.insert(field.name.clone(), FieldType::from_ast(&field.field_type));
        }
    }

    /// Whether the schema has a type of this name with fields.
    pub fn has_fields(&self, type_name: &str) -> bool {
        self.fields.contains_key(type_name)
    }

    pub fn field(&self, parent: &str, field: &str) -> Option<&FieldType> {
        self.fields.get(parent)?.get(field)
    }

    /// Whether an object of type `object` matches a fragment on `condition`.
    pub fn matches(&self, condition: &str, object: &str) -> bool {
        condition == object
            || self
                .possible
                .get(condition)
                .is_some_and(|types| types.contains(object))
    }
}

/// A supergraph ready to serve.
pub struct Supergraph {
    pub planner: Planner,
    pub api: ApiSchema,
    /// Subgraph name → URL, from `join__graph(url:)`.
    pub subgraphs: BTreeMap<String, String>,
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
        let api =
            ApiSchema::from_documents(&[&planner.consumer_schema.document, &introspection_types]);
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
}

/// Reads `enum join__Graph { NAME @join__graph(name: "n", url: "u") }`.
fn subgraph_urls(
    doc: &SchemaDocument,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, LoadError> {
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
                out.insert(name, url);
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
            loaded.subgraphs["alliance"],
            "http://127.0.0.1:4004/graphql"
        );
        let overrides =
            BTreeMap::from([("alliance".to_owned(), "http://elsewhere/graphql".to_owned())]);
        let moved = Supergraph::load(SUPERGRAPH, &overrides).unwrap();
        assert_eq!(moved.subgraphs["alliance"], "http://elsewhere/graphql");
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
    fn field_types_know_nullability_and_fragments_match_their_type() {
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
    }
}
