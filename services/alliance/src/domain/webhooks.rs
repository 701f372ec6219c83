//! Partners' webhooks as plain rules: which ledger entries become which
//! events, what a registered endpoint may be, how a delivery is signed and
//! checked, and how long to wait before the next attempt.
//!
//! Signature (header `Bigmember-Signature`), as Stripe's scheme:
//! `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A receiver
//! recomputes `v1` over the raw body and refuses a `t` more than
//! [`SIGNATURE_TOLERANCE_SECS`] from its own clock (a replay).

use std::collections::BTreeSet;

use crate::domain::ledger::EntryKind;
use crate::error::{Error, Result};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "bigmember-signature";
/// The header carrying the event's id (also in the body).
pub const EVENT_ID_HEADER: &str = "bigmember-event-id";
/// The header carrying the event's type (also in the body).
pub const EVENT_TYPE_HEADER: &str = "bigmember-event-type";
/// How far a signature's timestamp may be from the receiver's clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;
/// The longest endpoint URL.
pub const MAX_URL_CHARS: usize = 2048;
/// How much of an endpoint's answer the delivery log keeps.
pub const ANSWER_KEPT_CHARS: usize = 512;

kit::stored_enum! {
    /// What a partner can be told about. Stored as the names below; on the
    /// wire (`type` in the body) as [`WebhookEventType::wire_name`].
    #[derive(async_graphql::Enum, Hash, PartialOrd, Ord)]
    pub enum WebhookEventType {
        /// Points earned in the brand's programme (pending at first).
        PointsEarned,
        /// Pending points became spendable.
        PointsActivated,
        PointsRedeemed,
        /// Points taken back (a refund, a cancellation, a correction).
        PointsReversed,
        PointsExpired,
        /// A lot of points will expire within the warning window; once per
        /// lot.
        PointsExpiringSoon,
        /// An operator's correction.
        PointsAdjusted,
        /// Points left the programme in an exchange.
        ExchangeOut,
        /// Points arrived in the programme from an exchange.
        ExchangeIn,
        TermsProposed,
        TermsAccepted,
        /// A member with an account here was merged into another (ids only).
        MemberMerged,
        /// A member with an account here was erased (ids only).
        MemberErased,
        /// The brand's clearing statement for a month was closed.
        StatementClosed,
    }
}

impl WebhookEventType {
    /// The event's name in the delivered body: `points.earned`.
    pub fn wire_name(self) -> &'static str {
        use WebhookEventType::*;
        match self {
            PointsEarned => "points.earned",
            PointsActivated => "points.activated",
            PointsRedeemed => "points.redeemed",
            PointsReversed => "points.reversed",
            PointsExpired => "points.expired",
            PointsExpiringSoon => "points.expiring_soon",
            PointsAdjusted => "points.adjusted",
            ExchangeOut => "exchange.out",
            ExchangeIn => "exchange.in",
            TermsProposed => "terms.proposed",
            TermsAccepted => "terms.accepted",
            MemberMerged => "member.merged",
            MemberErased => "member.erased",
            StatementClosed => "statement.closed",
        }
    }

    /// The event a ledger entry of `kind` is announced as; none for the
    /// entries of a merge (announced once, as [`Self::MemberMerged`]).
    pub fn of_entry(kind: EntryKind) -> Option<Self> {
        use WebhookEventType::*;
        match kind {
            EntryKind::Earn => Some(PointsEarned),
            EntryKind::Activate => Some(PointsActivated),
            EntryKind::Redeem => Some(PointsRedeemed),
            EntryKind::Reversal => Some(PointsReversed),
            EntryKind::Expire => Some(PointsExpired),
            EntryKind::Adjustment => Some(PointsAdjusted),
            EntryKind::ExchangeOut => Some(ExchangeOut),
            EntryKind::ExchangeIn => Some(ExchangeIn),
            EntryKind::MergeIn | EntryKind::MergeOut => None,
        }
    }

    fn stored_name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

kit::stored_enum! {
    /// Where a delivery stands.
    #[derive(async_graphql::Enum, Hash)]
    #[graphql(name = "WebhookDeliveryStatus")]
    pub enum DeliveryStatus {
        /// Waiting for its next attempt.
        Pending,
        /// The endpoint answered 2xx.
        Delivered,
        /// Every attempt failed; a redelivery can be asked for.
        Failed,
    }
}

/// The event types an endpoint listens to: at least one, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(BTreeSet<WebhookEventType>);

impl EventTypes {
    /// From a request; BAD_USER_INPUT (`events`) if empty.
    pub fn parse(types: impl IntoIterator<Item = WebhookEventType>) -> Result<Self> {
        let set: BTreeSet<_> = types.into_iter().collect();
        if set.is_empty() {
            return Err(Error::invalid(
                "events",
                "name at least one event type to deliver",
            ));
        }
        Ok(Self(set))
    }

