//! Everything the gateway says went wrong, as one type: a GraphQL error
//! with a message, an optional code from the platform's one list
//! ([`ErrorCode`]), the response path it belongs to, and the service it
//! came from. The HTTP status of a refused request is decided from the code
//! ([`Refusal::status`]), never by reading JSON back.

use kit::ErrorCode;
use serde_json::{Map, Value};

/// Every code the gateway itself answers with, and when; errors from a
/// subgraph keep the subgraph's code. The README's gateway section is made
/// from this list, and a test holds it to the codes this crate's source
/// uses.
pub const CODES: &[(ErrorCode, &str)] = &[
    (
        ErrorCode::GraphqlParseFailed,
        "the text is not GraphQL (a lone surrogate `\\ud83d` included)",
    ),
    (
        ErrorCode::GraphqlValidationFailed,
        "the operation does not fit the API schema (an `@inaccessible` field included); it uses `@defer`, `@stream` or is a subscription; it holds several operations and no `operationName` names one",
    ),
    (
        ErrorCode::BadUserInput,
        "a variable's value does not fit its type, or a required one is missing; the message names the variable",
    ),
    (
        ErrorCode::LimitExceeded,
        "the document passes a limit (`gateway.limits.*`: bytes, depth, aliases, root fields, fields with fragments written out, fields sharing a response key), the body is over `http.max_body_bytes` (2 MiB by default; HTTP 413), or planning took longer than `gateway.plan_timeout_ms`; the message says what was counted",
    ),
    (
        ErrorCode::QueryPlanningFailed,
        "the planner could not plan the operation",
    ),
    (
        ErrorCode::SubgraphUnavailable,
        "a subgraph was down, answered what is not GraphQL, or took longer than `gateway.subgraph_timeout_ms`; only its fields are null, each with this error at its path (`extensions.serviceName`)",
    ),
    (
        ErrorCode::RequestTimeout,
        "the whole request took longer than `http.request_timeout_ms` (HTTP 504)",
    ),
    (
        ErrorCode::RateLimited,
        "the caller's bucket (`gateway.rate_limits`: its role's, or the operation's) is empty (HTTP 429 with `Retry-After`; `extensions.retryAfterSeconds`)",
    ),
    (
        ErrorCode::PersistedQueryNotFound,
        "a `documentId` not in the manifest, or an APQ hash with no document stored under it (an APQ client sends the query again with the hash)",
    ),
    (
        ErrorCode::PersistedQueryNotSupported,
        "an APQ hash where `gateway.documents.apq.enabled = false`",
    ),
    (
        ErrorCode::PersistedQueryNotInList,
        "`gateway.documents.mode = \"persisted_only\"` and the document is not in the manifest (APQ cannot register it either)",
    ),
    (
        ErrorCode::Unauthenticated,
        "a bearer token that does not verify (HTTP 401), before any planning",
    ),
    (
        ErrorCode::BadRequest,
        "the HTTP request is not a GraphQL request (HTTP 400: body, JSON, a batch, `variables` or `extensions` not an object; no query, `documentId` or APQ hash, or a `documentId` with a query; an APQ hash that is not the query's SHA-256), or a POST does not declare `content-type: application/json` (HTTP 415)",
    ),
    (
        ErrorCode::MethodNotAllowed,
        "a mutation sent over GET (HTTP 405)",
    ),
];

/// The README's table of the gateway's codes.
pub fn codes_markdown_table() -> String {
    let mut out = String::from("| code | when the gateway answers it |\n| --- | --- |\n");
    for (code, when) in CODES {
        out.push_str(&format!("| `{}` | {when} |\n", code.as_str()));
    }
    out
}

/// A step of a response path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl PathSeg {
    pub fn to_json(path: &[PathSeg]) -> Value {
        Value::Array(
            path.iter()
                .map(|s| match s {
                    PathSeg::Key(k) => Value::String(k.clone()),
                    PathSeg::Index(i) => Value::from(*i),
                })
                .collect(),
        )
    }

    /// A path as a JSON array of keys and indices; None if it is not one.
    pub fn from_json(value: &Value) -> Option<Vec<PathSeg>> {
        value
            .as_array()?
            .iter()
            .map(|v| match v {
                Value::String(k) => Some(PathSeg::Key(k.clone())),
                Value::Number(n) => n.as_u64().map(|i| PathSeg::Index(i as usize)),
                _ => None,
            })
            .collect()
    }
}

/// A step of a response path, borrowed (from the plan): what paths are
/// made of while walking, turned into [`PathSeg`]s only for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    // A thin pointer: paths are many and short-lived.
    Key(&'a String),
    Index(u32),
}

