//! How the gateway reaches subgraphs: one pooled keep-alive HTTP/1.1 client
//! (idle connections closed after `pool_idle_timeout`), a time limit per
//! request, each answer parsed once into a shared [`Doc`], and (for reads,
//! unless turned off) identical requests in flight at the same moment sent
//! once through [`InFlight`]. Identical means the same URL, body (operation
//! and variables) and forwarded headers (trace context and request id
//! aside), so no caller ever sees an answer made for another's credentials
//! or language. Which client headers reach which subgraph is
//! [`HeaderPropagation`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tracing::Instrument as _;

use crate::inflight::InFlight;
use crate::json::{Doc, Kind};

/// What a subgraph answered: its parsed body, and the response headers
/// passed back to the client (`gateway.headers.respond`).
pub type Answer = Result<Arc<Reply>, FetchError>;

/// A subgraph's GraphQL answer.
#[derive(Debug)]
pub struct Reply {
    pub doc: Arc<Doc>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why a subgraph gave no GraphQL answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    TimedOut,
    Unreachable,
    /// The body is not a GraphQL response (with the HTTP status).
    NotGraphql(u16),
    /// The subgraph has no usable URL.
    BadUrl,
}

impl FetchError {
    /// The client-facing message, naming the service.
    pub fn message(&self, service: &str) -> String {
        match self {
            FetchError::TimedOut => format!("subgraph {service} timed out"),
            FetchError::Unreachable => format!("subgraph {service} is unreachable"),
            FetchError::NotGraphql(status) => {
                format!("subgraph {service} answered {status} without a GraphQL response")
            }
            FetchError::BadUrl => format!("subgraph {service} has no usable URL"),
        }
    }
}

/// Names a span as a W3C `traceparent`.
pub type TraceparentOf = Arc<dyn Fn(&tracing::Span) -> Option<String> + Send + Sync>;

/// Each subgraph connection's read buffer.
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// The largest subgraph answer the gateway reads.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// What makes two subgraph requests identical: the URL, the body, and the
/// forwarded headers that can change the answer (trace context and request
/// id are the first caller's: they do not).
#[derive(Clone, PartialEq, Eq, Hash)]
struct FetchKey {
    url: Arc<str>,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Headers that name a request, not what it asks: never part of what makes
/// two requests identical.
const TRACE_CONTEXT: [&str; 3] = ["traceparent", "tracestate", "x-request-id"];

/// The forwarded headers that can change an answer, in a stable order.
pub fn distinguishing<'a>(
    headers: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut kept: Vec<(HeaderName, HeaderValue)> = headers
        .filter(|(name, _)| !TRACE_CONTEXT.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    kept.sort_by(|a, b| {
        a.0.as_str()
            .cmp(b.0.as_str())
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    kept
}

/// Which client request headers go to which subgraph (config
/// `gateway.headers`). Default: `authorization`, `traceparent`,
/// `tracestate` and `x-request-id` to every subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPropagation {
    /// To every subgraph without a list of its own.
    pub forward: Vec<HeaderName>,
    /// A subgraph's own list, by its name in the supergraph.
    pub by_subgraph: std::collections::BTreeMap<String, Vec<HeaderName>>,
    /// Subgraph response headers that come back to the client.
    pub respond: Vec<HeaderName>,
}

impl Default for HeaderPropagation {
    fn default() -> Self {
        use http::header::{AUTHORIZATION, HeaderName};
        Self {
            forward: vec![
                AUTHORIZATION,
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
                HeaderName::from_static("x-request-id"),
            ],
            by_subgraph: Default::default(),
            respond: Vec::new(),
        }
    }
}

impl HeaderPropagation {
    /// From configuration; an invalid header name is an error naming it.
    pub fn from_settings(settings: &kit::config::HeaderSettings) -> Result<Self, String> {
        let mut forward = Vec::new();
        let mut by_subgraph = std::collections::BTreeMap::new();
        for (subgraph, mut names) in settings.lists()? {
            // A name listed twice is sent once.
            let mut seen = std::collections::HashSet::new();
            names.retain(|name| seen.insert(name.clone()));
            match subgraph {
                None => forward = names,
                Some(subgraph) => {
                    by_subgraph.insert(subgraph.to_owned(), names);
                }
            }
        }
        Ok(Self {
            forward,
            by_subgraph,
            respond: settings.respond_list()?,
        })
    }

    /// The headers `subgraph` gets.
    pub fn for_subgraph(&self, subgraph: &str) -> &[HeaderName] {
        self.by_subgraph
            .get(subgraph)
            .map_or(&self.forward[..], Vec::as_slice)
    }

    /// Every header some subgraph gets: what is kept of a client request.
    pub fn any_subgraph(&self) -> impl Iterator<Item = &HeaderName> {
        self.forward
            .iter()
            .chain(self.by_subgraph.values().flatten())
    }

    /// Of a client request's headers, those some subgraph gets.
    pub fn kept(&self, headers: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        for name in self.any_subgraph() {
            if out.contains_key(name) {
                continue;
            }
            for value in headers.get_all(name) {
                out.append(name.clone(), value.clone());
            }
        }
        out
    }
}

pub struct Subgraphs {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    coalesce: bool,
    traceparent_of: Option<TraceparentOf>,
    headers: HeaderPropagation,
    compression: RequestCompression,
    in_flight: InFlight<FetchKey, Answer>,
}

/// Settings of the subgraph client.
#[derive(Clone)]
pub struct ClientSettings {
    pub timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub coalesce: bool,
    pub traceparent_of: Option<TraceparentOf>,
    pub headers: HeaderPropagation,
    pub compression: RequestCompression,
}

/// Which subgraphs get gzipped request bodies
/// (`gateway.compress_subgraph_requests`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RequestCompression {
    #[default]
    None,
    All,
    Only(Vec<String>),
}

impl RequestCompression {
    pub fn from_settings(names: &[String]) -> Self {
        if names.iter().any(|n| n == "*") {
            RequestCompression::All
        } else if names.is_empty() {
            RequestCompression::None
        } else {
            RequestCompression::Only(names.to_vec())
        }
    }

