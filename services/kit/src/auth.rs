//! Who is calling: a JWT carrying one of the platform's roles, verified
//! into a [`Caller`] before any resolver runs. Which keys sign which roles
//! is [`crate::config::AuthConfig`]'s: a development secret for all; in
//! production the identity provider's JWKS ([`crate::jwks`]) for people
//! and the platform secret for partner and service tokens only.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Partner,
    Staff,
    Operator,
    /// One of the platform's services, reading another's feeds.
    Service,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "partner" => Some(Role::Partner),
            "staff" => Some(Role::Staff),
            "operator" => Some(Role::Operator),
            "service" => Some(Role::Service),
            _ => None,
        }
    }

    /// The roles the platform signs itself, with the platform secret in
    /// production: never a person's.
    pub const fn platform_issued(self) -> bool {
        matches!(self, Role::Partner | Role::Service)
    }
}

/// What a partner key may do. A partner token carries its key's scopes
/// (claim `scp`) and every service checks the one an operation needs
/// ([`Caller::require_scope`]); other roles are not scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
#[graphql(name = "PartnerScope")]
pub enum Scope {
    /// Earn points for members in the brand's programme.
    Earn,
    /// Redeem members' points in the brand's programme.
    Redeem,
    /// Read members (id, status, tier) and their points accounts in the
    /// brand's programme.
    ReadAccounts,
    /// Register members through the PARTNER channel.
    EnrolMembers,
    /// Propose, accept and read exchange terms.
    ManageTerms,
    /// Read clearing statements.
    ReadStatements,
    /// Register and manage webhook endpoints.
    ManageWebhooks,
    /// Run the brand's earning campaigns (and, with them, its rewards).
    ManageRewards,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Earn,
        Scope::Redeem,
        Scope::ReadAccounts,
        Scope::EnrolMembers,
        Scope::ManageTerms,
        Scope::ReadStatements,
        Scope::ManageWebhooks,
        Scope::ManageRewards,
    ];

    /// The name in tokens and in the database: `earn`, `read_accounts`...
    pub const fn name(self) -> &'static str {
        match self {
            Scope::Earn => "earn",
            Scope::Redeem => "redeem",
            Scope::ReadAccounts => "read_accounts",
            Scope::EnrolMembers => "enrol_members",
            Scope::ManageTerms => "manage_terms",
            Scope::ReadStatements => "read_statements",
            Scope::ManageWebhooks => "manage_webhooks",
            Scope::ManageRewards => "manage_rewards",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`Scope`]s.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const fn all() -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < Scope::ALL.len() {
            bits |= Scope::ALL[i].bit();
            i += 1;
        }
        Self(bits)
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in their declared order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Scopes as stored: names separated by commas, e.g. `earn,redeem`.
    pub fn parse_list(list: &str) -> Option<Self> {
        let mut scopes = Self::default();
        for name in list.split(',').filter(|n| !n.is_empty()) {
            scopes = scopes.with(Scope::parse(name)?);
        }
        Some(scopes)
    }

    /// The stored form, [`Scopes::parse_list`]'s inverse.
    pub fn to_list(self) -> String {
        self.iter().map(Scope::name).collect::<Vec<_>>().join(",")
    }

    #[must_use]
    pub fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Scope::name)).finish()
    }
}

crate::stored_enum! {
    /// Where a partner key acts: on live data, or on its brand's sandbox (a
    /// copy of the programme with test members that never mix with live
    /// ones). A partner token carries it (claim `env`; a token without it is
    /// live) and every service keeps a partner to its environment.
    #[derive(Hash, Default, async_graphql::Enum)]
    pub enum Environment {
        #[default]
        Live,
        Sandbox,
    }
}

#[cfg(test)]
#[test]
fn environment_stored_names_stay() {
    crate::testing::stored_names_hold(&[
        (Environment::Live, "LIVE"),
        (Environment::Sandbox, "SANDBOX"),
    ]);
}

