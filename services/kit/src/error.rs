//! The shared error codes and the one error shape every service returns.
//!
//! Each service crate has its own domain error enum and maps it onto an
//! [`ApiError`]; `ApiError` is what resolvers return and what reaches clients
//! as a GraphQL error with `extensions.code`.

use std::fmt;

use async_graphql::ErrorExtensions as _;

/// The codes a client can see in `extensions.code`: one list for the
/// platform, services and gateway alike. The README's table is generated
/// from [`ErrorCode::all`] and checked against it by the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumIter)]
pub enum ErrorCode {
    BadUserInput,
    NotFound,
    Forbidden,
    Unauthenticated,
    Conflict,
    InsufficientPoints,
    OutOfStock,
    QuoteExpired,
    QuoteUsed,
    LimitExceeded,
    GraphqlParseFailed,
    /// The operation does not fit the schema.
    GraphqlValidationFailed,
    QueryPlanningFailed,
    SubgraphUnavailable,
    /// The whole request took longer than `http.request_timeout_ms`.
    RequestTimeout,
    /// The caller's bucket is empty (`gateway.rate_limits`).
    RateLimited,
    /// A `documentId` or APQ hash the gateway does not know.
    PersistedQueryNotFound,
    /// An APQ hash sent where APQ is off.
    PersistedQueryNotSupported,
    /// A document outside the manifest where only trusted documents run.
    PersistedQueryNotInList,
    BadRequest,
    MethodNotAllowed,
    Internal,
}

impl ErrorCode {
    /// Every code, in the order the README lists them.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::InsufficientPoints => "INSUFFICIENT_POINTS",
            ErrorCode::OutOfStock => "OUT_OF_STOCK",
            ErrorCode::QuoteExpired => "QUOTE_EXPIRED",
            ErrorCode::QuoteUsed => "QUOTE_USED",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            ErrorCode::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            ErrorCode::QueryPlanningFailed => "QUERY_PLANNING_FAILED",
            ErrorCode::SubgraphUnavailable => "SUBGRAPH_UNAVAILABLE",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            ErrorCode::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// What the code means, and who sends it: one line for the README.
    pub const fn meaning(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => {
                "an argument or input field is invalid; `extensions.field` names it"
            }
            ErrorCode::NotFound => "the thing asked for does not exist (or not for this caller)",
            ErrorCode::Forbidden => "the caller is known but may not do this",
            ErrorCode::Unauthenticated => {
                "no token where one is needed, or a token that is invalid or expired (HTTP 401)"
            }
            ErrorCode::Conflict => {
                "the request contradicts the current state (a used idempotency key with other input, a state change out of order)"
            }
            ErrorCode::InsufficientPoints => {
                "the account's active balance does not cover the debit"
            }
            ErrorCode::OutOfStock => {
                "a line cannot be reserved; the message names the SKU and what is available"
            }
            ErrorCode::QuoteExpired => "the exchange quote's hold has passed",
            ErrorCode::QuoteUsed => "the exchange quote was already confirmed",
            ErrorCode::LimitExceeded => {
                "a limit is passed: an exchange past the member's daily or yearly limit, an amount (balance, stock, total) past 2^53 − 1, an operation past the gateway's (size, depth, aliases, planning time), or a request body past `http.max_body_bytes` (HTTP 413)"
            }
            ErrorCode::GraphqlParseFailed => "the operation is not GraphQL (gateway)",
            ErrorCode::GraphqlValidationFailed => {
                "the operation does not fit the schema, or asks for what is not served (@defer, subscriptions)"
            }
            ErrorCode::QueryPlanningFailed => "the gateway could not plan the operation",
            ErrorCode::SubgraphUnavailable => {
                "a service did not answer in time; only its fields are null (`extensions.serviceName`), or a write that needed its answer was refused whole"
            }
            ErrorCode::RequestTimeout => {
                "the request took longer than `http.request_timeout_ms` and was stopped (HTTP 504); a write may or may not have happened: retry with the same idempotency key"
            }
            ErrorCode::RateLimited => {
                "the caller sent more requests than its rate limit allows (HTTP 429); `Retry-After` and `extensions.retryAfterSeconds` say when to try again"
            }
            ErrorCode::PersistedQueryNotFound => {
                "the `documentId` is not in the trusted documents, or no document is stored under the APQ hash (an APQ client then sends the query with the hash)"
            }
            ErrorCode::PersistedQueryNotSupported => {
                "an APQ hash was sent but automatic persisted queries are off (`gateway.documents.apq.enabled`): send the query without the persistedQuery extension"
            }
            ErrorCode::PersistedQueryNotInList => {
                "only trusted documents run (`gateway.documents.mode = \"persisted_only\"`) and this one is not in the manifest"
            }
            ErrorCode::BadRequest => {
                "the HTTP request is not a GraphQL request (body, variables), or a POST does not declare `content-type: application/json`"
            }
            ErrorCode::MethodNotAllowed => "a mutation sent over GET (HTTP 405)",
            ErrorCode::Internal => "an unexpected failure; the detail is in the service's log",
        }
    }

    /// The README's table of codes.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | meaning |\n| --- | --- |\n");
        for code in Self::all() {
            out.push_str(&format!("| `{}` | {} |\n", code.as_str(), code.meaning()));
        }
        out
    }

    /// The HTTP status used when the error is answered outside GraphQL
    /// (the event feed, or a request rejected before execution).
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadUserInput
            | ErrorCode::GraphqlValidationFailed
            | ErrorCode::GraphqlParseFailed
            | ErrorCode::QueryPlanningFailed
            | ErrorCode::PersistedQueryNotSupported
            | ErrorCode::PersistedQueryNotInList
            | ErrorCode::BadRequest => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::PersistedQueryNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict
            | ErrorCode::InsufficientPoints
            | ErrorCode::OutOfStock
            | ErrorCode::QuoteExpired
            | ErrorCode::QuoteUsed
            | ErrorCode::LimitExceeded => 409,
            ErrorCode::SubgraphUnavailable => 503,
            ErrorCode::RequestTimeout => 504,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a client sees it: a code, a message, and for input errors the