    fn applies_to(&self, subgraph: &str) -> bool {
        match self {
            RequestCompression::None => false,
            RequestCompression::All => true,
            RequestCompression::Only(names) => names.iter().any(|n| n == subgraph),
        }
    }
}

/// Bodies under this are sent as they are: gzip would save little.
pub const COMPRESS_FROM_BYTES: usize = 1024;

/// `body` gzipped (fast level: the gateway's CPU is the scarce part).
fn gzipped(body: &[u8]) -> Option<Bytes> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

impl Subgraphs {
    pub fn new(settings: ClientSettings) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        // https:// subgraphs too, trusting kit::tls's roots.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*kit::tls::client_config()).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never closes idle connections.
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            // A fixed read buffer per connection: hyper's adaptive one grows
            // to the largest answer a connection has carried and keeps that
            // size while the connection idles in the pool (tens of MB with
            // a few hundred connections); answers are copied out of it once
            // anyway ([`read_body`]).
            .http1_read_buf_exact_size(READ_BUFFER_BYTES)
            .build(connector);
        Self {
            client,
            timeout: settings.timeout,
            coalesce: settings.coalesce,
            traceparent_of: settings.traceparent_of,
            headers: settings.headers,
            compression: settings.compression,
            in_flight: InFlight::default(),
        }
    }

    /// Fetches in flight, shared (tests).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// POSTs `body` to the subgraph at `url`. `shareable`: a read that may
    /// be coalesced with identical ones (never a mutation's fetch).
    pub async fn fetch(
        &self,
        service: &str,
        url: &Arc<str>,
        body: Bytes,
        forwarded: &HeaderMap,
        shareable: bool,
    ) -> Answer {
        let span = tracing::info_span!("subgraph fetch", subgraph = service);
        let headers: Vec<(HeaderName, HeaderValue)> = self
            .headers
            .for_subgraph(service)
            .iter()
            .flat_map(|name| {
                forwarded
                    .get_all(name)
                    .iter()
                    .map(|v| (name.clone(), v.clone()))
            })
            .collect();
        let traceparent = self
            .traceparent_of
            .as_ref()
            .and_then(|name| name(&span))
            .and_then(|t| HeaderValue::from_str(&t).ok());
        let compress = self.compression.applies_to(service);
        if !(self.coalesce && shareable) {
            let request = self.send(url.clone(), body, headers, traceparent, compress);
            return request.instrument(span).await;
        }
        let key = FetchKey {
            url: url.clone(),
            body: body.clone(),
            headers: distinguishing(headers.iter().map(|(k, v)| (k, v))),
        };
        let request = self.send(url.clone(), body, headers, traceparent, compress);
        self.in_flight.run(key, request.instrument(span)).await
    }

