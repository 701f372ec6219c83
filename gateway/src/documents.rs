//! Which operation text a request runs: the `query` it sends, a trusted
//! document it names (`documentId`, from the manifest), or a document
//! registered earlier under its SHA-256 by automatic persisted queries
//! (APQ: `extensions.persistedQuery.sha256Hash`).
//!
//! The manifest is the JSON that front-end tools write: a flat object of
//! id → document (GraphQL Codegen's `persisted-documents.json`, Relay's
//! `persisted_queries.json`), or Apollo's
//! `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","body",…}]}`.
//! Every document is parsed when the manifest loads; a manifest that does
//! not load is refused whole (a reload keeps the old one).
//!
//! `gateway.documents.mode` decides what else runs: `allow_any`, only the
//! manifest's documents (`persisted_only`: a `query` runs only if its text
//! is one of them, and APQ cannot register new ones), or anything with
//! what the manifest lacks logged and counted (`log_unknown`).

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock};

use kit::ErrorCode;
use kit::config::{ApqSettings, DocumentMode, DocumentSettings, SharedStore};
use serde_json::{Map, Value};

use crate::error::Refusal;
use crate::shared_store::RedisStore;

/// The text of the operation a request runs: sent with it, or stored.
#[derive(Clone)]
pub enum DocumentText {
    Sent(String),
    Stored(Arc<str>),
}

impl Deref for DocumentText {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            DocumentText::Sent(s) => s,
            DocumentText::Stored(s) => s,
        }
    }
}

impl PartialEq for DocumentText {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for DocumentText {}

impl std::hash::Hash for DocumentText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for DocumentText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// The trusted documents: by id, and by the SHA-256 of their text (an
/// APQ hash, or a `query` sent in full, finds them too).
#[derive(Debug, Default)]
pub struct Manifest {
    by_id: HashMap<String, Arc<str>>,
    by_hash: HashMap<String, Arc<str>>,
}

impl Manifest {
    /// Reads a manifest (either format above). Errors name the id at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Entries(entries) = serde_json::from_str(text).map_err(|e| {
            // JSON of another shape, or not JSON at all.
            match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "the manifest is not a JSON object".to_owned(),
                Err(_) => format!("the manifest is not JSON: {e}"),
            }
        })?;
        let pairs = if entries.iter().any(|(k, _)| k == "format") {
            apollo_operations(&entries.into_iter().collect())?
        } else {
            entries
                .into_iter()
                .map(|(id, body)| match body {
                    Value::String(body) => Ok((id, body)),
                    _ => Err(format!("document {id:?}: not a string")),
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut manifest = Manifest::default();
        for (id, body) in pairs {
            if id.is_empty() {
                return Err("a document has an empty id".into());
            }
            if let Err(e) = async_graphql::parser::parse_query(&body) {
                return Err(format!("document {id:?} is not GraphQL: {e}"));
            }
            let body: Arc<str> = Arc::from(body);
            manifest.by_hash.insert(sha256(&body), body.clone());
            if manifest.by_id.insert(id.clone(), body).is_some() {
                return Err(format!("document {id:?} is listed twice"));
            }
        }
        Ok(manifest)
    }

    /// How many documents it holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A document by id; `sha256:<hex>` (the GraphQL-over-HTTP prefixed
    /// form) also finds a document by its hash.
    fn by_id(&self, id: &str) -> Option<&Arc<str>> {
        self.by_id.get(id).or_else(|| {
            id.strip_prefix("sha256:")
                .and_then(|hash| self.by_hash.get(&hash.to_ascii_lowercase()))
        })
    }
}

/// A JSON object's entries in order, a key given twice kept twice
/// (`serde_json`'s map would keep only the last: a document id listed
/// twice must be an error, not the second one silently).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The `operations` of Apollo's manifest format.
fn apollo_operations(map: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    if map.get("format").and_then(Value::as_str) != Some("apollo-persisted-query-manifest") {
        return Err(
            "the manifest's format is not \"apollo-persisted-query-manifest\" (or leave \"format\" out for an id → document object)".into(),
        );
    }
    if map.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("the manifest's version is not 1".into());
    }
    let Some(Value::Array(operations)) = map.get("operations") else {
        return Err("the manifest has no \"operations\" list".into());
    };
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let field = |name: &str| {
                op.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("operations[{i}]: no string \"{name}\""))
            };
            Ok((field("id")?, field("body")?))
        })
        .collect()
}

