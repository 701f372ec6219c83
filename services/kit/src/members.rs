//! Who may a write act for? The member service is the authority on members,
//! and every service asks it at the moment of a write for a member: a
//! member erased or suspended a second ago, a token for an id that never
//! existed, a partner crediting an unknown id are all refused at once,
//! without waiting for a token to expire or a feed to arrive. A merged id
//! acts as its survivor, as reads already do.
//!
//! The member service serves `GET /members/{id}/standing` (to service and
//! operator tokens); [`MemberDirectory`] is the client every other service
//! holds in its context.
//!
//! The other way round, a member's data export is one document over every
//! service: each service that holds data about members serves its part at
//! [`EXPORT_ROUTE`], and the member service gathers the parts through
//! [`MemberDataHolders`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::{Environment, JwtKeys};
use crate::error::{ApiError, ErrorCode};

/// The route the member service serves a member's standing at.
pub const STANDING_ROUTE: &str = "/members/{id}/standing";
/// Whether a member is in a segment now: `{"member": true|false}`; 404 for
/// a segment (or member) that does not exist.
pub const SEGMENT_ROUTE: &str = "/members/{id}/segments/{segment}";

/// A segment's members now, by id, a page at a time (`?after=<member
/// id>&limit=1..=100`): [`SegmentMembersPage`]; 404 for an unknown
/// segment.
pub const SEGMENT_MEMBERS_ROUTE: &str = "/segments/{segment}/members";

/// A page of a segment's members (active and live), in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentMembersPage {
    pub member_ids: Vec<String>,
    /// Ask again after this id for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// How long a write waits for the member service before it is refused.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// A member's standing now: who acts for the id (the survivor of a merge,
/// or the id itself) and whether they may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub member_id: String,
    pub status: StandingStatus,
    /// Live, or a test member enrolled with a sandbox key (absent: live).
    #[serde(default)]
    pub environment: Environment,
    /// The member's tier code (`GOLD`...), for rewards only some tiers
    /// may have (absent from older member services).
    #[serde(default)]
    pub tier: Option<String>,
    /// The month (1-12) of the member's birthday, if they gave one, for
    /// birthday-month campaigns (absent from older member services).
    #[serde(default)]
    pub birthday_month: Option<u32>,
}

/// The member a write acts for, with what eligibility rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingMember {
    pub id: String,
    /// `None` when no member service is connected or it did not say.
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StandingStatus {
    Active,
    Suspended,
    Erased,
}

impl Standing {
    /// The id a write acts for, or why it may not: FORBIDDEN for an erased
    /// or suspended member.
    pub fn acting_id(self) -> Result<String, ApiError> {
        match self.status {
            StandingStatus::Active => Ok(self.member_id),
            StandingStatus::Suspended => Err(ApiError::forbidden(format!(
                "member {} is suspended",
                self.member_id
            ))),
            StandingStatus::Erased => Err(ApiError::forbidden(format!(
                "member {} was erased",
                self.member_id
            ))),
        }
    }
}

/// A service's line to the member service. Until [`connect`] is called
/// (the platform does it once every service listens) it has no member
/// service to ask, and writes go unchecked: a service started alone says
/// so in a WARN at start.
///
/// [`connect`]: MemberDirectory::connect
#[derive(Clone)]
pub struct MemberDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    base: RwLock<Option<String>>,
    client: reqwest::Client,
    keys: JwtKeys,
    service: &'static str,
}

impl MemberDirectory {
    pub fn new(service: &'static str, keys: JwtKeys) -> Self {
        Self {
            inner: Arc::new(Inner {
                base: RwLock::new(None),
                client: crate::tls::reqwest_builder()
                    .timeout(ASK_TIMEOUT)
                    .build()
                    .unwrap_or_default(),
                keys,
                service,
            }),
        }
    }

    /// Asks the member service at `base_url` (`http://host:port`) from now on.
    pub fn connect(&self, base_url: &str) {
        if let Ok(mut base) = self.inner.base.write() {
            *base = Some(base_url.trim_end_matches('/').to_owned());
        }
    }

    fn base(&self) -> Option<String> {
        self.inner.base.read().ok().and_then(|b| b.clone())
    }

