//! The identity provider's signing keys: its JSON Web Key Set, fetched at
//! start and every `auth.jwks_refresh_secs`, and again (at most every
//! [`MIN_REFETCH`]) when a token names a `kid` the set lacks, so a rotated
//! key is picked up when the first token signed with it arrives. A token is
//! checked against the one key its `kid` names, with that key's algorithm
//! (RS256 or ES256: a token cannot choose another), and for the provider's
//! `iss` and `aud`. A fetch that fails (unreachable, not a key set) keeps
//! the keys already held; a key set the provider serves is taken as it is,
//! an empty one included (the provider withdrew every key). People's roles
//! only: a provider's token for the `service` role is refused (a service's
//! credential is the platform's own).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use crate::auth::Claims;

/// The soonest a `kid` the set lacks makes the set be fetched again.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);

/// The largest key set read, in bytes.
const MAX_SET_BYTES: usize = 1 << 20;

/// How long one fetch of the set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Who issues people's tokens, and where its keys are.
#[derive(Debug, Clone)]
pub struct Provider {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
}

/// Why a token was refused.
#[derive(Debug)]
pub enum Refused {
    /// The token did not verify (signature, expiry, issuer, audience).
    Token(jsonwebtoken::errors::Error),
    /// Said in words (no `kid`, an unknown one, keys not loaded yet).
    Said(String),
}

/// A usable key of the set.
struct Key {
    algorithm: Algorithm,
    decoding: DecodingKey,
}

/// The provider's keys by `kid`, kept fresh by a background task.
pub struct ProviderKeys {
    provider: Provider,
    keys: RwLock<HashMap<String, Arc<Key>>>,
    /// Wakes the refresh task early (an unknown `kid`).
    wake: tokio::sync::Notify,
    /// A token named a `kid` the set lacks since the last fetch (a wake
    /// without it, from a permit left over, fetches nothing).
    wanted: std::sync::atomic::AtomicBool,
    /// Set once the first fetch has succeeded.
    loaded: tokio::sync::watch::Sender<bool>,
    client: reqwest::Client,
}

impl ProviderKeys {
    /// The keys of `provider`, fetched now and every `every` by a task on
    /// the current tokio runtime (none: call [`ProviderKeys::refresh`]
    /// yourself). The task ends when the keys are dropped.
    pub fn start(provider: Provider, every: Duration) -> Arc<Self> {
        let keys = Arc::new(Self {
            provider,
            keys: RwLock::default(),
            wake: tokio::sync::Notify::new(),
            wanted: std::sync::atomic::AtomicBool::new(false),
            loaded: tokio::sync::watch::Sender::new(false),
            client: crate::tls::reqwest_builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(refresh_loop(Arc::downgrade(&keys), every));
        }
        keys
    }

    /// Fetches the set now and replaces the keys held: the number of
    /// usable keys (RS256 or ES256 with a `kid`). A failed fetch keeps the
    /// old ones; a set with no usable key withdraws them all.
    pub async fn refresh(&self) -> Result<usize, String> {
        let url = &self.provider.jwks_url;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: answered {}", response.status()));
        }
        // A key set is small: more than this is not one.
        if response
            .content_length()
            .is_some_and(|n| n > MAX_SET_BYTES as u64)
        {
            return Err(format!("{url}: the key set is over {MAX_SET_BYTES} bytes"));
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_SET_BYTES {
                return Err(format!("{url}: the key set is over {MAX_SET_BYTES} bytes"));
            }
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not a JWK set: {e}"))?;
        let usable: HashMap<String, Arc<Key>> = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(usable(jwk)?))))
            .collect();
        if usable.is_empty() {
            tracing::warn!(url = %url, "the identity provider serves no RS256 or ES256 key with a kid: none of its tokens verify");
        }
        let count = usable.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = usable;
        self.loaded.send_replace(true);
        Ok(count)
    }

    /// Waits until the first fetch has succeeded, up to `patience`; false
    /// if it has not.
    pub async fn loaded(&self, patience: Duration) -> bool {
        let mut loaded = self.loaded.subscribe();
        tokio::time::timeout(patience, loaded.wait_for(|l| *l))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Verifies a token whose header is `header` into its claims.
    pub fn verify(&self, token: &str, header: &Header) -> Result<Claims, Refused> {
        let Some(kid) = header.kid.as_deref() else {
            return Err(Refused::Said("invalid token (no kid)".into()));
        };
        let key = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned();
        let Some(key) = key else {
            // Perhaps a rotated key: fetch the set again (soon, not now).
            self.wanted.store(true, std::sync::atomic::Ordering::SeqCst);
            self.wake.notify_one();
            return Err(Refused::Said(
                "invalid token (its signing key is not known; if the provider rotated its keys, try again shortly)".into(),
            ));
        };
        if key.algorithm != header.alg {
            return Err(Refused::Said(
                "invalid token (its algorithm is not its key's)".into(),
            ));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[&self.provider.issuer]);
        validation.set_audience(&[&self.provider.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(Refused::Token)?;
        if claims.role == crate::auth::Role::Service {
            return Err(Refused::Said(
                "the identity provider's tokens are people's: a service uses the platform's own credential".into(),
            ));
        }
        Ok(claims)
    }
}

/// A key of the set the platform can verify with: RSA (RS256) or P-256
/// (ES256), with its stated algorithm when it states one.
fn usable(jwk: &Jwk) -> Option<Key> {
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        algorithm,
        decoding,
    })
}

/// Fetches the set at once, then every `every`, or on a wake (an unknown
/// `kid`) once [`MIN_REFETCH`] has passed since the last fetch; until the
/// first success, every 5 s.
async fn refresh_loop(keys: Weak<ProviderKeys>, every: Duration) {
    use std::sync::atomic::Ordering;
    let mut last: Option<Instant> = None;
    let mut due = true;
    loop {
        let Some(held) = keys.upgrade() else { return };
        if due {
            last = Some(Instant::now());
            held.wanted.store(false, Ordering::SeqCst);
            match held.refresh().await {
                Ok(count) => tracing::info!(keys = count, "identity provider keys fetched"),
                Err(err) => {
                    tracing::warn!(error = %err, "identity provider keys not fetched; keeping the ones held")
                }
            }
        }
        let wait = if *held.loaded.borrow() {
            every
        } else {
            Duration::from_secs(5)
        };
        let woken = async {
            held.wake.notified().await;
            if !held.wanted.load(Ordering::SeqCst) {
                return false;
            }
            // Not sooner than MIN_REFETCH after the last fetch.
            let since = last.map(|l| l.elapsed()).unwrap_or(MIN_REFETCH);
            tokio::time::sleep(MIN_REFETCH.saturating_sub(since)).await;
            true
        };
        due = tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            wanted = woken => wanted,
        };
        drop(held);
    }
}