fn sha256(text: &str) -> String {
    kit::digest::sha256_plain(text.as_bytes())
}

/// The text a request runs, and what is to be done once it is prepared.
#[derive(Debug)]
pub struct Resolved {
    pub text: DocumentText,
    /// The APQ hash to store the text under.
    register: Option<String>,
    /// The hash of a text the manifest lacks (`log_unknown`).
    unknown: Option<String>,
}

impl Resolved {
    fn stored(text: Arc<str>) -> Self {
        Self {
            text: DocumentText::Stored(text),
            register: None,
            unknown: None,
        }
    }
}

/// At most 100 characters of what a client sent, for a message.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The parts of a request that name its document; the query text is
/// taken, not copied (a sent document runs as the very string received).
#[derive(Debug, Default, Clone)]
pub struct DocumentRef<'a> {
    pub query: Option<String>,
    pub document_id: Option<&'a str>,
    pub extensions: Option<&'a Map<String, Value>>,
}

/// The manifest, the mode, and the APQ store of a gateway.
pub struct Documents {
    mode: DocumentMode,
    manifest: RwLock<Arc<Manifest>>,
    apq: Option<ApqStore>,
}

impl Default for Documents {
    /// Anything runs; APQ in memory with the default bounds.
    fn default() -> Self {
        Self::new(&DocumentSettings::default(), None).unwrap_or_else(|_| Self {
            mode: DocumentMode::AllowAny,
            manifest: RwLock::default(),
            apq: None,
        })
    }
}

impl Documents {
    /// The settings and the manifest's text (read from
    /// `settings.manifest` by the caller).
    pub fn new(settings: &DocumentSettings, manifest: Option<&str>) -> Result<Self, String> {
        let manifest = match manifest {
            Some(text) => {
                Manifest::parse(text).map_err(|e| format!("gateway.documents.manifest: {e}"))?
            }
            None => Manifest::default(),
        };
        let apq = if settings.apq.enabled && settings.mode != DocumentMode::PersistedOnly {
            Some(ApqStore::new(&settings.apq)?)
        } else {
            None
        };
        Ok(Self {
            mode: settings.mode,
            manifest: RwLock::new(Arc::new(manifest)),
            apq,
        })
    }

    /// How many trusted documents the manifest holds.
    pub fn len(&self) -> usize {
        self.manifest().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the manifest; a text that does not load leaves the old one.
    pub fn reload(&self, text: &str) -> Result<usize, String> {
        let next = Manifest::parse(text)?;
        let count = next.len();
        *self.manifest.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(count)
    }

    fn manifest(&self) -> Arc<Manifest> {
        self.manifest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The text a request runs, or why it runs nothing. What is to be
    /// done once the text has been prepared (stored for APQ, logged as
    /// unknown) is left to [`Documents::prepared`]: text that does not
    /// parse or validate is never stored.
    pub async fn resolve(&self, request: DocumentRef<'_>) -> Result<Resolved, Refusal> {
        let hash = persisted_query_hash(request.extensions)?;
        if let Some(id) = request.document_id {
            if request.query.is_some() || hash.is_some() {
                return Err(Refusal::new(
                    ErrorCode::BadRequest,
                    "send a documentId alone, without a query or a persistedQuery extension",
                ));
            }
            return match self.manifest().by_id(id) {
                Some(text) => Ok(Resolved::stored(text.clone())),
                None => Err(Refusal::new(
                    ErrorCode::PersistedQueryNotFound,
                    format!("no trusted document has the id {:?}", shortened(id)),
                )),
            };
        }
        if let Some(hash) = hash {
            return self.resolve_apq(hash, request.query).await;
        }
        let Some(query) = request.query else {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "the request has no query, documentId or persistedQuery extension",
            ));
        };
        let unknown = self.admit(&query)?;
        Ok(Resolved {
            text: DocumentText::Sent(query),
            register: None,
            unknown,
        })
    }

