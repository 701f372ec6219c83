//! Demo data a front-end developer can click through: members on several
//! channels and brands, with tags, consents, touchpoints and tiers. Running
//! it twice changes nothing (registration is idempotent per identity, and
//! touchpoints carry retry keys).

use chrono::Duration;
use kit::demo;
use sea_orm::ActiveEnum as _;
use sea_orm::DatabaseConnection;

use crate::domain::consent::ConsentPurpose;
use crate::domain::identity::{Channel, ExternalId, ForeignId, NewIdentity};
use crate::domain::profile::{Email, Gender, PersonName, PhoneNumber};
use crate::domain::tag::Tag;
use crate::domain::touchpoint::TouchpointKind;
use crate::store::{self, Actor, NewTouchpoint, Registration};

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = ["芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];
const TAGS: [&str; 6] = [
    "coffee-lover",
    "movie-goer",
    "lifecycle:new",
    "lifecycle:active",
    "vip-prospect",
    "weekend-shopper",
];

/// A demo id, as the domain would parse it.
fn foreign_id(field: &str, raw: &str) -> crate::error::Result<ForeignId> {
    Ok(ForeignId::parse(field, raw)?)
}

/// Demo member `i`'s first identity: the channel it registered on and its
/// id there.
pub fn first_identity(i: usize) -> (Channel, String) {
    let channel = [Channel::App, Channel::WechatMiniProgram, Channel::StorePos][i % 3];
    let external_id = format!("demo-{}-{i:04}", channel.to_value().to_lowercase());
    (channel, external_id)
}

/// The first `count` demo members (`demo.members` of the configuration:
/// 1,000 unless set; tests take fewer, as seeding costs about 10 ms a member).
pub async fn demo_members(
    db: &DatabaseConnection,
    count: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<demo::Loaded> {
    let actor = Actor::system("seed");
    // The demo's retry keys are an operator's.
    let demo_operator = kit::Caller::Operator {
        operator_id: "seed".into(),
    };
    let mut created = 0;
    for i in 0..count {
        let brand = demo::BRANDS[i % demo::BRANDS.len()];
        let (channel, external_id) = first_identity(i);
        let registration = Registration {
            environment: kit::auth::Environment::Live,
            identity: NewIdentity {
                channel,
                external_id: ExternalId::parse("externalId", &external_id)?,
                brand_id: Some(foreign_id("brandId", brand)?),
            },
            phone: Some(PhoneNumber::parse(&format!("139{:08}", 10_000_000 + i))?),
            email: (i % 2 == 0)
                .then(|| Email::parse(&format!("member{i}@example.com")))
                .transpose()?,
            name: Some(PersonName::parse(&format!(
                "{}{}",
                SURNAMES[i % 10],
                GIVEN[(i / 10) % 10]
            ))?),
            birthday: None,
            gender: Some([Gender::Female, Gender::Male, Gender::Undisclosed][i % 3]),
            referrer_id: None,
            guide_code: (i % 4 == 0)
                .then(|| {
                    crate::domain::identity::GuideCode::parse(&demo::guide_code(
                        i % demo::STORES.len(),
                    ))
                })
                .transpose()?,
        };
        let (member, outcome) = store::register(db, &registration, &actor, now).await?;
        if outcome == store::RegistrationOutcome::Created {
            created += 1;
        }
        // Half of them also use the brand's mini program.
        if i % 2 == 0 && channel != Channel::WechatMiniProgram {
            let mini_program = NewIdentity {
                channel: Channel::WechatMiniProgram,
                external_id: ExternalId::parse("externalId", &format!("demo-mp-{i:04}"))?,
                brand_id: Some(foreign_id("brandId", brand)?),
            };
            store::link_identity(db, &member.id, &mini_program, now).await?;
        }
        if i % 5 == 0 {
            let wechat = NewIdentity {
                channel: Channel::WechatOfficialAccount,
                external_id: ExternalId::parse("externalId", &format!("demo-oa-{i:04}"))?,
                brand_id: None,
            };
            store::link_identity(db, &member.id, &wechat, now).await?;
        }
        let tags = [
            Tag::parse(TAGS[i % TAGS.len()])?,
            Tag::parse(TAGS[(i + 2) % TAGS.len()])?,
        ];
        store::add_tags(db, &member.id, &tags, &actor, now).await?;
        store::set_consent(
            db,
            &member.id,
            ConsentPurpose::MarketingSms,
            i % 3 != 0,
            now,
        )
        .await?;
        for (n, kind) in [
            TouchpointKind::StoreVisit,
            TouchpointKind::CouponClaimed,
            TouchpointKind::Purchase,
        ]
        .into_iter()
        .enumerate()
        {
            let touchpoint = NewTouchpoint {
                member_id: member.id.clone(),
                kind,
                channel: Channel::StorePos,
                store_id: Some(foreign_id(
                    "storeId",
                    &demo::store_id(i % demo::STORES.len()),
                )?),
                // Anchored to registration, so a second run replays the same touchpoint.
                occurred_at: kit::time::from_micros(member.registered_at)
                    - Duration::days((i + n * 7) as i64),
                attributes: serde_json::json!({ "demo": true }),
                key: Some(
                    kit::idempotency::IdempotencyKey::parse(
                        &demo_operator,
                        &format!("demo-touchpoint-{i:04}-{n}"),
                    )
                    .map_err(crate::error::Error::from)?,
                ),
            };
            store::record_touchpoint(db, &touchpoint, &actor, now).await?;
        }
        if i % 7 == 0 && outcome == store::RegistrationOutcome::Created {
            store::adjust_growth(
                db,
                &member.id,
                (i as i64 + 1) * 400,
                "demo purchases",
                &actor,
                now,
            )
            .await?;
        }
    }
    let segments = demo_segments(db, &demo_operator, &actor, now).await?;
    Ok(demo::Loaded {
        part: "member",
        what: format!(
            "{count} demo members across brands {}, {} segments",
            demo::BRANDS.join(", "),
            DEMO_SEGMENTS.len()
        ),
        new: created + segments,
    })
}

/// The demo's segments: by tier, and by recent purchases.
pub const DEMO_SEGMENTS: [&str; 2] = ["Gold and Platinum", "Bought in the last 30 days"];

/// Defines the demo segments once (stable keys: a second run changes
/// nothing). Returns how many are new.
async fn demo_segments(
    db: &DatabaseConnection,
    operator: &kit::Caller,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    use crate::domain::segment::SegmentRules;
    let rules = [
        SegmentRules {
            tiers: ["GOLD".to_owned(), "PLATINUM".to_owned()].into(),
            ..SegmentRules::default()
        },
        SegmentRules {
            purchased_within_days: Some(30),
            ..SegmentRules::default()
        },
    ];
    let mut new = 0;
    for (n, (name, rules)) in DEMO_SEGMENTS.iter().zip(&rules).enumerate() {
        let key = kit::idempotency::IdempotencyKey::parse(operator, &format!("demo-segment-{n}"))
            .map_err(crate::error::Error::from)?;
        let made = store::segments::create(db, name, rules, &key, actor, now).await?;
        new += usize::from(made.created_at == kit::time::to_micros(now));
    }
    Ok(new)
}