    /// The id a write for `member_id` acts for: the member's own, or its
    /// survivor's after a merge. NOT_FOUND for an id no member has,
    /// FORBIDDEN for an erased or suspended member, SUBGRAPH_UNAVAILABLE
    /// when the member service does not answer (nothing is written then).
    pub async fn acting_member(&self, member_id: &str) -> Result<String, ApiError> {
        if self.base().is_none() {
            return Ok(member_id.to_owned());
        }
        match self.standing(member_id).await? {
            Some(standing) => standing.acting_id(),
            None => Err(ApiError::not_found(format!("no member {member_id}"))),
        }
    }

    /// [`acting_member`](Self::acting_member) for a write in
    /// `environment`: a member of the other environment is NOT_FOUND, as if
    /// no member had the id (test members and live ones never meet, and a
    /// sandbox learns nothing of live members).
    pub async fn acting_member_in(
        &self,
        member_id: &str,
        environment: Environment,
    ) -> Result<String, ApiError> {
        Ok(self.acting_in(member_id, environment).await?.id)
    }

    /// [`acting_member_in`](Self::acting_member_in), with the member's
    /// tier.
    pub async fn acting_in(
        &self,
        member_id: &str,
        environment: Environment,
    ) -> Result<ActingMember, ApiError> {
        if self.base().is_none() {
            return Ok(ActingMember {
                id: member_id.to_owned(),
                tier: None,
            });
        }
        match self.standing(member_id).await? {
            Some(standing) if standing.environment == environment => {
                let tier = standing.tier.clone();
                Ok(ActingMember {
                    id: standing.acting_id()?,
                    tier,
                })
            }
            _ => Err(ApiError::not_found(format!(
                "no member {member_id} in {}",
                environment.described()
            ))),
        }
    }

    /// The birthday month (1-12) of `member_id`, if the member gave a
    /// birthday: `None` as well when no member has the id or no member
    /// service is connected. SUBGRAPH_UNAVAILABLE when it does not answer.
    pub async fn birthday_month(&self, member_id: &str) -> Result<Option<u32>, ApiError> {
        Ok(self
            .standing(member_id)
            .await?
            .and_then(|s| s.birthday_month)
            .filter(|m| (1..=12).contains(m)))
    }

    /// The member service's answer for `member_id`: `None` when no member
    /// has it (or no member service is connected).
    async fn standing(&self, member_id: &str) -> Result<Option<Standing>, ApiError> {
        let Some(base) = self.base() else {
            return Ok(None);
        };
        let unavailable = || {
            ApiError::new(
                ErrorCode::SubgraphUnavailable,
                "the member service did not answer; nothing was written",
            )
            .with_detail("serviceName", "member")
        };
        let path = STANDING_ROUTE.replace("{id}", &urlencode(member_id));
        let credential = self.inner.keys.service_token(self.inner.service)?;
        let response = self
            .inner
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(credential)
            .send()
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "member standing: no answer");
                unavailable()
            })?;
        match response.status() {
            reqwest::StatusCode::OK => {}
            reqwest::StatusCode::NOT_FOUND => return Ok(None),
            status => {
                tracing::warn!(%status, "member standing: unexpected answer");
                return Err(unavailable());
            }
        }
        let standing: Standing = response.json().await.map_err(|err| {
            tracing::warn!(error = %err, "member standing: unreadable answer");
            unavailable()
        })?;
        Ok(Some(standing))
    }
}

impl MemberDirectory {
    /// Whether `member_id` is in segment `segment_id` now, as the member
    /// service evaluates it. NOT_FOUND for a segment it does not know;
    /// FORBIDDEN when no member service is connected (membership cannot be
    /// shown, so nothing that needs it is given); SUBGRAPH_UNAVAILABLE when
    /// it does not answer.
    pub async fn in_segment(&self, member_id: &str, segment_id: &str) -> Result<bool, ApiError> {
        #[derive(Deserialize)]
        struct Membership {
            member: bool,
        }
        let path = SEGMENT_ROUTE
            .replace("{id}", &urlencode(member_id))
            .replace("{segment}", &urlencode(segment_id));
        let answer: Membership = self
            .ask_about_segment(segment_id, &path, &[], "segment membership")
            .await?;
        Ok(answer.member)
    }