    /// After the text was prepared (parsed, validated, planned): stores
    /// it for APQ, and logs it if the manifest lacks it (`log_unknown`),
    /// by the hash and the operation's name, never the text (literals in
    /// it may be personal data).
    pub async fn prepared(&self, resolved: &Resolved, operation_name: Option<&str>) {
        if let (Some(hash), Some(apq)) = (&resolved.register, &self.apq) {
            apq.put(hash, &resolved.text).await;
        }
        if let Some(hash) = &resolved.unknown {
            metrics::counter!("documents_unknown_total").increment(1);
            tracing::warn!(
                sha256 = %hash,
                operation_name = operation_name.unwrap_or(""),
                "an operation not in the trusted documents ran"
            );
        }
    }

    /// Whether a document sent in full may run under the mode; under
    /// `log_unknown`, the hash of one the manifest lacks.
    fn admit(&self, query: &str) -> Result<Option<String>, Refusal> {
        if self.mode == DocumentMode::AllowAny {
            return Ok(None);
        }
        let hash = sha256(query);
        if self.manifest().by_hash.contains_key(&hash) {
            return Ok(None);
        }
        match self.mode {
            DocumentMode::PersistedOnly => Err(Refusal::new(
                ErrorCode::PersistedQueryNotInList,
                "only trusted documents run here: send a documentId from the manifest",
            )),
            _ => Ok(Some(hash)),
        }
    }

    /// APQ: a hash alone finds its document (the manifest's, then the
    /// store's); a hash with the query registers it once the hash matches
    /// (and, in [`Documents::prepared`], once it has been prepared).
    async fn resolve_apq(&self, hash: String, query: Option<String>) -> Result<Resolved, Refusal> {
        let manifest = self.manifest();
        let Some(query) = query else {
            if let Some(text) = manifest.by_hash.get(&hash) {
                return Ok(Resolved::stored(text.clone()));
            }
            let Some(apq) = &self.apq else {
                return Err(self.apq_off());
            };
            return match apq.get(&hash).await {
                // Found in the store, so not in the manifest: under
                // `log_unknown` it is logged each time it runs, as when
                // sent in full.
                Some(text) => Ok(Resolved {
                    unknown: (self.mode == DocumentMode::LogUnknown).then_some(hash),
                    ..Resolved::stored(text)
                }),
                None => Err(Refusal::new(
                    ErrorCode::PersistedQueryNotFound,
                    "PersistedQueryNotFound: no document is stored under this hash; send it again with the query",
                )),
            };
        };
        if sha256(&query) != hash {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query",
            ));
        }
        if manifest.by_hash.contains_key(&hash) {
            return Ok(Resolved {
                text: DocumentText::Sent(query),
                register: None,
                unknown: None,
            });
        }
        if self.apq.is_none() {
            return Err(self.apq_off());
        }
        let unknown = self.admit(&query)?;
        Ok(Resolved {
            text: DocumentText::Sent(query),
            register: Some(hash),
            unknown,
        })
    }

    fn apq_off(&self) -> Refusal {
        if self.mode == DocumentMode::PersistedOnly {
            Refusal::new(
                ErrorCode::PersistedQueryNotInList,
                "only trusted documents run here: send a documentId from the manifest",
            )
        } else {
            Refusal::new(
                ErrorCode::PersistedQueryNotSupported,
                "automatic persisted queries are off here (gateway.documents.apq.enabled): send the query without the persistedQuery extension",
            )
        }
    }
}