/// What a sandbox brand's id adds to its live brand's: `coffee-sandbox`.
/// Live brands never end in it (the alliance refuses them at onboarding).
pub const SANDBOX_SUFFIX: &str = "-sandbox";

impl Environment {
    /// The environment a brand id belongs to: SANDBOX for `<id>-sandbox`.
    pub fn of_brand(brand_id: &str) -> Self {
        if brand_id.ends_with(SANDBOX_SUFFIX) {
            Environment::Sandbox
        } else {
            Environment::Live
        }
    }

    /// The other environment's name in messages: "live data", "the sandbox".
    pub const fn described(self) -> &'static str {
        match self {
            Environment::Live => "live data",
            Environment::Sandbox => "the sandbox",
        }
    }
}

/// The claims of a bigmember token, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Member id, guide id, partner key id or operator id, per role.
    pub sub: String,
    pub role: Role,
    /// Brand of a partner or of a staff member's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Store of a staff member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// A partner's scopes (required for the partner role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Vec<Scope>>,
    /// A partner's environment; absent: live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Environment>,
    /// When it was issued (optional in tokens the platform verifies).
    #[serde(default)]
    pub iat: i64,
    pub exp: i64,
}

/// The verified caller a resolver sees. Built only from a valid token, so a
/// staff caller always has a store and a brand, a partner always a brand.
#[derive(Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Member {
        member_id: String,
    },
    Partner {
        brand_id: String,
        key_id: String,
        scopes: Scopes,
        environment: Environment,
    },
    Staff {
        guide_id: String,
        store_id: String,
        brand_id: String,
    },
    Operator {
        operator_id: String,
    },
    /// A service of the platform (its name), with its own credential.
    Service {
        name: String,
    },
}

impl fmt::Debug for Caller {
    // Ids only: tokens and claims never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Anonymous => f.write_str("anonymous"),
            Caller::Member { member_id } => write!(f, "member:{member_id}"),
            Caller::Partner { brand_id, .. } => write!(f, "partner:{brand_id}"),
            Caller::Staff { guide_id, .. } => write!(f, "staff:{guide_id}"),
            Caller::Operator { operator_id } => write!(f, "operator:{operator_id}"),
            Caller::Service { name } => write!(f, "service:{name}"),
        }
    }
}