impl Seg<'_> {
    pub fn owned(path: &[Seg<'_>]) -> Vec<PathSeg> {
        path.iter()
            .map(|s| match s {
                Seg::Key(k) => PathSeg::Key(crate::prepare::client_key(k).to_owned()),
                Seg::Index(i) => PathSeg::Index(*i as usize),
            })
            .collect()
    }

    /// Whether this step is the same as an owned one.
    pub fn same(&self, other: &PathSeg) -> bool {
        match (self, other) {
            (Seg::Key(a), PathSeg::Key(b)) => *a == b,
            (Seg::Index(a), PathSeg::Index(b)) => *a as usize == *b,
            _ => false,
        }
    }
}

/// Where in the client's operation an error points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// One GraphQL error.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    pub message: String,
    /// `extensions.code`; None for the spec's own field errors ("Cannot
    /// return null for non-nullable type…"), which carry no code.
    pub code: Option<ErrorCode>,
    pub path: Option<Vec<PathSeg>>,
    pub locations: Vec<Location>,
    /// `extensions.serviceName`: the subgraph it came from.
    pub service: Option<String>,
    /// A subgraph's other extensions, passed on (its own `code` included,
    /// when it is not one of ours).
    pub extensions: Map<String, Value>,
}

impl GraphqlError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: Some(code),
            path: None,
            locations: Vec::new(),
            service: None,
            extensions: Map::new(),
        }
    }

    /// A field error without a code (null where the schema forbids it, an
    /// enum value the graph does not have…).
    pub fn field(message: impl Into<String>, path: Vec<PathSeg>) -> Self {
        Self {
            message: message.into(),
            code: None,
            path: Some(path),
            locations: Vec::new(),
            service: None,
            extensions: Map::new(),
        }
    }

    pub fn at(mut self, path: Vec<PathSeg>) -> Self {
        self.path = Some(path);
        self
    }

    pub fn from_service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    pub fn with_locations(mut self, locations: Vec<Location>) -> Self {
        self.locations = locations;
        self
    }

    /// A subgraph's error as the client sees it: its message, code and
    /// extensions, the service named, without its `locations` (they point
    /// into the subgraph's operation) and without its path (the caller
    /// re-paths it).
    pub fn from_subgraph(error: &Value, service: &str) -> Self {
        let message = error["message"]
            .as_str()
            .unwrap_or("the subgraph answered an error without a message")
            .to_owned();
        let mut extensions = error["extensions"].as_object().cloned().unwrap_or_default();
        extensions.remove("serviceName");
        Self {
            message,
            code: None,
            path: None,
            locations: Vec::new(),
            service: Some(service.to_owned()),
            extensions,
        }
    }

    /// The error as JSON: message, locations, path, extensions.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("message".into(), Value::String(self.message.clone()));
        if !self.locations.is_empty() {
            obj.insert(
                "locations".into(),
                Value::Array(
                    self.locations
                        .iter()
                        .map(|l| serde_json::json!({ "line": l.line, "column": l.column }))
                        .collect(),
                ),
            );
        }
        if let Some(path) = &self.path {
            obj.insert("path".into(), PathSeg::to_json(path));
        }
        let mut ext = self.extensions.clone();
        if let Some(code) = self.code {
            ext.insert("code".into(), Value::String(code.as_str().to_owned()));
        }
        if let Some(service) = &self.service {
            ext.insert("serviceName".into(), Value::String(service.clone()));
        }
        if !ext.is_empty() {
            obj.insert("extensions".into(), Value::Object(ext));
        }
        Value::Object(obj)
    }

    /// Appends the error's JSON to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        // Errors are few: serde_json's writer is plenty.
        let _ = serde_json::to_writer(&mut *out, &self.to_json());
    }
}