/// `extensions.persistedQuery.sha256Hash` (version 1), lower-cased.
fn persisted_query_hash(
    extensions: Option<&Map<String, Value>>,
) -> Result<Option<String>, Refusal> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    let bad = |message: &str| Refusal::new(ErrorCode::BadRequest, message);
    if persisted.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(bad("extensions.persistedQuery.version must be 1"));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits"))?;
    Ok(Some(hash.to_ascii_lowercase()))
}

/// Where APQ documents are kept.
enum ApqStore {
    Memory(Mutex<MemoryApq>),
    Redis(RedisApq),
}

/// Documents in this process, the least recently used dropped first once
/// their bytes pass the bound.
struct MemoryApq {
    entries: lru::LruCache<String, Arc<str>>,
    bytes: usize,
    max_bytes: usize,
    max_document_bytes: usize,
}

/// Documents in Redis under `prefix + hash`, each kept `ttl_secs` after it
/// was last registered or read.
struct RedisApq {
    redis: RedisStore,
    prefix: String,
    ttl_secs: u64,
    max_document_bytes: usize,
}

impl ApqStore {
    fn new(settings: &ApqSettings) -> Result<Self, String> {
        Ok(match settings.store {
            SharedStore::Memory => ApqStore::Memory(Mutex::new(MemoryApq {
                entries: lru::LruCache::unbounded(),
                bytes: 0,
                max_bytes: settings.memory_max_bytes,
                max_document_bytes: settings.max_document_bytes,
            })),
            SharedStore::Redis => ApqStore::Redis(RedisApq {
                redis: RedisStore::open(
                    &settings.redis_url,
                    "gateway.documents.apq.redis_url",
                    "apq",
                )?,
                prefix: settings.redis_key_prefix.clone(),
                ttl_secs: settings.redis_ttl_secs,
                max_document_bytes: settings.max_document_bytes,
            }),
        })
    }

    /// A stored document; `None` also when Redis cannot be reached (the
    /// client then sends the query again, and the request still runs).
    async fn get(&self, hash: &str) -> Option<Arc<str>> {
        match self {
            ApqStore::Memory(memory) => memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entries
                .get(hash)
                .cloned(),
            ApqStore::Redis(redis) => {
                let mut connection = redis.redis.connection().await?;
                let key = format!("{}{hash}", redis.prefix);
                let answer: Result<Option<String>, redis::RedisError> = redis::cmd("GETEX")
                    .arg(&key)
                    .arg("EX")
                    .arg(redis.ttl_secs)
                    .query_async(&mut connection)
                    .await;
                match answer {
                    // What Redis holds is checked, as a client's text is:
                    // only the hash's own document runs.
                    Ok(text) => text.filter(|t| sha256(t) == hash).map(Arc::from),
                    Err(err) => {
                        redis.redis.failed(&err);
                        None
                    }
                }
            }
        }
    }

    /// Keeps a document whose hash was checked; one past
    /// `max_document_bytes` is not kept (it still runs).
    async fn put(&self, hash: &str, text: &str) {
        match self {
            ApqStore::Memory(memory) => {
                let mut memory = memory.lock().unwrap_or_else(|p| p.into_inner());
                if text.len() > memory.max_document_bytes || memory.entries.contains(hash) {
                    return;
                }
                memory.bytes += text.len();
                memory.entries.put(hash.to_owned(), Arc::from(text));
                while memory.bytes > memory.max_bytes {
                    match memory.entries.pop_lru() {
                        Some((_, dropped)) => memory.bytes -= dropped.len(),
                        None => break,
                    }
                }
            }
            ApqStore::Redis(redis) => {
                if text.len() > redis.max_document_bytes {
                    return;
                }
                let Some(mut connection) = redis.redis.connection().await else {
                    return;
                };
                let key = format!("{}{hash}", redis.prefix);
                let answer: Result<(), redis::RedisError> = redis::cmd("SET")
                    .arg(&key)
                    .arg(text)
                    .arg("EX")
                    .arg(redis.ttl_secs)
                    .query_async(&mut connection)
                    .await;
                if let Err(err) = answer {
                    redis.redis.failed(&err);
                }
            }
        }
    }