impl Caller {
    /// Fails with UNAUTHENTICATED for an anonymous caller.
    pub fn require_authenticated(&self) -> Result<&Self, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "sign in: this operation needs a bearer token",
            )),
            _ => Ok(self),
        }
    }

    /// Fails with FORBIDDEN when the caller is a partner whose key lacks
    /// `scope`; any other caller passes (their role is checked apart).
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        match self {
            Caller::Partner { scopes, .. } if !scopes.contains(scope) => Err(ApiError::forbidden(
                format!("this partner key lacks the {} scope", scope.name()),
            )),
            _ => Ok(()),
        }
    }

    /// The environment a partner acts in; every other caller acts live.
    pub fn environment(&self) -> Environment {
        match self {
            Caller::Partner { environment, .. } => *environment,
            _ => Environment::Live,
        }
    }

    /// Fails unless the caller is an operator.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.require_authenticated()? {
            Caller::Operator { .. } => Ok(()),
            _ => Err(ApiError::forbidden("only operators may do this")),
        }
    }

    /// Fails unless the caller is one of the platform's services or an
    /// operator (event feeds, member standing, data export).
    pub fn require_service(&self) -> Result<(), ApiError> {
        match self.require_authenticated()? {
            Caller::Service { .. } | Caller::Operator { .. } => Ok(()),
            _ => Err(ApiError::forbidden(
                "only the platform's services (or an operator) may read this",
            )),
        }
    }

    /// Fails unless the caller is an operator or staff of `store_id` (who
    /// run that store: its hours, stock and orders). No store: operators only.
    pub fn require_store_staff(&self, store_id: Option<&str>) -> Result<(), ApiError> {
        match self.require_authenticated()? {
            Caller::Operator { .. } => Ok(()),
            Caller::Staff { store_id: own, .. } if Some(own.as_str()) == store_id => Ok(()),
            _ => Err(ApiError::forbidden(
                "only the store's staff or an operator may do this",
            )),
        }
    }

    fn from_claims(claims: Claims) -> Result<Self, ApiError> {
        let missing = |what: &str| {
            ApiError::unauthenticated(format!(
                "token for role {:?} lacks the {what} claim",
                claims.role
            ))
        };
        if claims.sub.trim().is_empty() {
            return Err(ApiError::unauthenticated("token has an empty subject"));
        }
        Ok(match claims.role {
            Role::Member => Caller::Member {
                member_id: claims.sub,
            },
            Role::Partner => Caller::Partner {
                brand_id: {
                    // Ids are compared exactly everywhere: the claim in its
                    // canonical, trimmed form.
                    let brand = claims
                        .brand
                        .as_deref()
                        .map(|b| b.trim().to_owned())
                        .ok_or_else(|| missing("brand"))?;
                    // A sandbox brand's token acts in the sandbox, and only
                    // there: a token that says otherwise was not made by
                    // this platform's key service.
                    if Environment::of_brand(&brand) != claims.env.unwrap_or_default() {
                        return Err(ApiError::unauthenticated(
                            "the token's brand and environment disagree",
                        ));
                    }
                    brand
                },
                scopes: claims
                    .scp
                    .as_ref()
                    .ok_or_else(|| missing("scp (scopes)"))?
                    .iter()
                    .copied()
                    .collect(),
                environment: claims.env.unwrap_or_default(),
                key_id: claims.sub,
            },
            Role::Staff => Caller::Staff {
                store_id: claims.store.clone().ok_or_else(|| missing("store"))?,
                brand_id: {
                    let brand = claims
                        .brand
                        .as_deref()
                        .map(|b| b.trim().to_owned())
                        .ok_or_else(|| missing("brand"))?;
                    // Stores are live brands': a sandbox has no staff.
                    if Environment::of_brand(&brand) != Environment::Live {
                        return Err(ApiError::unauthenticated(
                            "staff work for live brands' stores: a sandbox has none",
                        ));
                    }
                    brand
                },
                guide_id: claims.sub,
            },
            Role::Operator => Caller::Operator {
                operator_id: claims.sub,
            },
            Role::Service => Caller::Service { name: claims.sub },
        })
    }
}

/// The axum extractor: any handler whose state yields [`JwtKeys`] can take a
/// `Caller` argument. No `Authorization` header is [`Caller::Anonymous`]; a
/// bad one rejects the request with 401 UNAUTHENTICATED before the handler.
impl<S> axum::extract::FromRequestParts<S> for Caller
where
    S: Send + Sync,
    JwtKeys: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let keys = <JwtKeys as axum::extract::FromRef<S>>::from_ref(state);
        keys.verify_header(parts.headers.get(axum::http::header::AUTHORIZATION))
    }
}

/// The token of an `Authorization: Bearer <token>` header, the one parsing
/// of it everywhere (gateway and subgraphs): the scheme in any case; a
/// header that is present but unreadable (not text), of another scheme, or
/// without a token is UNAUTHENTICATED, never anonymous.
pub fn bearer_token(value: &axum::http::HeaderValue) -> Result<&str, ApiError> {
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not readable text"))?;
    let (scheme, token) = text
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| ApiError::unauthenticated("Authorization must be `Bearer <token>`"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthenticated(
            "Authorization must be `Bearer <token>`",
        ));
    }
    Ok(token)
}