    fn send(
        &self,
        url: Arc<str>,
        body: Bytes,
        headers: Vec<(HeaderName, HeaderValue)>,
        traceparent: Option<HeaderValue>,
        compress: bool,
    ) -> impl std::future::Future<Output = Answer> + Send + 'static {
        let client = self.client.clone();
        let timeout = self.timeout;
        let respond = self.headers.respond.clone();
        async move {
            let zipped = if compress && body.len() >= COMPRESS_FROM_BYTES {
                gzipped(&body)
            } else {
                None
            };
            let encoded = zipped.is_some();
            let mut request = http::Request::post(&*url)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(Full::new(zipped.unwrap_or(body)))
                .map_err(|_| FetchError::BadUrl)?;
            if encoded {
                request.headers_mut().insert(
                    http::header::CONTENT_ENCODING,
                    HeaderValue::from_static("gzip"),
                );
            }
            let h = request.headers_mut();
            for (name, value) in headers {
                h.append(name, value);
            }
            if let Some(traceparent) = traceparent {
                h.insert("traceparent", traceparent);
            }
            let exchange = async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|_| FetchError::Unreachable)?;
                let status = response.status().as_u16();
                let kept: Vec<(HeaderName, HeaderValue)> = respond
                    .iter()
                    .flat_map(|name| {
                        response
                            .headers()
                            .get_all(name)
                            .iter()
                            .map(|v| (name.clone(), v.clone()))
                    })
                    .collect();
                let bytes = read_body(response.into_body())
                    .await
                    .ok_or(FetchError::Unreachable)?;
                Ok::<_, FetchError>((status, bytes, kept))
            };
            let (status, bytes, headers) = tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| FetchError::TimedOut)??;
            let doc = Doc::parse(bytes).map_err(|_| FetchError::NotGraphql(status))?;
            let root = doc.root();
            let graphql = doc.kind(root) == Kind::Object
                && (doc.get(root, "data").is_some() || doc.get(root, "errors").is_some());
            if !graphql {
                return Err(FetchError::NotGraphql(status));
            }
            Ok(Arc::new(Reply {
                doc: Arc::new(doc),
                headers,
            }))
        }
    }

    /// Whether the subgraph at `url` answers `{ __typename }`.
    pub async fn probe(&self, url: &Arc<str>) -> bool {
        let body = Bytes::from_static(br#"{"query":"{ __typename }"}"#);
        let answer = tokio::time::timeout(
            self.timeout.min(Duration::from_secs(2)),
            self.send(url.clone(), body, Vec::new(), None, false),
        )
        .await;
        matches!(answer, Ok(Ok(reply)) if reply.doc
            .get(reply.doc.root(), "data")
            .and_then(|d| reply.doc.get(d, "__typename"))
            .is_some_and(|t| reply.doc.kind(t) == Kind::String))
    }
}

/// A subgraph answer's body, in one buffer of its own length: an answer
/// that came in one chunk is copied out of it (the chunk is a slice of the
/// connection's 32 KiB read buffer: kept, it would pin that buffer for as
/// long as the request holds the answer, and make hyper allocate another;
/// with nothing shared on The Guild's benchmark that was 10-14 MB of peak
/// RSS); one in many is copied once into a buffer of the announced length
/// (rather than gathered, then copied). None when the connection fails or
/// the body passes [`MAX_ANSWER_BYTES`].
async fn read_body(mut body: hyper::body::Incoming) -> Option<Bytes> {
    use hyper::body::Body as _;
    let announced = body.size_hint().exact().map(|n| n as usize);
    if announced.is_some_and(|n| n > MAX_ANSWER_BYTES) {
        return None;
    }
    let mut gathered: Option<Vec<u8>> = None;
    let mut first: Option<Bytes> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue; // trailers
        };
        match (&mut gathered, first.take()) {
            (None, None) => first = Some(data),
            (None, Some(earlier)) => {
                let mut buffer =
                    Vec::with_capacity(announced.unwrap_or(0).max(earlier.len() + data.len()));
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&data);
                gathered = Some(buffer);
            }
            (Some(buffer), _) => buffer.extend_from_slice(&data),
        }
        let read = gathered
            .as_ref()
            .map_or_else(|| first.as_ref().map_or(0, Bytes::len), Vec::len);
        if read > MAX_ANSWER_BYTES {
            return None;
        }
    }
    Some(match gathered {
        Some(buffer) => Bytes::from(buffer),
        None => first.map_or_else(Bytes::new, |chunk| Bytes::copy_from_slice(&chunk)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_propagation_is_the_configuration_s_default() {
        let configured =
            HeaderPropagation::from_settings(&kit::config::HeaderSettings::default()).unwrap();
        assert_eq!(HeaderPropagation::default(), configured);
    }
}
