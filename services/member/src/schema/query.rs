use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object};
use kit::auth::Scope;
use kit::paging::{PageRequest, encode_cursor};
use kit::{ApiResult, Caller};

use super::inputs::MemberFilterInput;
use super::segments::Segment;
use super::types::{Member, TierLevel};
use super::{caller, db, load_member, view};
use crate::domain::access::Visibility;
use crate::domain::identity::{Channel, ExternalId, ForeignId, namespace_of};
use crate::error::Error;
use crate::store;

pub struct Query;

#[Object]
impl Query {
    /// The signed-in member.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Member> {
        match caller(ctx).require_authenticated()? {
            Caller::Member { member_id } => {
                let record = load_member(ctx, member_id).await?;
                Ok(view(ctx, record).await?)
            }
            _ => Err(Error::forbidden("`me` is for members; use member(id)").into()),
        }
    }

    /// A member by id. A merged id resolves to the surviving member.
    async fn member(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Member> {
        // The scope before the look-up: a key without it learns nothing,
        // not even whether the member exists.
        caller(ctx)
            .require_authenticated()?
            .require_scope(Scope::ReadAccounts)?;
        let record = load_member(ctx, &id).await?;
        Ok(view(ctx, record).await?)
    }

    /// The member holding a channel identity, or null if nobody does. A
    /// PARTNER identity is its brand's: `brandId` names the brand (a
    /// partner's own by default).
    async fn member_by_identity(
        &self,
        ctx: &Context<'_>,
        channel: Channel,
        external_id: String,
        brand_id: Option<ID>,
    ) -> ApiResult<Option<Member>> {
        // The scope before the look-up: a key without it learns nothing,
        // not even whether the identity is held.
        let caller = caller(ctx);
        caller
            .require_authenticated()?
            .require_scope(Scope::ReadAccounts)?;
        let external_id = ExternalId::parse("externalId", &external_id)?;
        let brand = match (brand_id, caller) {
            (Some(b), _) => Some(ForeignId::parse("brandId", &b)?.into_string()),
            (None, Caller::Partner { brand_id, .. }) => Some(brand_id.clone()),
            (None, _) => None,
        };
        let namespace = namespace_of(channel, brand.as_deref());
        let Some(member_id) = store::member_id_by_identity(
            db(ctx),
            channel,
            &external_id,
            caller.environment(),
            &namespace,
        )
        .await?
        else {
            return Ok(None);
        };
        let record = load_member(ctx, &member_id).await?;
        Ok(Some(view(ctx, record).await?))
    }

    /// Operators: members, newest first, filtered.
    async fn members(
        &self,
        ctx: &Context<'_>,
        filter: Option<MemberFilterInput>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Member, EmptyFields, EmptyFields>> {
        caller(ctx).require_operator()?;
        let filter = filter.unwrap_or_default().parse()?;
        let page = PageRequest::parse(first, after)?;
        let db = db(ctx);
        let (rows, has_next) = store::list_members(db, &filter, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|row| {
            Edge::new(
                encode_cursor(&row.id),
                Member {
                    record: Arc::new(row),
                    visibility: Visibility::Personal,
                },
            )
        }));
        Ok(connection)
    }

    /// Operators: segments, oldest first.
    async fn segments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Segment, EmptyFields, EmptyFields>> {
        caller(ctx).require_operator()?;
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = store::segments::segments_page(db(ctx), &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(encode_cursor(&row.id), Segment(row))),
        );
        Ok(connection)
    }

    /// Operators: one segment.
    async fn segment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Segment> {
        caller(ctx).require_operator()?;
        Ok(Segment(store::segments::segment_by_id(db(ctx), &id).await?))
    }

    /// Tier levels, lowest first.
    async fn tier_levels(&self, ctx: &Context<'_>) -> ApiResult<Vec<TierLevel>> {
        caller(ctx).require_authenticated()?;
        let ladder = store::ladder(db(ctx)).await?;
        Ok(ladder.levels().iter().map(TierLevel::from).collect())
    }

    /// Federation: Member entities by id, batched through the DataLoader.
    /// A representation that fails (unknown, forbidden) is null with its own
    /// error; the rest of the batch still resolves.
    #[graphql(entity)]
    async fn find_member_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Member> {
        let found = async {
            caller(ctx).require_authenticated()?;
            let record = load_member(ctx, &id).await?;
            view(ctx, record).await
        }
        .await;
        match found {
            Ok(member) => Some(member),
            Err(err) => {
                let error: async_graphql::Error = kit::ApiError::from(err).into();
                ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                None
            }
        }
    }
}
