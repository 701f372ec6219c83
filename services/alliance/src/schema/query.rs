use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object};
use kit::ApiResult;
use kit::auth::Scope;
use kit::paging::{PageRequest, encode_cursor};

use super::access::{act_for_brand, operator, points_view, verified};
use super::statements::ClosedClearingStatement;
use super::types::{
    AuditEntry, Brand, ClearingStatement, ExchangeTerms, MemberRef, OrderRef, PartnerKey,
    PointsAccount, Programme, programme_by,
};
use super::webhooks::WebhookEndpoint;
use super::{caller, db, now};
use crate::domain::audit::AuditAction;
use crate::domain::exchange::Period;
use crate::domain::sandbox::visible_to;
use crate::error::Error;
use crate::store::audit::{self, AuditFilter};
use crate::store::exchange::{clearing_statement, visible_terms};
use crate::store::{ledger, programmes, statements, webhooks};

pub struct Query;

#[Object]
impl Query {
    /// The brands of the alliance.
    /// The brands of the alliance: live ones, or a sandbox key's sandbox
    /// ones (operators: all).
    async fn alliance_brands(&self, ctx: &Context<'_>) -> ApiResult<Vec<Brand>> {
        let caller = caller(ctx);
        Ok(programmes::all_brands(db(ctx))
            .await?
            .into_iter()
            .filter(|b| visible_to(caller, b.environment))
            .map(|b| Brand::of(b.id))
            .collect())
    }

    /// The points programmes of the alliance (public: what members
    /// compare): live ones, or a sandbox key's sandbox ones (operators:
    /// all).
    async fn programmes(&self, ctx: &Context<'_>) -> ApiResult<Vec<Programme>> {
        let caller = caller(ctx);
        Ok(programmes::all_programmes(db(ctx))
            .await?
            .into_iter()
            .filter(|p| visible_to(caller, p.environment))
            .map(Programme)
            .collect())
    }

    /// A programme (NOT_FOUND for one of another environment than the
    /// caller's, except to operators).
    async fn programme(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Programme> {
        let found = programme_by(ctx, &id).await?;
        if !visible_to(caller(ctx), found.0.environment) {
            return Err(Error::not_found(format!("no programme {}", id.as_str())).into());
        }
        Ok(found)
    }

    /// One points account (its member, the programme's partner, operators).
    async fn points_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<PointsAccount> {
        // The scope before the look-up: a key without it learns nothing,
        // not even whether the account exists.
        super::access::verified(ctx)
            .await?
            .require_scope(Scope::ReadAccounts)?;
        let account = ledger::account_by_id(db(ctx), &id).await?;
        let view = points_view(ctx, &account.member_id).await?;
        if !view.shows(&account.programme_id) {
            return Err(
                Error::forbidden("partners see their own programme's accounts only").into(),
            );
        }
        Ok(PointsAccount(account))
    }

    /// Exchange terms: members see the active ones (before any quote),
    /// partners their own in every state, operators all.
    async fn exchange_terms(
        &self,
        ctx: &Context<'_>,
        from_programme_id: Option<ID>,
        to_programme_id: Option<ID>,
    ) -> ApiResult<Vec<ExchangeTerms>> {
        let caller = super::access::verified(ctx).await?;
        caller.require_scope(Scope::ManageTerms)?;
        Ok(visible_terms(
            db(ctx),
            caller,
            from_programme_id.as_ref().map(|id| id.as_str()),
            to_programme_id.as_ref().map(|id| id.as_str()),
        )
        .await?
        .into_iter()
        .map(ExchangeTerms)
        .collect())
    }

    /// A brand's clearing statement for a month (YYYY-MM, in its
    /// programme's zone; default: this month there, by the service's
    /// clock): the brand's partner or an operator.
    async fn clearing_statement(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        period: Option<String>,
    ) -> ApiResult<ClearingStatement> {
        act_for_brand(ctx, &brand_id, Scope::ReadStatements).await?;
        let period = period.as_deref().map(Period::parse).transpose()?;
        let (period, lines) = clearing_statement(db(ctx), &brand_id, period, now(ctx)).await?;
        Ok(ClearingStatement::new(brand_id.0, period, lines)?)
    }

    /// Operators: the audit log, newest first: who issued, rotated and
    /// revoked each partner key, onboarded brands, changed programmes and
    /// proposed or accepted exchange terms; by brand and action.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        brand_id: Option<ID>,
        action: Option<AuditAction>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, AuditEntry, EmptyFields, EmptyFields>> {
        operator(ctx).await?;
        let page = PageRequest::parse(first, after)?;
        let filter = AuditFilter {
            brand_id: brand_id.map(|b| b.0),
            action,
        };
        let (rows, has_next) = audit::page(db(ctx), &filter, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|e| Edge::new(encode_cursor(&e.seq.to_string()), AuditEntry(e))),
        );
        Ok(connection)
    }

    /// A brand's closed clearing statements, newest first: its partner
    /// (READ_STATEMENTS) or an operator.
    async fn closed_clearing_statements(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ClosedClearingStatement, EmptyFields, EmptyFields>> {
        act_for_brand(ctx, &brand_id, Scope::ReadStatements).await?;
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = statements::statements_page(db(ctx), &brand_id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|s| {
            Edge::new(
                encode_cursor(&s.number.to_string()),
                ClosedClearingStatement(s),
            )
        }));
        Ok(connection)
    }

    /// One closed clearing statement: its brand's partner
    /// (READ_STATEMENTS) or an operator.
    async fn closed_clearing_statement(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<ClosedClearingStatement> {
        verified(ctx).await?;
        let statement = statements::statement_by_id(db(ctx), &id).await?;
        act_for_brand(ctx, &statement.brand_id, Scope::ReadStatements).await?;
        Ok(ClosedClearingStatement(statement))
    }

    /// A brand's webhook endpoints, oldest first: its partner (scope
    /// MANAGE_WEBHOOKS) or an operator.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, WebhookEndpoint, EmptyFields, EmptyFields>> {
        act_for_brand(ctx, &brand_id, Scope::ManageWebhooks).await?;
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = webhooks::endpoints_page(db(ctx), &brand_id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|e| Edge::new(encode_cursor(&e.id), WebhookEndpoint(e))),
        );
        Ok(connection)
    }

    /// One webhook endpoint and its delivery log: its brand's partner
    /// (scope MANAGE_WEBHOOKS) or an operator.
    async fn webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WebhookEndpoint> {
        // Signed in before anything is looked up: no answer tells a
        // stranger which ids exist.
        verified(ctx).await?;
        let endpoint = webhooks::endpoint_by_id(db(ctx), &id).await?;
        act_for_brand(ctx, &endpoint.brand_id, Scope::ManageWebhooks).await?;
        Ok(WebhookEndpoint(endpoint))
    }

    /// Operators: a brand's partner keys (never the keys themselves).
    async fn partner_keys(&self, ctx: &Context<'_>, brand_id: ID) -> ApiResult<Vec<PartnerKey>> {
        operator(ctx).await?;
        Ok(programmes::keys_of_brand(db(ctx), &brand_id)
            .await?
            .into_iter()
            .map(PartnerKey)
            .collect())
    }

    #[graphql(entity)]
    async fn find_brand_by_id(&self, id: ID) -> Brand {
        Brand::of(id.0)
    }

    #[graphql(entity)]
    async fn find_member_by_id(&self, id: ID) -> MemberRef {
        MemberRef { id: id.0 }
    }

    #[graphql(entity)]
    async fn find_order_by_id(&self, id: ID) -> OrderRef {
        OrderRef { id: id.0 }
    }
}