/// Who did it, as recorded beside a change: role and id, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        Self(format!("{caller:?}"))
    }

    /// A job or consumer acting on its own.
    pub fn system(name: &str) -> Self {
        Self(format!("system:{name}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `kid` of tokens signed with the platform secret.
pub const PLATFORM_KID: &str = "platform";

/// An HS256 key: signs and verifies.
struct HsKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl HsKey {
    fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }
}

/// The keys tokens are verified with and signed with: a development
/// secret (every role), the platform secret (partner and service roles
/// only, `kid` [`PLATFORM_KID`]), and the identity provider's JWKS.
#[derive(Clone, Default)]
pub struct JwtKeys {
    shared: Option<Arc<HsKey>>,
    platform: Option<Arc<HsKey>>,
    provider: Option<Arc<crate::jwks::ProviderKeys>>,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("shared", &self.shared.is_some())
            .field("platform", &self.platform.is_some())
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

/// Why a token is refused, as the caller is told.
fn refused(e: &jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => ApiError::unauthenticated("token expired"),
        ErrorKind::ImmatureSignature => {
            ApiError::unauthenticated("the token is not valid yet (nbf)")
        }
        ErrorKind::InvalidIssuer => ApiError::unauthenticated("the token's issuer is not trusted"),
        ErrorKind::InvalidAudience => {
            ApiError::unauthenticated("the token is not for this platform (aud)")
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            ApiError::unauthenticated(format!("the token has no {claim} claim"))
        }
        _ => ApiError::unauthenticated("invalid token"),
    }
}

impl JwtKeys {
    /// Development: one secret signs and verifies every role.
    pub fn hs256(secret: &Secret) -> Self {
        Self {
            shared: Some(Arc::new(HsKey::new(secret))),
            ..Self::default()
        }
    }

    /// Production: the platform secret, for partner and service tokens.
    pub fn platform(secret: &Secret) -> Self {
        Self {
            platform: Some(Arc::new(HsKey::new(secret))),
            ..Self::default()
        }
    }

    /// Also accepts the identity provider's tokens.
    pub fn with_provider(mut self, provider: Arc<crate::jwks::ProviderKeys>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Waits (up to 5 s) for the identity provider's keys, if one is
    /// configured: a server that starts serving before them refuses its
    /// first tokens. Logged, not fatal: the keys keep being fetched.
    pub async fn ready(&self) {
        if let Some(provider) = &self.provider
            && !provider.loaded(std::time::Duration::from_secs(5)).await
        {
            tracing::warn!(
                "the identity provider's keys are not loaded yet; its tokens are refused until they are"
            );
        }
    }

    /// The identity provider's keys, if one is configured.
    pub fn provider(&self) -> Option<&Arc<crate::jwks::ProviderKeys>> {
        self.provider.as_ref()
    }

    /// Verifies a bearer token into a caller: by its algorithm and `kid`,
    /// against the one key that may have signed it. Invalid, expired, from
    /// an untrusted issuer or audience, a role the key may not sign, or a
    /// role without its required claims: UNAUTHENTICATED.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthenticated("invalid token"))?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let platform = header.kid.as_deref() == Some(PLATFORM_KID);
                let key = if platform {
                    self.platform.as_ref().or(self.shared.as_ref())
                } else {
                    self.shared.as_ref()
                };
                let Some(key) = key else {
                    return Err(ApiError::unauthenticated(
                        "invalid token (HS256 tokens signed with a shared secret are accepted in development only)",
                    ));
                };
                let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation)
                    .map_err(|e| refused(&e))?
                    .claims;
                if platform && self.shared.is_none() && !claims.role.platform_issued() {
                    return Err(ApiError::unauthenticated(
                        "the platform's key signs partner and service tokens only",
                    ));
                }
                claims
            }
            Algorithm::RS256 | Algorithm::ES256 => match &self.provider {
                Some(provider) => provider.verify(token, &header).map_err(|e| match e {
                    crate::jwks::Refused::Token(e) => refused(&e),
                    crate::jwks::Refused::Said(message) => ApiError::unauthenticated(message),
                })?,
                None => {
                    return Err(ApiError::unauthenticated(
                        "invalid token (no identity provider is configured)",
                    ));
                }
            },
            _ => {
                return Err(ApiError::unauthenticated(
                    "invalid token (accepted algorithms: RS256, ES256, and HS256 in development)",
                ));
            }
        };
        Caller::from_claims(claims)
    }

    /// Verifies an `Authorization` header: absent is anonymous; present, it
    /// must be a valid `Bearer <token>` ([`bearer_token`]).
    pub fn verify_header(
        &self,
        header: Option<&axum::http::HeaderValue>,
    ) -> Result<Caller, ApiError> {
        match header {
            None => Ok(Caller::Anonymous),
            Some(value) => self.verify(bearer_token(value)?),
        }
    }

    /// Signs claims: with the development secret, or for the roles the
    /// platform issues, the platform secret. FORBIDDEN for a role this
    /// platform does not sign (a person's, in production).
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let (key, kid) = match (&self.shared, &self.platform) {
            (Some(shared), _) => (shared, None),
            (None, Some(platform)) if claims.role.platform_issued() => {
                (platform, Some(PLATFORM_KID.to_owned()))
            }
            _ => {
                return Err(ApiError::forbidden(format!(
                    "this platform does not sign {} tokens: they come from the identity provider",
                    format!("{:?}", claims.role).to_lowercase()
                )));
            }
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid;
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            ApiError::new(
                crate::error::ErrorCode::Internal,
                "the token could not be signed",
            )
        })
    }

    /// Issues a token valid for `ttl` from now.
    pub fn issue(&self, token: TokenRequest, ttl: chrono::Duration) -> Result<String, ApiError> {
        Ok(self.issue_until(token, ttl)?.0)
    }

    /// Issues a token valid for `ttl` from now (whole seconds, on the
    /// system clock), with the instant it expires, as its `exp` says.
    pub fn issue_until(
        &self,
        token: TokenRequest,
        ttl: chrono::Duration,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + ttl.num_seconds();
        let until = chrono::DateTime::from_timestamp(exp, 0).ok_or_else(|| {
            ApiError::new(
                crate::error::ErrorCode::Internal,
                "a token's expiry is out of range",
            )
        })?;
        self.sign(&Claims {
            sub: token.sub,
            role: token.role,
            brand: token.brand,
            store: token.store,
            scp: token.scopes.map(|s| s.iter().collect()),
            env: token.environment,
            iat: now,
            exp,
        })
        .map(|signed| (signed, until))
    }

    /// A service's own short-lived credential, to read another service's
    /// feeds (role `service`: not an operator).
    pub fn service_token(&self, service: &str) -> Result<String, ApiError> {
        self.issue(TokenRequest::service(service), chrono::Duration::minutes(5))
    }
}