    /// A page of at most `limit` (1-100) of segment `segment_id`'s
    /// members now, after member id `after`. Errors as
    /// [`in_segment`](Self::in_segment).
    pub async fn segment_members(
        &self,
        segment_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<SegmentMembersPage, ApiError> {
        let path = SEGMENT_MEMBERS_ROUTE.replace("{segment}", &urlencode(segment_id));
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        self.ask_about_segment(segment_id, &path, &query, "segment members")
            .await
    }

    /// GETs `path` (with `query`) from the member service as this service,
    /// and reads the answer as `T`: NOT_FOUND when it knows no segment
    /// `segment_id`, FORBIDDEN when none is connected, SUBGRAPH_UNAVAILABLE
    /// when it does not answer as it should (logged as `what`).
    async fn ask_about_segment<T: serde::de::DeserializeOwned>(
        &self,
        segment_id: &str,
        path: &str,
        query: &[(&str, &str)],
        what: &'static str,
    ) -> Result<T, ApiError> {
        let Some(base) = self.base() else {
            return Err(ApiError::forbidden(format!(
                "{what} cannot be asked: no member service is connected"
            )));
        };
        let unavailable = || {
            ApiError::new(
                ErrorCode::SubgraphUnavailable,
                "the member service did not answer; nothing was written",
            )
            .with_detail("serviceName", "member")
        };
        let credential = self.inner.keys.service_token(self.inner.service)?;
        let response = self
            .inner
            .client
            .get(format!("{base}{path}"))
            .query(query)
            .bearer_auth(credential)
            .send()
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, what, "member service: no answer");
                unavailable()
            })?;
        match response.status() {
            reqwest::StatusCode::OK => {}
            reqwest::StatusCode::NOT_FOUND => {
                return Err(ApiError::not_found(format!("no segment {segment_id}")));
            }
            status => {
                tracing::warn!(%status, what, "member service: unexpected answer");
                return Err(unavailable());
            }
        }
        response.json().await.map_err(|err| {
            tracing::warn!(error = %err, what, "member service: unreadable answer");
            unavailable()
        })
    }

    /// The member `member_id` now stands for, whatever their status (the
    /// survivor of a merge), if the member service knows and says so.
    pub async fn survivor_of(&self, member_id: &str) -> Option<String> {
        self.standing(member_id)
            .await
            .ok()
            .flatten()
            .map(|s| s.member_id)
    }
}

/// The route every service holding member data serves its part of a
/// member's export at: `POST` an [`ExportRequest`] with a service or
/// operator token; the answer is the service's part, a JSON object.
pub const EXPORT_ROUTE: &str = "/members/export";

/// At most this many ids in one export request (a member and the records
/// merged into them).
pub const MAX_EXPORT_IDS: usize = 1_000;

/// How long the export waits for one service's part.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whose data to export: a member's id and every id merged into it (the
/// other services know the merged ids' records under those ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    pub member_ids: Vec<String>,
}

/// One table of a service that names members, and where that service's
/// export part lists its rows (a JSON pointer into the part). Each
/// service's list is checked against its database schema in its tests, so
/// a new table about members cannot be left out of the export unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldAbout {
    pub table: &'static str,
    pub path: &'static str,
}

/// A service's part of a member's export, for the ids given.
pub type ExportFn =
    for<'a> fn(
        &'a crate::service::ServiceContext,
        &'a [String],
    ) -> futures::future::BoxFuture<'a, Result<serde_json::Value, ApiError>>;

/// The member service's line to every other service that holds member
/// data, by service name. Nothing is connected until the platform connects
/// each service (as `up` and `serve` do from the configured peers); a
/// member service started alone exports its own part only, and says which
/// services the document covers.
#[derive(Clone)]
pub struct MemberDataHolders {
    inner: Arc<HoldersInner>,
}

struct HoldersInner {
    bases: RwLock<BTreeMap<String, String>>,
    client: reqwest::Client,
    keys: JwtKeys,
    service: &'static str,
}

