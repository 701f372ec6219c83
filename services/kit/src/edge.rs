//! The HTTP edge every process shares, made of tower and tower-http
//! layers: a request body limit and a request timeout on every route of the
//! gateway and of each service ([`bounded`]), and for the gateway CORS
//! ([`cors_layer`]) and response compression ([`compression_layer`]).
//!
//! A body past `http.max_body_bytes` is refused with 413 LIMIT_EXCEEDED
//! before anything parses it; a request still running after
//! `http.request_timeout_ms` is dropped and answered 504 REQUEST_TIMEOUT.
//! Both answers have the GraphQL error shape. A gzip request body
//! (`content-encoding: gzip`) is inflated through the same limit; another
//! encoding is 415.

use std::time::Duration;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, Any};

pub use tower_http::cors::CorsLayer;

use crate::config::{CorsSettings, HttpSettings};
use crate::error::{ApiError, ErrorCode};

/// `routes` with the body limit and the request timeout of `http`. The
/// settings travel with each request (an [`Extension`]) so a handler that
/// reads the body can name the limit in its refusal ([`read_body`]).
pub fn bounded(routes: Router, http: HttpSettings) -> Router {
    routes
        .layer(DefaultBodyLimit::max(http.max_body_bytes))
        // A gzip body (the gateway's to subgraphs, an app's) is read
        // through the body limit: the limit counts what it inflates to.
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(Extension(http))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(timed_out))
                .timeout(Duration::from_millis(http.request_timeout_ms)),
        )
}

/// A body whose declared `content-length` is past the limit is refused at
/// once, before a byte of it is awaited (a client that declares 3 MB and
/// sends nothing must not hold the connection until the timeout).
async fn refuse_declared_oversize(
    Extension(http): Extension<HttpSettings>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > http.max_body_bytes as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            body_too_large(http.max_body_bytes),
        )
            .into_response();
    }
    next.run(request).await
}

/// The answer to a request the timeout stopped (or, never seen so far, any
/// other failure of the layers under it).
async fn timed_out(err: tower::BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            ErrorCode::RequestTimeout,
            "the request took longer than this server allows (http.request_timeout_ms) and was stopped",
        )
        .into_response()
    } else {
        ApiError::internal(&err).into_response()
    }
}

/// The refusal of a body past `max_body_bytes`: 413 LIMIT_EXCEEDED.
pub fn body_too_large(max_body_bytes: usize) -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceeded,
        format!(
            "the request body is larger than the {max_body_bytes} bytes this server reads (http.max_body_bytes)"
        ),
    )
}

/// A request body read within the limit, or the status and error refusing
/// it (the pair is a response): 413 LIMIT_EXCEEDED past the limit, 400
/// BAD_REQUEST when it could not be read at all.
pub fn read_body(
    body: Result<Bytes, BytesRejection>,
    http: Option<Extension<HttpSettings>>,
) -> Result<Bytes, (StatusCode, ApiError)> {
    match body {
        Ok(body) => Ok(body),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = http.map(|e| e.0).unwrap_or_default().max_body_bytes;
            Err((StatusCode::PAYLOAD_TOO_LARGE, body_too_large(limit)))
        }
        Err(rejection) => Err((
            StatusCode::BAD_REQUEST,
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the body could not be read: {rejection}"),
            ),
        )),
    }
}