/// A request the gateway will not run: no data, only errors.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub errors: Vec<GraphqlError>,
    /// Seconds until a rate-limited caller may try again (`Retry-After`).
    pub retry_after_secs: Option<u64>,
    /// The refusal says how the machine was at that moment (planning ran
    /// out of time, or failed), not what the operation is: it is not
    /// remembered for the next identical request.
    pub transient: bool,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            errors: vec![GraphqlError::new(code, message)],
            retry_after_secs: None,
            transient: false,
        }
    }

    /// RATE_LIMITED (HTTP 429): the caller's bucket `which` is empty.
    pub fn rate_limited(limited: crate::rate_limit::Limited, which: &str) -> Self {
        let secs = limited.retry_after_secs();
        let mut error = GraphqlError::new(
            ErrorCode::RateLimited,
            format!("rate limit of {which} reached: try again in {secs} s"),
        );
        error
            .extensions
            .insert("retryAfterSeconds".into(), Value::from(secs));
        Self {
            errors: vec![error],
            retry_after_secs: Some(secs),
            transient: true,
        }
    }

    /// A refusal of this moment only (see [`Refusal::transient`]).
    pub fn transient(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            transient: true,
            ..Self::new(code, message)
        }
    }

    /// The code that decides the HTTP answer: the first error's.
    pub fn code(&self) -> ErrorCode {
        self.errors
            .first()
            .and_then(|e| e.code)
            .unwrap_or(ErrorCode::GraphqlValidationFailed)
    }

    /// The HTTP status: a refused token (401) or method (405) whatever the
    /// client accepts, as BAD_REQUEST is 400; other refusals 400 for clients that accept
    /// `application/graphql-response+json`, 200 for the rest (the
    /// GraphQL-over-HTTP rule for `application/json`).
    pub fn status(&self, speaks_graphql_response: bool) -> u16 {
        match self.code() {
            ErrorCode::Unauthenticated => 401,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RateLimited => 429,
            // Not a well-formed GraphQL-over-HTTP request, whatever the
            // client accepts.
            ErrorCode::BadRequest => 400,
            _ if speaks_graphql_response => 400,
            _ => 200,
        }
    }

    /// The response body: `{"errors":[…]}`.
    pub fn body(&self) -> Vec<u8> {
        let mut out = br#"{"errors":["#.to_vec();
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            e.write(&mut out);
        }
        out.extend_from_slice(b"]}");
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listed_codes_are_the_codes_the_source_uses() {
        let sources = [
            include_str!("arguments.rs"),
            include_str!("data.rs"),
            include_str!("documents.rs"),
            // Past the list itself.
            include_str!("error.rs")
                .split_once("pub fn codes_markdown_table")
                .map_or("", |(_, rest)| rest),
            include_str!("execute.rs"),
            include_str!("handlers.rs"),
            include_str!("lib.rs"),
            include_str!("prepare.rs"),
            include_str!("projection.rs"),
            include_str!("subgraph.rs"),
            include_str!("variables.rs"),
            include_str!("limits.rs"),
            include_str!("introspection.rs"),
            include_str!("inflight.rs"),
            include_str!("json.rs"),
            include_str!("suggest.rs"),
            include_str!("supergraph.rs"),
            include_str!("graphiql.rs"),
            include_str!("rate_limit.rs"),
            include_str!("shared_store.rs"),
            // The HTTP edge the gateway shares with the services (body
            // limit, timeout).
            include_str!("../../services/kit/src/edge.rs"),
        ];
        let mut used: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split("ErrorCode::").skip(1))
            .map(|rest| {
                let end = rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|name| name.chars().next().is_some_and(char::is_uppercase))
            .collect();
        used.sort_unstable();
        used.dedup();
        let mut listed: Vec<String> = super::CODES
            .iter()
            .map(|(code, _)| format!("{code:?}"))
            .collect();
        listed.sort_unstable();
        assert_eq!(used, listed, "gateway::error::CODES and the source differ");
    }

    use super::*;

    #[test]
    fn an_error_is_written_in_the_specs_order_with_its_code_and_service() {
        let e = GraphqlError::new(ErrorCode::SubgraphUnavailable, "subgraph store timed out")
            .at(vec![PathSeg::Key("store".into()), PathSeg::Index(2)])
            .from_service("store");
        assert_eq!(
            serde_json::to_string(&e.to_json()).unwrap(),
            r#"{"message":"subgraph store timed out","path":["store",2],"extensions":{"code":"SUBGRAPH_UNAVAILABLE","serviceName":"store"}}"#
        );
        let field = GraphqlError::field("Cannot return null", vec![PathSeg::Key("a".into())]);
        assert_eq!(
            serde_json::to_string(&field.to_json()).unwrap(),
            r#"{"message":"Cannot return null","path":["a"]}"#
        );
    }

    #[test]
    fn a_subgraph_error_keeps_its_extensions_and_loses_its_locations() {
        let raw = serde_json::json!({ "message": "nope", "locations": [{ "line": 1, "column": 2 }],
            "path": ["_entities", 0], "extensions": { "code": "FORBIDDEN", "field": "x" } });
        let e = GraphqlError::from_subgraph(&raw, "member");
        let json = e.to_json();
        assert!(json.get("locations").is_none());
        assert_eq!(json["extensions"]["code"], "FORBIDDEN");
        assert_eq!(json["extensions"]["field"], "x");
        assert_eq!(json["extensions"]["serviceName"], "member");
    }

    #[test]
    fn the_status_follows_the_code_not_the_text() {
        let unauth = Refusal::new(ErrorCode::Unauthenticated, "bad token");
        assert_eq!((unauth.status(true), unauth.status(false)), (401, 401));
        let get = Refusal::new(ErrorCode::MethodNotAllowed, "use POST");
        assert_eq!((get.status(true), get.status(false)), (405, 405));
        let invalid = Refusal::new(ErrorCode::GraphqlValidationFailed, "no such field");
        assert_eq!((invalid.status(true), invalid.status(false)), (400, 200));
        assert_eq!(
            String::from_utf8(invalid.body()).unwrap(),
            r#"{"errors":[{"message":"no such field","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}"#
        );
    }

    #[test]
    fn paths_read_back_from_json() {
        let path = vec![PathSeg::Key("a".into()), PathSeg::Index(3)];
        assert_eq!(PathSeg::from_json(&PathSeg::to_json(&path)), Some(path));
        assert_eq!(PathSeg::from_json(&serde_json::json!(["a", -1])), None);
    }
}