/// field at fault.
///
/// It deliberately does not implement `Display`: async-graphql turns any
/// `Display` type into an error without a code, and we want the compiler to
/// route every error through the conversion below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// More `extensions` a client can act on (`available` for
    /// OUT_OF_STOCK…), beside `code` and `field`.
    pub details: Vec<(&'static str, serde_json::Value)>,
}

/// The longest message an error carries, in characters: messages quote
/// what the caller sent (an id, a value), and an answer should not echo a
/// megabyte of it back.
pub const MAX_MESSAGE_CHARS: usize = 1_024;

/// `message`, cut to [`MAX_MESSAGE_CHARS`] with an ellipsis.
fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((end, _)) => format!("{}…", &message[..end]),
    }
}

impl ApiError {
    /// An error with `code`; a message longer than [`MAX_MESSAGE_CHARS`]
    /// is cut there.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: bounded(message.into()),
            field: None,
            details: Vec::new(),
        }
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::BadUserInput, message)
        }
    }

    /// Adds an extension (`extensions.<key>`).
    pub fn with_detail(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        self.details.push((key, value.into()));
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// An unexpected failure. The detail goes to the log (never personal data:
    /// callers pass the error, not the input); the client gets a fixed message.
    pub fn internal(detail: &dyn fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The body of a non-GraphQL error response, in the GraphQL error shape so
    /// that clients parse one format everywhere.
    pub fn to_json(&self) -> serde_json::Value {
        let mut extensions = serde_json::json!({ "code": self.code.as_str() });
        if let Some(field) = &self.field {
            extensions["field"] = serde_json::Value::String(field.clone());
        }
        for (key, value) in &self.details {
            extensions[*key] = value.clone();
        }
        serde_json::json!({ "errors": [{ "message": self.message, "extensions": extensions }] })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let mut error = async_graphql::Error::new(err.message);
        error = error.extend_with(|_, ext| {
            ext.set("code", err.code.as_str());
            if let Some(field) = err.field {
                ext.set("field", field);
            }
            for (key, value) in err.details {
                if let Ok(value) = async_graphql::Value::from_json(value) {
                    ext.set(key, value);
                }
            }
        });
        error
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::internal(&err)
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code.http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.to_json())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// For a service's own error enum that carries shared-code errors as an
/// `Api(ApiError)` variant and database failures as `Db(DbErr)`: the
/// constructors (`invalid`, `not_found`, `conflict`, `forbidden`), `field()`,
/// the conversion from `ApiError`, and the one into an event handler's error.
#[macro_export]
macro_rules! service_error_basics {
    ($error:ident) => {
        impl $error {
            pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
                $error::Api($crate::ApiError::bad_input(field, message))
            }

            pub fn not_found(message: impl Into<String>) -> Self {
                $error::Api($crate::ApiError::not_found(message))
            }

            pub fn conflict(message: impl Into<String>) -> Self {
                $error::Api($crate::ApiError::conflict(message))
            }

            pub fn forbidden(message: impl Into<String>) -> Self {
                $error::Api($crate::ApiError::forbidden(message))
            }

            /// A stored value that no write of ours produces (a row edited by
            /// hand, or by a newer version): the database's fault, so an
            /// INTERNAL_SERVER_ERROR, never the client's BAD_USER_INPUT.
            pub fn corrupt(what: impl ::std::fmt::Display) -> Self {
                $error::Db(::sea_orm::DbErr::Type(format!("corrupt stored value: {what}")))
            }

            /// The input field at fault, for BAD_USER_INPUT.
            pub fn field(&self) -> Option<&str> {
                match self {
                    $error::Api(api) => api.field.as_deref(),
                    _ => None,
                }
            }
        }

        impl From<$crate::ApiError> for $error {
            fn from(err: $crate::ApiError) -> Self {
                $error::Api(err)
            }
        }

        impl From<$crate::idempotency::KeyError> for $error {
            fn from(err: $crate::idempotency::KeyError) -> Self {
                match err {
                    $crate::idempotency::KeyError::Db(db) => $error::Db(db),
                    $crate::idempotency::KeyError::Reused => {
                        $error::Api($crate::idempotency::reused())
                    }
                }
            }
        }

        impl $crate::idempotency::LostRace for $error {
            fn lost_race(&self) -> bool {
                matches!(self, $error::Db(err) if $crate::db::is_unique_violation(err))
            }
        }

        /// In an event handler: a database failure is retried as such; a
        /// service that did not answer makes the event wait (never parked);
        /// a broken rule is reported with its message.
        impl From<$error> for $crate::events::consumer::HandlerError {
            fn from(err: $error) -> Self {
                match err {
                    $error::Db(db) => Self::Db(db),
                    other if other.code() == $crate::ErrorCode::SubgraphUnavailable => {
                        Self::NotYet(other.to_string())
                    }
                    other => Self::Rule(other.to_string()),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_echo_at_most_a_bounded_part_of_the_input() {
        let long = "é".repeat(MAX_MESSAGE_CHARS * 3);
        let error = ApiError::not_found(format!("no partner key {long}"));
        assert_eq!(error.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(error.message.starts_with("no partner key éé"));
        assert!(error.message.ends_with('…'));
        let short = ApiError::not_found("no partner key k1");
        assert_eq!(short.message, "no partner key k1");
        let bad = ApiError::bad_input("keyId", "x".repeat(5_000));
        assert_eq!(bad.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn graphql_error_carries_code_and_field() {
        let err: async_graphql::Error = ApiError::bad_input("phone", "not a phone number").into();
        let ext = serde_json::to_value(err.extensions.unwrap()).unwrap();
        assert_eq!(ext["code"], "BAD_USER_INPUT");
        assert_eq!(ext["field"], "phone");
        assert_eq!(err.message, "not a phone number");
    }

    #[test]
    fn every_code_is_listed_once_with_a_meaning() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::all() {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(!code.meaning().is_empty());
        }
        assert_eq!(ErrorCode::markdown_table().lines().count(), seen.len() + 2);
    }

    #[test]
    fn json_body_has_graphql_shape() {
        let body = ApiError::unauthenticated("token expired").to_json();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert_eq!(body["errors"][0]["message"], "token expired");
        assert_eq!(ErrorCode::Unauthenticated.http_status(), 401);
    }
}