    pub fn contains(&self, t: WebhookEventType) -> bool {
        self.0.contains(&t)
    }

    pub fn iter(&self) -> impl Iterator<Item = WebhookEventType> + '_ {
        self.0.iter().copied()
    }

    /// As stored: names joined by commas.
    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|t| t.stored_name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// From the stored list; an unknown name is skipped (a type retired
    /// after the endpoint was registered delivers nothing).
    pub fn from_list(list: &str) -> Self {
        Self(
            list.split(',')
                .filter_map(|name| serde_json::from_value(serde_json::json!(name)).ok())
                .collect(),
        )
    }
}

/// An endpoint's URL: absolute `https://` or `http://`, with a host, no
/// user or password in it, no fragment, at most [`MAX_URL_CHARS`]; unless
/// `allow_private`, not `localhost` nor an address that is not public
/// ([`is_public`]). (A name that resolves to such an address is refused
/// when sending, by the sender's resolver.)
pub fn parse_endpoint_url(raw: &str, allow_private: bool) -> Result<String> {
    let bad = |why: &str| Error::invalid("url", format!("url {why}"));
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(bad(&format!("is longer than {MAX_URL_CHARS} characters")));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("must start with https:// or http://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry a user or password (the signature authenticates us)",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    if !allow_private && !host_may_be_public(&url) {
        return Err(bad(
            "must be a public address (not localhost, private, link-local or loopback)",
        ));
    }
    Ok(url.to_string())
}

/// Whether `url`'s host can be a public address: a public IP, or a name
/// other than `localhost` (names are checked again when resolved).
pub fn host_may_be_public(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(std::net::IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Whether `ip` is a public unicast address: not loopback, private,
/// link-local, shared (100.64/10), unspecified, broadcast, multicast,
/// unique-local (fc00::/7), nor an IPv4-mapped one of those.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A new signing secret: `whsec_` and 64 hex characters (256 bits).
pub fn new_signing_secret() -> String {
    format!("whsec_{}", kit::auth::random_secret())
}

/// The `Bigmember-Signature` value for `body` sent at `timestamp` (unix
/// seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "t={timestamp},v1={}",
        kit::digest::hmac_sha256_hex(secret.as_bytes(), &signed)
    )
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance (a replay?)")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// What a receiver does (the README's example in another language): the
/// header's `t` within `tolerance_secs` of `now` (unix seconds), and one of
/// its `v1` values equal to the HMAC of `"<t>.<body>"`.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> std::result::Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(t) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = signature(secret, t, body);
    let expected = expected.rsplit_once("v1=").map_or("", |(_, v)| v);
    if candidates
        .iter()
        .any(|c| kit::digest::constant_time_eq(c, expected))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// How long to wait (ms) after failed attempt number `attempts` (1 for the
/// first): `base_ms` doubled per earlier failure, at most `cap_ms`, of
/// which a random half (`jitter` in 0..1) is kept, so that endpoints that
/// failed together do not all come back at once.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, cap_ms: u64, jitter: f64) -> u64 {
    let doublings = attempts.saturating_sub(1).min(40);
    let full = base_ms.saturating_mul(1u64 << doublings).min(cap_ms);
    let jitter = jitter.clamp(0.0, 1.0);
    full / 2 + ((full - full / 2) as f64 * jitter) as u64
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again after the wait.
    Retry,
    /// That was the last attempt.
    Failed,
}

/// An attempt's outcome from the endpoint's HTTP status (none: it did not
/// answer in time, or could not be reached): any 2xx delivers; anything
/// else is retried until `max_attempts` attempts were made.
pub fn attempt_outcome(status: Option<u16>, attempts: u32, max_attempts: u32) -> AttemptOutcome {
    match status {
        Some(s) if (200..300).contains(&s) => AttemptOutcome::Delivered,
        _ if attempts >= max_attempts => AttemptOutcome::Failed,
        _ => AttemptOutcome::Retry,
    }
}

/// The body of a delivery: `{"id","type","createdAt","brandId","data"}`.
/// `data` holds ids and amounts, never a member's personal data.
pub fn envelope(
    event_id: &str,
    event_type: WebhookEventType,
    brand_id: &str,
    created_at: chrono::DateTime<chrono::Utc>,
    data: serde_json::Value,
) -> String {
    serde_json::json!({
        "id": event_id,
        "type": event_type.wire_name(),
        "createdAt": created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "brandId": brand_id,
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sea_orm::Iterable;

    #[test]
    fn a_signature_verifies_and_any_change_is_refused() {
        let secret = new_signing_secret();
        let body = br#"{"id":"evt_1","type":"points.earned"}"#;
        let header = signature(&secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify_signature(&secret, &header, body, 1_700_000_100, 300),
            Ok(())
        );
        // Another body, another secret, a replay, a broken header.
        assert_eq!(
            verify_signature(&secret, &header, b"{}", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_other", &header, body, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&secret, &header, body, 1_700_000_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(&secret, &header, body, 1_699_999_699, 300),
            Err(SignatureError::Stale)
        );
        for broken in ["", "v1=abc", "t=x,v1=abc", "t=1700000000"] {
            assert_eq!(
                verify_signature(&secret, broken, body, 1_700_000_000, 300),
                Err(SignatureError::Malformed),
                "{broken}"
            );
        }
        // A rotated secret's second v1 still verifies.
        let two = format!("{header},v1=0000");
        assert_eq!(
            verify_signature(&secret, &two, body, 1_700_000_000, 300),
            Ok(())
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: HMAC-SHA256("key", "1.{}").
        assert_eq!(
            signature("key", 1, b"{}"),
            format!("t=1,v1={}", kit::digest::hmac_sha256_hex(b"key", b"1.{}"))
        );
    }

    #[test]
    fn endpoints_must_be_public_unless_allowed() {
        for private in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://api.localhost./",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let err = parse_endpoint_url(private, false).unwrap_err();
            assert_eq!(err.field(), Some("url"), "{private}");
            assert!(parse_endpoint_url(private, true).is_ok(), "{private}");
        }
        for public in [
            "https://8.8.8.8/",
            "https://[2001:4860::8888]/",
            "https://hooks.example.com/",
        ] {
            assert!(parse_endpoint_url(public, false).is_ok(), "{public}");
        }
    }

    #[test]
    fn endpoint_urls_are_absolute_http_without_credentials() {
        assert_eq!(
            parse_endpoint_url(" https://hooks.example.com/bigmember ", false).unwrap(),
            "https://hooks.example.com/bigmember"
        );
        assert!(parse_endpoint_url("http://127.0.0.1:9000/", true).is_ok());
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_CHARS));
        for bad in [
            "",
            "hooks.example.com",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "file:///etc/passwd",
            long.as_str(),
        ] {
            let err = parse_endpoint_url(bad, true).unwrap_err();
            assert_eq!(err.field(), Some("url"), "{bad}");
        }
    }

    #[test]
    fn every_entry_kind_but_merges_is_announced_and_names_are_distinct() {
        for kind in EntryKind::iter() {
            let announced = WebhookEventType::of_entry(kind);
            assert_eq!(
                announced.is_none(),
                matches!(kind, EntryKind::MergeIn | EntryKind::MergeOut),
                "{kind:?}"
            );
        }
        let names: BTreeSet<_> = WebhookEventType::iter().map(|t| t.wire_name()).collect();
        assert_eq!(names.len(), WebhookEventType::iter().count());
    }

    #[test]
    fn event_type_lists_round_trip_and_refuse_empty() {
        let types = EventTypes::parse([
            WebhookEventType::TermsAccepted,
            WebhookEventType::PointsEarned,
            WebhookEventType::PointsEarned,
        ])
        .unwrap();
        assert_eq!(types.to_list(), "POINTS_EARNED,TERMS_ACCEPTED");
        assert_eq!(EventTypes::from_list(&types.to_list()), types);
        let all = EventTypes::parse(WebhookEventType::iter()).unwrap();
        assert_eq!(EventTypes::from_list(&all.to_list()), all);
        assert!(all.to_list().len() <= 512, "fits the column");
        assert_eq!(EventTypes::parse([]).unwrap_err().field(), Some("events"));
    }

    #[test]
    fn outcomes_follow_the_status_and_the_attempt_limit() {
        assert_eq!(
            attempt_outcome(Some(204), 12, 12),
            AttemptOutcome::Delivered
        );
        assert_eq!(attempt_outcome(Some(500), 1, 3), AttemptOutcome::Retry);
        assert_eq!(attempt_outcome(None, 2, 3), AttemptOutcome::Retry);
        assert_eq!(attempt_outcome(Some(301), 3, 3), AttemptOutcome::Failed);
        assert_eq!(attempt_outcome(None, 3, 3), AttemptOutcome::Failed);
    }

    proptest! {
        #[test]
        fn retry_waits_grow_stay_capped_and_keep_half(
            attempts in 1u32..200,
            base in 1u64..100_000,
            extra in 0u64..100_000_000,
            jitter in 0.0f64..1.0,
        ) {
            let cap = base + extra;
            let wait = retry_delay_ms(attempts, base, cap, jitter);
            let full = base.saturating_mul(1u64 << (attempts - 1).min(40)).min(cap);
            prop_assert!(wait <= full);
            prop_assert!(wait >= full / 2);
            prop_assert!(wait <= cap);
            // Without jitter the waits never shrink from one attempt to the next.
            prop_assert!(
                retry_delay_ms(attempts, base, cap, 0.0) <= retry_delay_ms(attempts + 1, base, cap, 0.0)
            );
        }
    }
}
