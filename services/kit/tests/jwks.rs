//! Tokens from an identity provider, verified against its JWKS served over
//! HTTP: RS256 and ES256, the key its `kid` names, `iss` and `aud`, and a
//! rotation during the test (a new key published, the old one withdrawn).

use std::time::Duration;

use kit::auth::{Caller, JwtKeys, TokenRequest};
use kit::config::Secret;
use kit::jwks::ProviderKeys;
use kit::testing::IdentityProvider;
use serde_json::json;

fn platform_secret() -> Secret {
    Secret::new("platform-secret-platform-secret-xx")
}

async fn production_keys(idp: &IdentityProvider) -> JwtKeys {
    let provider = ProviderKeys::start(idp.provider(), Duration::from_secs(3600));
    assert!(
        provider.loaded(Duration::from_secs(5)).await,
        "the JWKS loads"
    );
    JwtKeys::platform(&platform_secret()).with_provider(provider)
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_against_the_key_their_kid_names() {
    let idp = IdentityProvider::start().await;
    idp.add_es256("ec-1");
    idp.add_rs256("rsa-1");
    idp.publish(&["ec-1", "rsa-1"]);
    let keys = production_keys(&idp).await;
    let hour = chrono::Duration::hours(1);
    for kid in ["ec-1", "rsa-1"] {
        let token = idp.token(kid, TokenRequest::operator("op-1"), hour);
        assert_eq!(
            keys.verify(&token).unwrap(),
            Caller::Operator {
                operator_id: "op-1".into()
            },
            "{kid}"
        );
    }
    let staff = idp.token("rsa-1", TokenRequest::staff("g1", "s1", "apparel"), hour);
    assert!(matches!(keys.verify(&staff), Ok(Caller::Staff { .. })));

    // Relative to the system clock, the one jsonwebtoken checks `exp`
    // against (token lifetimes are security, not the platform's clock):
    // only offsets from it matter, never the hour, zone or date.
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, aud: &str, exp: i64| json!({ "sub": "op", "role": "operator", "iss": iss, "aud": aud, "iat": now, "exp": exp });
    let refusals = [
        (
            idp.sign("ec-1", &claims("https://elsewhere.example/", &idp.audience, now + 60)),
            "issuer",
        ),
        (
            idp.sign("ec-1", &claims(&idp.issuer, "another-app", now + 60)),
            "aud",
        ),
        (
            idp.sign("ec-1", &claims(&idp.issuer, &idp.audience, now - 3600)),
            "expired",
        ),
        (
            idp.sign(
                "ec-1",
                &json!({ "sub": "op", "role": "operator", "iss": idp.issuer, "iat": now, "exp": now + 60 }),
            ),
            "aud",
        ),
    ];
    let mut refusals = refusals.to_vec();
    // Not yet valid (nbf an hour ahead).
    refusals.push((
        idp.sign(
            "ec-1",
            &json!({ "sub": "op", "role": "operator", "iss": idp.issuer, "aud": idp.audience, "iat": now, "nbf": now + 3600, "exp": now + 7200 }),
        ),
        "not valid yet",
    ));
    // A service's credential is the platform's, never the provider's.
    refusals.push((
        idp.token("ec-1", TokenRequest::service("store"), hour),
        "platform's own credential",
    ));
    for (token, says) in refusals {
        let refused = keys.verify(&token).unwrap_err();
        assert_eq!(refused.code, kit::ErrorCode::Unauthenticated);
        assert!(
            refused.message.contains(says),
            "{says}: {}",
            refused.message
        );
    }
    // A token whose header names the EC key but is signed by the RSA key.
    let rsa = idp.token("rsa-1", TokenRequest::operator("op"), hour);
    let mut parts: Vec<&str> = rsa.split('.').collect();
    let ec_header = idp.token("ec-1", TokenRequest::operator("op"), hour);
    parts[0] = ec_header.split('.').next().unwrap();
    assert!(keys.verify(&parts.join(".")).is_err());
    // Development's shared-secret tokens are not accepted in production.
    let dev = JwtKeys::hs256(&Secret::new("dev-secret-dev-secret-dev-secret-xx"))
        .issue(TokenRequest::operator("op"), hour)
        .unwrap();
    assert!(keys.verify(&dev).is_err());
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_its_first_token_arrives() {
    let idp = IdentityProvider::start().await;
    idp.add_es256("2026-11");
    idp.add_rs256("2026-12");
    idp.publish(&["2026-11"]);
    let keys = production_keys(&idp).await;
    let hour = chrono::Duration::hours(1);
    let old = idp.token("2026-11", TokenRequest::member("m1"), hour);
    assert!(keys.verify(&old).is_ok());

    // The provider rotates: the new key replaces the old one.
    idp.publish(&["2026-12"]);
    let new = idp.token("2026-12", TokenRequest::member("m1"), hour);
    let first = keys.verify(&new).unwrap_err();
    assert!(first.message.contains("try again"), "{}", first.message);
    let fetched = idp.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + kit::jwks::MIN_REFETCH + Duration::from_secs(5);
    while keys.verify(&new).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new key was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Some fifty tokens asked while the new key was unknown: one fetch
    // answered them (two at most if the machine is so slow that the poll
    // straddles a second MIN_REFETCH window), never one per token.
    let during = idp.fetches.load(std::sync::atomic::Ordering::SeqCst) - fetched;
    assert!(
        (1..=2).contains(&during),
        "{during} fetches for the unknown kid"
    );
    // The withdrawn key's tokens are refused now.
    assert!(keys.verify(&old).is_err());
}

/// Sixteen callers at once, each with the same token of a key rotated in
/// since the last fetch, asking until it verifies: one fetch serves them
/// all (two if the asking straddles a second MIN_REFETCH window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_tokens_of_an_unknown_key_at_once_cause_one_fetch() {
    let idp = IdentityProvider::start().await;
    idp.add_es256("old");
    idp.add_es256("new");
    idp.publish(&["old"]);
    let keys = production_keys(&idp).await;
    idp.publish(&["old", "new"]);
    let token = idp.token(
        "new",
        TokenRequest::member("m1"),
        chrono::Duration::hours(1),
    );
    let fetched = idp.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + kit::jwks::MIN_REFETCH + Duration::from_secs(5);
    let callers = (0..16).map(|_| {
        let (keys, token) = (keys.clone(), token.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            while keys.verify(&token).is_err() {
                refused += 1;
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the new key was never fetched"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            refused
        })
    });
    let refusals: Vec<u32> = futures::future::try_join_all(callers).await.unwrap();
    assert!(refusals.iter().all(|r| *r >= 1), "{refusals:?}");
    let during = idp.fetches.load(std::sync::atomic::Ordering::SeqCst) - fetched;
    assert!(
        (1..=2).contains(&during),
        "{during} fetches for {} refusals of one unknown kid",
        refusals.iter().sum::<u32>()
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_keeps_the_keys_held_and_an_empty_set_withdraws_them() {
    let idp = IdentityProvider::start().await;
    idp.add_es256("k1");
    idp.publish(&["k1"]);
    let provider = ProviderKeys::start(idp.provider(), Duration::from_secs(3600));
    assert!(provider.loaded(Duration::from_secs(5)).await);
    let keys = JwtKeys::platform(&platform_secret()).with_provider(provider.clone());
    let token = idp.token("k1", TokenRequest::member("m1"), chrono::Duration::hours(1));
    assert!(keys.verify(&token).is_ok());
    // The provider withdraws every key: its tokens stop verifying.
    idp.publish(&[]);
    assert_eq!(provider.refresh().await, Ok(0));
    assert!(keys.verify(&token).is_err());
    idp.publish(&["k1"]);
    assert_eq!(provider.refresh().await, Ok(1));
    assert!(keys.verify(&token).is_ok());
    // A provider that is not there: not loaded, and nothing verifies.
    let closed = kit::testing::ClosedPort::new();
    let nowhere = kit::jwks::Provider {
        jwks_url: closed.url("/jwks.json"),
        ..idp.provider()
    };
    drop(closed);
    let unreachable = ProviderKeys::start(nowhere, Duration::from_secs(3600));
    assert!(!unreachable.loaded(Duration::from_millis(500)).await);
    let keys = JwtKeys::platform(&platform_secret()).with_provider(unreachable);
    assert!(keys.verify(&token).is_err());
}