impl MemberDataHolders {
    pub fn new(service: &'static str, keys: JwtKeys) -> Self {
        Self {
            inner: Arc::new(HoldersInner {
                bases: RwLock::new(BTreeMap::new()),
                client: crate::tls::reqwest_builder()
                    .timeout(EXPORT_TIMEOUT)
                    .build()
                    .unwrap_or_default(),
                keys,
                service,
            }),
        }
    }

    /// Asks `service` at `base_url` (`http://host:port`) for its part.
    pub fn connect(&self, service: &str, base_url: &str) {
        if let Ok(mut bases) = self.inner.bases.write() {
            bases.insert(
                service.to_owned(),
                base_url.trim_end_matches('/').to_owned(),
            );
        }
    }

    /// The services connected, by name.
    pub fn services(&self) -> Vec<String> {
        self.inner
            .bases
            .read()
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every connected service's part for `member_ids`, by service name,
    /// asked at once. All or nothing: a service that does not answer makes
    /// the whole export SUBGRAPH_UNAVAILABLE (naming it), because an export
    /// that silently lacks a part would tell the member we hold less than
    /// we do.
    pub async fn gather(
        &self,
        member_ids: &[String],
    ) -> Result<BTreeMap<String, serde_json::Value>, ApiError> {
        let bases: Vec<(String, String)> = self
            .inner
            .bases
            .read()
            .map(|b| b.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let request = ExportRequest {
            member_ids: member_ids.to_vec(),
        };
        let asks = bases.into_iter().map(|(service, base)| {
            let request = &request;
            async move {
                let part = self.ask(&base, request).await.map_err(|reason| {
                    tracing::warn!(%service, %reason, "member export: no part");
                    ApiError::new(
                        ErrorCode::SubgraphUnavailable,
                        format!(
                            "the {service} service did not give its part of the export; try again"
                        ),
                    )
                    .with_detail("serviceName", service.clone())
                })?;
                Ok::<_, ApiError>((service, part))
            }
        });
        futures::future::try_join_all(asks)
            .await
            .map(|parts| parts.into_iter().collect())
    }

    async fn ask(&self, base: &str, request: &ExportRequest) -> Result<serde_json::Value, String> {
        let credential = self
            .inner
            .keys
            .service_token(self.inner.service)
            .map_err(|e| e.message)?;
        let response = self
            .inner
            .client
            .post(format!("{base}{EXPORT_ROUTE}"))
            .bearer_auth(credential)
            .json(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let part: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        if part.is_object() {
            Ok(part)
        } else {
            Err("its part is not a JSON object".into())
        }
    }
}

/// Percent-encodes an id for a path segment (ids are tokens, but an
/// arbitrary caller-supplied id must not change the path).
fn urlencode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_member_acts() {
        let standing = |status| Standing {
            tier: None,
            birthday_month: None,
            environment: Environment::Live,
            member_id: "m-1".into(),
            status,
        };
        assert_eq!(standing(StandingStatus::Active).acting_id().unwrap(), "m-1");
        for (status, words) in [
            (StandingStatus::Suspended, "suspended"),
            (StandingStatus::Erased, "erased"),
        ] {
            let err = standing(status).acting_id().unwrap_err();
            assert_eq!(err.code, ErrorCode::Forbidden);
            assert!(err.message.contains(words), "{}", err.message);
        }
        let wire = serde_json::to_value(standing(StandingStatus::Erased)).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({ "memberId": "m-1", "status": "ERASED", "environment": "LIVE", "tier": null, "birthdayMonth": null })
        );
        // A member service from before environments says none: live.
        let older: Standing =
            serde_json::from_value(serde_json::json!({ "memberId": "m-1", "status": "ACTIVE" }))
                .unwrap();
        assert_eq!(older.environment, Environment::Live);
        assert_eq!(older.tier, None, "and no tier");
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(urlencode("m-1_a"), "m-1_a");
        assert_eq!(urlencode("../x?y=1"), "%2E%2E%2Fx%3Fy%3D1");
    }

    #[tokio::test]
    async fn unconnected_it_lets_the_write_through_as_asked() {
        let keys = JwtKeys::hs256(&crate::config::Secret::new(crate::auth::random_secret()));
        let directory = MemberDirectory::new("product", keys);
        assert_eq!(directory.acting_member("m-9").await.unwrap(), "m-9");
    }
}