/// What a token says, before signing.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub sub: String,
    pub role: Role,
    pub brand: Option<String>,
    pub store: Option<String>,
    /// A partner's scopes.
    pub scopes: Option<Scopes>,
    /// A partner's environment (None: live).
    pub environment: Option<Environment>,
}

impl TokenRequest {
    pub fn member(member_id: impl Into<String>) -> Self {
        Self {
            sub: member_id.into(),
            role: Role::Member,
            brand: None,
            store: None,
            scopes: None,
            environment: None,
        }
    }
    pub fn service(name: impl Into<String>) -> Self {
        Self {
            sub: name.into(),
            role: Role::Service,
            brand: None,
            store: None,
            scopes: None,
            environment: None,
        }
    }
    pub fn operator(operator_id: impl Into<String>) -> Self {
        Self {
            sub: operator_id.into(),
            role: Role::Operator,
            brand: None,
            store: None,
            scopes: None,
            environment: None,
        }
    }
    /// A partner token with every scope (development and tests; keys
    /// carry their own, [`TokenRequest::partner_scoped`]).
    pub fn partner(key_id: impl Into<String>, brand_id: impl Into<String>) -> Self {
        Self::partner_scoped(key_id, brand_id, Scopes::all())
    }
    /// A partner token for `brand_id`, in its environment (a sandbox
    /// brand's `<id>-sandbox` token is a sandbox one).
    pub fn partner_scoped(
        key_id: impl Into<String>,
        brand_id: impl Into<String>,
        scopes: Scopes,
    ) -> Self {
        let brand = brand_id.into();
        let environment = match Environment::of_brand(&brand) {
            Environment::Live => None,
            sandbox => Some(sandbox),
        };
        Self {
            sub: key_id.into(),
            role: Role::Partner,
            brand: Some(brand),
            store: None,
            scopes: Some(scopes),
            environment,
        }
    }