    /// Documents and bytes held in memory (tests).
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        match self {
            ApqStore::Memory(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                (m.entries.len(), m.bytes)
            }
            ApqStore::Redis(_) => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "query Me { me { id } }";

    fn settings(mode: DocumentMode) -> DocumentSettings {
        DocumentSettings {
            mode,
            ..DocumentSettings::default()
        }
    }

    fn codes(r: Result<Resolved, Refusal>) -> Result<String, String> {
        r.map(|r| r.text.to_string())
            .map_err(|r| r.errors[0].code.map_or("none", |c| c.as_str()).to_owned())
    }

    fn apq(hash: &str) -> Map<String, Value> {
        serde_json::json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
            .as_object()
            .unwrap()
            .clone()
    }

    /// A request sending a document in full.
    fn sent(query: &str) -> DocumentRef<'static> {
        DocumentRef {
            query: Some(query.to_owned()),
            ..DocumentRef::default()
        }
    }

    /// A request naming a trusted document by id.
    fn by_id(id: &str) -> DocumentRef<'_> {
        DocumentRef {
            document_id: Some(id),
            ..DocumentRef::default()
        }
    }

    /// A request carrying only an APQ extension.
    fn by_hash(extensions: &Map<String, Value>) -> DocumentRef<'_> {
        DocumentRef {
            extensions: Some(extensions),
            ..DocumentRef::default()
        }
    }

    #[test]
    fn reads_both_manifest_formats_and_refuses_bad_ones() {
        let flat = Manifest::parse(&format!(r#"{{"abc": "{ME}"}}"#)).unwrap();
        assert_eq!(flat.by_id("abc").map(|t| &**t), Some(ME));
        let apollo = Manifest::parse(&format!(
            r#"{{"format":"apollo-persisted-query-manifest","version":1,
               "operations":[{{"id":"x1","name":"Me","type":"query","body":"{ME}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(apollo.by_id("x1").map(|t| &**t), Some(ME));
        assert_eq!(
            apollo
                .by_id(&format!("sha256:{}", sha256(ME)))
                .map(|t| &**t),
            Some(ME)
        );
        for (bad, says) in [
            ("[]", "not a JSON object"),
            ("{", "not JSON"),
            (r#"{"a": 1}"#, "\"a\": not a string"),
            (r#"{"a": "query {"}"#, "\"a\" is not GraphQL"),
            (r#"{"": "{ me { id } }"}"#, "empty id"),
            (
                r#"{"a": "{ a }", "a": "mutation { b }"}"#,
                "\"a\" is listed twice",
            ),
            (
                r#"{"format":"relay","version":1,"operations":[]}"#,
                "format",
            ),
            (
                r#"{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}"#,
                "version",
            ),
            (
                r#"{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a"}]}"#,
                "operations[0]: no string \"body\"",
            ),
            (
                r#"{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a","body":"{ a }"},{"id":"a","body":"{ b }"}]}"#,
                "listed twice",
            ),
        ] {
            let err = Manifest::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn each_mode_admits_what_it_says() {
        let manifest = format!(r#"{{"me": "{ME}"}}"#);
        let other = "{ products(first: 1) { nodes { sku } } }";
        for mode in [
            DocumentMode::AllowAny,
            DocumentMode::LogUnknown,
            DocumentMode::PersistedOnly,
        ] {
            let docs = Documents::new(&settings(mode), Some(&manifest)).unwrap();
            assert_eq!(codes(docs.resolve(by_id("me")).await), Ok(ME.into()));
            assert_eq!(
                codes(docs.resolve(by_id("nope")).await),
                Err("PERSISTED_QUERY_NOT_FOUND".into())
            );
            assert_eq!(codes(docs.resolve(sent(ME)).await), Ok(ME.into()));
            let free = codes(docs.resolve(sent(other)).await);
            if mode == DocumentMode::PersistedOnly {
                assert_eq!(free, Err("PERSISTED_QUERY_NOT_IN_LIST".into()), "{mode:?}");
            } else {
                assert_eq!(free, Ok(other.into()), "{mode:?}");
            }
            // Nothing to run, or two things at once.
            assert_eq!(
                codes(docs.resolve(DocumentRef::default()).await),
                Err("BAD_REQUEST".into())
            );
            let both = DocumentRef {
                document_id: Some("me"),
                ..sent(ME)
            };
            assert_eq!(codes(docs.resolve(both).await), Err("BAD_REQUEST".into()));
        }
    }

    #[test]
    fn hashes_are_the_ones_apq_clients_compute() {
        // The hash of `{__typename}` in Apollo's APQ documentation.
        assert_eq!(
            sha256("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }

    #[tokio::test]
    async fn apq_registers_checked_documents_and_finds_them_by_hash() {
        let docs = Documents::new(&settings(DocumentMode::AllowAny), None).unwrap();
        let hash = sha256(ME);
        let ext = apq(&hash);
        let hash_only = by_hash(&ext);
        assert_eq!(
            codes(docs.resolve(hash_only.clone()).await),
            Err("PERSISTED_QUERY_NOT_FOUND".into())
        );
        // A query that is not the hash's is refused, and not stored.
        let wrong = DocumentRef {
            extensions: Some(&ext),
            ..sent("{ me { name } }")
        };
        assert_eq!(codes(docs.resolve(wrong).await), Err("BAD_REQUEST".into()));
        assert_eq!(
            codes(docs.resolve(hash_only.clone()).await),
            Err("PERSISTED_QUERY_NOT_FOUND".into())
        );
        let register = DocumentRef {
            extensions: Some(&ext),
            ..sent(ME)
        };
        // Stored once prepared, not before.
        let resolved = docs.resolve(register.clone()).await.unwrap();
        assert_eq!(
            codes(docs.resolve(hash_only.clone()).await),
            Err("PERSISTED_QUERY_NOT_FOUND".into())
        );
        docs.prepared(&resolved, None).await;
        assert_eq!(codes(docs.resolve(hash_only.clone()).await), Ok(ME.into()));
        // Upper-case hex is the same hash.
        let upper = apq(&hash.to_ascii_uppercase());
        let upper = by_hash(&upper);
        assert_eq!(codes(docs.resolve(upper).await), Ok(ME.into()));
        for bad in [
            serde_json::json!({"persistedQuery": {"version": 2, "sha256Hash": hash}}),
            serde_json::json!({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}),
            serde_json::json!({"persistedQuery": {"version": 1}}),
            serde_json::json!({"persistedQuery": "x"}),
        ] {
            let bad = bad.as_object().unwrap().clone();
            let request = by_hash(&bad);
            assert_eq!(
                codes(docs.resolve(request).await),
                Err("BAD_REQUEST".into())
            );
        }
    }

    #[tokio::test]
    async fn log_unknown_logs_a_document_run_by_its_apq_hash_each_time() {
        let manifest = format!(r#"{{"me": "{ME}"}}"#);
        let docs = Documents::new(&settings(DocumentMode::LogUnknown), Some(&manifest)).unwrap();
        let other = "{ products(first: 1) { nodes { sku } } }";
        let ext = apq(&sha256(other));
        let register = DocumentRef {
            extensions: Some(&ext),
            ..sent(other)
        };
        let registered = docs.resolve(register).await.unwrap();
        assert_eq!(registered.unknown, Some(sha256(other)));
        docs.prepared(&registered, None).await;
        for _ in 0..2 {
            let again = docs.resolve(by_hash(&ext)).await.unwrap();
            assert_eq!(&*again.text, other);
            assert_eq!(again.unknown, Some(sha256(other)), "logged every run");
        }
        // The manifest's own document, by its hash, is not unknown.
        let me = apq(&sha256(ME));
        assert_eq!(docs.resolve(by_hash(&me)).await.unwrap().unknown, None);
    }

    #[tokio::test]
    async fn persisted_only_and_apq_off_register_nothing() {
        let manifest = format!(r#"{{"me": "{ME}"}}"#);
        let other = "{ products(first: 1) { nodes { sku } } }";
        let ext = apq(&sha256(other));
        let register = DocumentRef {
            extensions: Some(&ext),
            ..sent(other)
        };
        let hash_only = by_hash(&ext);
        let only = Documents::new(&settings(DocumentMode::PersistedOnly), Some(&manifest)).unwrap();
        assert_eq!(
            codes(only.resolve(register.clone()).await),
            Err("PERSISTED_QUERY_NOT_IN_LIST".into())
        );
        assert_eq!(
            codes(only.resolve(hash_only.clone()).await),
            Err("PERSISTED_QUERY_NOT_IN_LIST".into())
        );
        // The manifest's own documents are found by their hash.
        let me = apq(&sha256(ME));
        let me = by_hash(&me);
        assert_eq!(codes(only.resolve(me).await), Ok(ME.into()));
        let mut off = settings(DocumentMode::AllowAny);
        off.apq.enabled = false;
        let off = Documents::new(&off, None).unwrap();
        assert_eq!(
            codes(off.resolve(register.clone()).await),
            Err("PERSISTED_QUERY_NOT_SUPPORTED".into())
        );
        assert_eq!(
            codes(off.resolve(hash_only.clone()).await),
            Err("PERSISTED_QUERY_NOT_SUPPORTED".into())
        );
    }

    #[tokio::test]
    async fn the_memory_store_keeps_within_its_bound() {
        let mut s = settings(DocumentMode::AllowAny);
        s.apq.max_document_bytes = 100;
        s.apq.memory_max_bytes = 250;
        let docs = Documents::new(&s, None).unwrap();
        let store = docs.apq.as_ref().unwrap();
        for i in 0..10 {
            let text = format!("{{ member(id: \"{i:0>60}\") {{ id }} }}");
            store.put(&sha256(&text), &text).await;
            let (_, bytes) = store.held();
            assert!(bytes <= 250, "{bytes}");
        }
        let each = format!("{{ member(id: \"{:0>60}\") {{ id }} }}", 0).len();
        let (count, bytes) = store.held();
        assert_eq!((count, bytes), (250 / each, 250 / each * each));
        let big = "x".repeat(101);
        store.put(&sha256(&big), &big).await;
        assert!(store.get(&sha256(&big)).await.is_none());
        // The newest are kept, the oldest dropped.
        let last = format!("{{ member(id: \"{:0>60}\") {{ id }} }}", 9);
        assert!(store.get(&sha256(&last)).await.is_some());
        let first = format!("{{ member(id: \"{:0>60}\") {{ id }} }}", 0);
        assert!(store.get(&sha256(&first)).await.is_none());
    }

    #[tokio::test]
    async fn a_manifest_reload_that_fails_keeps_the_old_one() {
        let docs = Documents::new(
            &settings(DocumentMode::PersistedOnly),
            Some(&format!(r#"{{"me": "{ME}"}}"#)),
        )
        .unwrap();
        assert!(docs.reload("{").is_err());
        assert_eq!(codes(docs.resolve(by_id("me")).await), Ok(ME.into()));
        assert_eq!(docs.reload(r#"{"you": "{ me { name } }"}"#), Ok(1));
        assert_eq!(
            codes(docs.resolve(by_id("me")).await),
            Err("PERSISTED_QUERY_NOT_FOUND".into())
        );
    }
}