/// The CORS layer of `settings`, or what is wrong with them (a browser
/// would refuse them, or tower-http could not build them).
pub fn cors_layer(settings: &CorsSettings) -> Result<CorsLayer, String> {
    let mut layer = CorsLayer::new();
    if settings.allow_origins.iter().any(|o| o == "*") {
        if settings.allow_origins.len() > 1 || !settings.match_origins.is_empty() {
            return Err("allow_origins = [\"*\"] lets every origin in: list no other".into());
        }
        if settings.allow_credentials {
            return Err(
                "allow_origins = [\"*\"] cannot go with allow_credentials = true (browsers refuse it): list the origins"
                    .into(),
            );
        }
        layer = layer.allow_origin(Any);
    } else if settings.lets_anyone_in() {
        let exact = settings
            .allow_origins
            .iter()
            .map(|origin| exact_origin(origin))
            .collect::<Result<Vec<_>, _>>()?;
        let patterns = settings
            .match_origins
            .iter()
            .map(|pattern| origin_pattern(pattern, settings.allow_credentials))
            .collect::<Result<Vec<_>, _>>()?;
        layer = layer.allow_origin(AllowOrigin::predicate(move |origin, _| {
            exact.contains(origin)
                || origin
                    .to_str()
                    .is_ok_and(|o| patterns.iter().any(|p| p.is_match(o)))
        }));
    }
    let methods = settings
        .allow_methods
        .iter()
        .map(|m| {
            named("allow_methods", m, |m| {
                Method::from_bytes(m.as_bytes()).ok()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allow_headers = header_names("allow_headers", &settings.allow_headers)?;
    let expose_headers = header_names("expose_headers", &settings.expose_headers)?;
    // `Vary: Origin` only: the preflight's answer lists fixed methods and
    // headers, whatever the request asked, so caches need not key on the
    // requested ones (tower-http's default adds both).
    Ok(layer
        .vary([axum::http::header::ORIGIN])
        .allow_methods(methods)
        .allow_headers(allow_headers)
        .expose_headers(expose_headers)
        .allow_credentials(settings.allow_credentials)
        .max_age(Duration::from_secs(settings.max_age_secs)))
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after,
/// and no `*` (a wildcard is a pattern: `match_origins`).
fn exact_origin(origin: &str) -> Result<HeaderValue, String> {
    if origin.contains('*') {
        return Err(format!(
            "allow_origins: {origin:?} has a `*`: origins are matched exactly; write a pattern in match_origins"
        ));
    }
    let serialized = reqwest::Url::parse(origin)
        .ok()
        .map(|url| url.origin().ascii_serialization());
    match (serialized, HeaderValue::from_str(origin)) {
        (Some(serialized), Ok(value)) if serialized == origin => Ok(value),
        _ => Err(format!(
            "allow_origins: {origin:?} is not an origin (scheme://host[:port], no path or trailing slash)"
        )),
    }
}

/// A pattern over whole origins. One that lets in `null` (sandboxed
/// frames, files) is refused, and with credentials one that lets in any
/// origin (it would be `*` with credentials, which browsers forbid for a
/// reason: every site could act as the signed-in user).
fn origin_pattern(pattern: &str, credentials: bool) -> Result<regex::Regex, String> {
    let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("match_origins: {pattern:?} is not a regular expression: {e}"))?;
    if regex.is_match("null") {
        return Err(format!(
            "match_origins: {pattern:?} lets in the origin `null` (sandboxed frames and files)"
        ));
    }
    if credentials && regex.is_match("https://an-unrelated-site.invalid") {
        return Err(format!(
            "match_origins: {pattern:?} lets in any site, which cannot go with allow_credentials = true"
        ));
    }
    Ok(regex)
}

/// A method or header by name; `*` is refused (it means different things
/// with and without credentials: name what is allowed).
fn named<T>(key: &str, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    if name == "*" {
        return Err(format!("{key}: name each one instead of \"*\""));
    }
    parse(name).ok_or_else(|| format!("{key}: {name:?} is not a valid name"))
}

fn header_names(key: &str, names: &[String]) -> Result<Vec<HeaderName>, String> {
    names
        .iter()
        .map(|n| named(key, n, |n| HeaderName::from_bytes(n.as_bytes()).ok()))
        .collect()
}

/// Answers under this many bytes are sent as they are: they fit a packet
/// either way, and setting up a compressor costs more (tens of µs) than
/// sending them.
pub const COMPRESS_FROM_BYTES: u16 = 1024;

/// Response compression, negotiated from `accept-encoding`: brotli or
/// gzip, at level 1, for answers from [`COMPRESS_FROM_BYTES`] (tower-http
/// also skips ones already encoded). Answers are made per request, so CPU
/// per answer counts more than the last bytes (level 1 is nginx's default
/// for gzip; repetitive JSON still shrinks several times over).
pub fn compression_layer() -> CompressionLayer<
    tower_http::compression::predicate::And<
        tower_http::compression::DefaultPredicate,
        tower_http::compression::predicate::SizeAbove,
    >,
> {
    use tower_http::compression::Predicate as _;
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(1))
        .compress_when(tower_http::compression::DefaultPredicate::new().and(
            tower_http::compression::predicate::SizeAbove::new(COMPRESS_FROM_BYTES),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_a_browser_would_refuse_are_named() {
        let cases = [
            (
                r#"{"match_origins": ["https://.*"], "allow_credentials": true}"#,
                "any site",
            ),
            (r#"{"match_origins": ["[a-z]+"]}"#, "null"),
            (
                r#"{"allow_origins": ["https://*.a.example"]}"#,
                "match_origins",
            ),
            (
                r#"{"allow_origins": ["*"], "allow_credentials": true}"#,
                "allow_credentials",
            ),
            (
                r#"{"allow_origins": ["https://shop.example.com/"]}"#,
                "not an origin",
            ),
            (
                r#"{"match_origins": ["https://("]}"#,
                "not a regular expression",
            ),
            (r#"{"allow_headers": ["*"]}"#, "allow_headers"),
            (r#"{"allow_methods": ["GET POST"]}"#, "allow_methods"),
        ];
        for (settings, named) in cases {
            let settings: CorsSettings = serde_json::from_str(settings).unwrap();
            let err = cors_layer(&settings).unwrap_err();
            assert!(err.contains(named), "{settings:?}: {err}");
        }
        assert!(cors_layer(&CorsSettings::local_pages()).is_ok());
        assert!(cors_layer(&CorsSettings::default()).is_ok());
    }

    #[tokio::test]
    async fn a_declared_oversize_body_is_refused_before_it_is_sent() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let routes = Router::new().route(
            "/graphql",
            axum::routing::post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
        );
        let app = bounded(routes, HttpSettings::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Declares 3 MB, sends nothing, keeps the connection open.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3000000\r\n\r\n",
            )
            .await
            .unwrap();
        let mut answer = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("answered at once, not at the request timeout")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("LIMIT_EXCEEDED"), "{answer}");
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_504_when_the_time_is_up() {
        let routes = Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        let app = bounded(
            routes,
            HttpSettings {
                request_timeout_ms: 200,
                ..HttpSettings::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let started = std::time::Instant::now();
        let response = reqwest::get(format!("http://{addr}/slow")).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(response.status(), 504);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "REQUEST_TIMEOUT");
    }
}