    /// The same token, for a partner acting in `environment`.
    pub fn in_environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }
    pub fn staff(
        guide_id: impl Into<String>,
        store_id: impl Into<String>,
        brand_id: impl Into<String>,
    ) -> Self {
        Self {
            sub: guide_id.into(),
            role: Role::Staff,
            brand: Some(brand_id.into()),
            store: Some(store_id.into()),
            scopes: None,
            environment: None,
        }
    }
}

/// 32 random bytes as hex: a development secret.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    crate::digest::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(&Secret::new("test-secret-test-secret-test-secret"))
    }

    #[test]
    fn a_signed_token_verifies_into_its_caller() {
        let keys = keys();
        let token = keys
            .issue(
                TokenRequest::staff("g1", "s1", "b1"),
                chrono::Duration::hours(1),
            )
            .unwrap();
        assert_eq!(
            keys.verify(&token).unwrap(),
            Caller::Staff {
                guide_id: "g1".into(),
                store_id: "s1".into(),
                brand_id: "b1".into()
            }
        );
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = axum::http::HeaderValue::from_str(&format!("{scheme} {token}")).unwrap();
            assert!(
                matches!(keys.verify_header(Some(&header)), Ok(Caller::Staff { .. })),
                "{scheme}: the scheme in any case"
            );
        }
        assert_eq!(keys.verify_header(None).unwrap(), Caller::Anonymous);
    }

    #[test]
    fn expired_tampered_or_foreign_tokens_are_unauthenticated() {
        let keys = keys();
        let expired = keys
            .issue(TokenRequest::member("m1"), chrono::Duration::seconds(-60))
            .unwrap();
        assert_eq!(keys.verify(&expired).unwrap_err().message, "token expired");

        let good = keys
            .issue(TokenRequest::member("m1"), chrono::Duration::hours(1))
            .unwrap();
        let tampered = format!("{}x", good);
        assert_eq!(
            keys.verify(&tampered).unwrap_err().code,
            crate::error::ErrorCode::Unauthenticated
        );

        let other = JwtKeys::hs256(&Secret::new("another-secret-another-secret-xx"));
        assert!(other.verify(&good).is_err());
        for bad in [
            axum::http::HeaderValue::from_static("Basic abc"),
            axum::http::HeaderValue::from_static("Bearer"),
            axum::http::HeaderValue::from_static("Bearer   "),
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        ] {
            let refused = keys.verify_header(Some(&bad)).unwrap_err();
            assert_eq!(
                refused.code,
                crate::error::ErrorCode::Unauthenticated,
                "{bad:?}: refused, never anonymous"
            );
        }
    }

    #[test]
    fn roles_without_their_claims_are_rejected() {
        let keys = keys();
        let now = chrono::Utc::now().timestamp();
        let staff_without_store = keys
            .sign(&Claims {
                sub: "g1".into(),
                role: Role::Staff,
                brand: Some("b1".into()),
                store: None,
                scp: None,
                env: None,
                iat: now,
                exp: now + 60,
            })
            .unwrap();
        assert!(
            keys.verify(&staff_without_store)
                .unwrap_err()
                .message
                .contains("store")
        );
        let partner_without_brand = keys
            .sign(&Claims {
                sub: "k1".into(),
                role: Role::Partner,
                brand: None,
                store: None,
                scp: None,
                env: None,
                iat: now,
                exp: now + 60,
            })
            .unwrap();
        assert!(keys.verify(&partner_without_brand).is_err());
    }

    #[test]
    fn the_platform_secret_signs_partners_and_services_only() {
        let secret = Secret::new("platform-secret-platform-secret-xx");
        let platform = JwtKeys::platform(&secret);
        let hour = chrono::Duration::hours(1);
        for request in [
            TokenRequest::partner("k1", "coffee"),
            TokenRequest::service("store"),
        ] {
            let token = platform.issue(request, hour).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(PLATFORM_KID));
            assert!(platform.verify(&token).is_ok());
        }
        assert_eq!(
            platform
                .verify(&platform.service_token("store").unwrap())
                .unwrap(),
            Caller::Service {
                name: "store".into()
            }
        );
        // People's tokens are not the platform's to sign...
        for request in [
            TokenRequest::operator("o"),
            TokenRequest::member("m"),
            TokenRequest::staff("g", "s", "b"),
        ] {
            let refused = platform.issue(request, hour).unwrap_err();
            assert_eq!(refused.code, crate::error::ErrorCode::Forbidden);
        }
        // ...nor to verify, even signed with its secret by hand.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(PLATFORM_KID.into());
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "o".into(),
            role: Role::Operator,
            brand: None,
            store: None,
            scp: None,
            env: None,
            iat: now,
            exp: now + 60,
        };
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.expose().as_bytes()),
        )
        .unwrap();
        assert!(
            platform
                .verify(&forged)
                .unwrap_err()
                .message
                .contains("partner and service")
        );
        // Without kid, an HS256 token has no key in production.
        let shared = JwtKeys::hs256(&secret)
            .issue(TokenRequest::operator("o"), hour)
            .unwrap();
        assert!(platform.verify(&shared).is_err());
        // A development token of the service role is a service, not an operator.
        let dev = keys();
        let service = dev.verify(&dev.service_token("store").unwrap()).unwrap();
        assert!(service.require_service().is_ok());
        assert_eq!(
            service.require_operator().unwrap_err().code,
            crate::error::ErrorCode::Forbidden
        );
    }

    #[test]
    fn store_staff_checks() {
        let staff = Caller::Staff {
            guide_id: "g".into(),
            store_id: "s1".into(),
            brand_id: "b".into(),
        };
        assert!(staff.require_store_staff(Some("s1")).is_ok());
        assert_eq!(
            staff.require_store_staff(Some("s2")).unwrap_err().code,
            crate::error::ErrorCode::Forbidden
        );
        assert!(staff.require_store_staff(None).is_err());
        assert!(
            Caller::Operator {
                operator_id: "o".into()
            }
            .require_store_staff(None)
            .is_ok()
        );
        assert_eq!(
            Caller::Anonymous
                .require_store_staff(Some("s1"))
                .unwrap_err()
                .code,
            crate::error::ErrorCode::Unauthenticated
        );
    }

    #[test]
    fn operator_checks() {
        assert!(
            Caller::Operator {
                operator_id: "o".into()
            }
            .require_operator()
            .is_ok()
        );
        let member = Caller::Member {
            member_id: "m".into(),
        };
        assert_eq!(
            member.require_operator().unwrap_err().code,
            crate::error::ErrorCode::Forbidden
        );
        assert_eq!(
            Caller::Anonymous.require_operator().unwrap_err().code,
            crate::error::ErrorCode::Unauthenticated
        );
    }

    #[test]
    fn a_partner_token_carries_its_keys_scopes_and_one_without_them_is_refused() {
        let keys = keys();
        let hour = chrono::Duration::hours(1);
        let scopes: Scopes = [Scope::Earn, Scope::ReadStatements].into_iter().collect();
        let token = keys
            .issue(TokenRequest::partner_scoped("k1", "coffee", scopes), hour)
            .unwrap();
        let caller = keys.verify(&token).unwrap();
        assert_eq!(
            caller,
            Caller::Partner {
                brand_id: "coffee".into(),
                key_id: "k1".into(),
                scopes,
                environment: Environment::Live,
            }
        );
        assert!(caller.require_scope(Scope::Earn).is_ok());
        assert_eq!(
            caller.environment(),
            Environment::Live,
            "no env claim: live"
        );
        let sandbox = keys
            .issue(
                TokenRequest::partner_scoped("k2", "coffee-sandbox", scopes)
                    .in_environment(Environment::Sandbox),
                hour,
            )
            .unwrap();
        assert_eq!(
            keys.verify(&sandbox).unwrap().environment(),
            Environment::Sandbox
        );
        // A sandbox brand's token is a sandbox one; one that claims
        // otherwise, either way, is refused.
        let implied = keys
            .issue(TokenRequest::partner("k3", "coffee-sandbox"), hour)
            .unwrap();
        assert_eq!(
            keys.verify(&implied).unwrap().environment(),
            Environment::Sandbox
        );
        for (brand, env) in [
            ("coffee-sandbox", Environment::Live),
            ("coffee", Environment::Sandbox),
        ] {
            let mut forged = TokenRequest::partner("k4", brand);
            forged.environment = Some(env);
            let token = keys.issue(forged, hour).unwrap();
            let refused = keys.verify(&token).unwrap_err();
            assert_eq!(
                refused.code,
                crate::error::ErrorCode::Unauthenticated,
                "{brand}"
            );
        }
        // Padding does not hide a sandbox, and a sandbox has no staff.
        let padded = keys
            .issue(TokenRequest::partner("k5", "coffee-sandbox "), hour)
            .unwrap();
        assert_eq!(
            keys.verify(&padded).unwrap_err().code,
            crate::error::ErrorCode::Unauthenticated
        );
        let staff = keys
            .issue(TokenRequest::staff("g", "s", "coffee-sandbox"), hour)
            .unwrap();
        assert_eq!(
            keys.verify(&staff).unwrap_err().code,
            crate::error::ErrorCode::Unauthenticated
        );
        let refused = caller.require_scope(Scope::Redeem).unwrap_err();
        assert_eq!(refused.code, crate::error::ErrorCode::Forbidden);
        assert!(refused.message.contains("redeem"), "{}", refused.message);
        // Other roles are not scoped.
        assert!(
            Caller::Operator {
                operator_id: "o".into()
            }
            .require_scope(Scope::Redeem)
            .is_ok()
        );

        let now = chrono::Utc::now().timestamp();
        let unscoped = keys
            .sign(&Claims {
                sub: "k1".into(),
                role: Role::Partner,
                brand: Some("coffee".into()),
                store: None,
                scp: None,
                env: None,
                iat: now,
                exp: now + 60,
            })
            .unwrap();
        let refused = keys.verify(&unscoped).unwrap_err();
        assert_eq!(refused.code, crate::error::ErrorCode::Unauthenticated);
        assert!(refused.message.contains("scp"), "{}", refused.message);
    }

    #[test]
    fn scopes_round_trip_through_their_stored_list() {
        for n in 0..(1u16 << Scope::ALL.len()) {
            let scopes: Scopes = Scope::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| n & (1 << i) != 0)
                .map(|(_, s)| s)
                .collect();
            assert_eq!(Scopes::parse_list(&scopes.to_list()), Some(scopes));
        }
        assert_eq!(Scopes::parse_list("earn,teleport"), None);
        assert_eq!(Scopes::all().iter().count(), Scope::ALL.len());
    }
}
