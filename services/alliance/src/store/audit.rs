//! The audit log: one row per administrative action, written in the
//! action's own transaction (an action that did not commit left no entry,
//! and none committed without one). Read by operators, newest first.

use kit::auth::Actor;
use kit::paging::PageRequest;
use kit::time::to_micros;
use sea_orm::ColumnTrait;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::store::entities::audit_entry;

/// One action to record.
pub struct AuditRecord<'a> {
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub brand_id: Option<&'a str>,
    /// The key, brand, programme, terms or account acted on.
    pub subject_id: &'a str,
    /// What changed (ids, names, scopes, instants; never a key or a
    /// member's personal data).
    pub detail: serde_json::Value,
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    entry: AuditRecord<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    audit_entry::ActiveModel {
        at: Set(to_micros(now)),
        actor: Set(entry.actor.as_str().to_owned()),
        action: Set(entry.action),
        brand_id: Set(entry.brand_id.map(str::to_owned)),
        subject_id: Set(entry.subject_id.to_owned()),
        detail: Set(entry.detail.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Which entries to list.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub brand_id: Option<String>,
    pub action: Option<AuditAction>,
}

/// A page of entries, newest first; the cursor is the entry's number.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<(Vec<audit_entry::Model>, bool)> {
    let mut q = audit_entry::Entity::find()
        .order_by_desc(audit_entry::Column::Seq)
        .limit(page.fetch_limit());
    if let Some(brand) = &filter.brand_id {
        q = q.filter(audit_entry::Column::BrandId.eq(brand.as_str()));
    }
    if let Some(action) = filter.action {
        q = q.filter(audit_entry::Column::Action.eq(action));
    }
    if let Some(after) = &page.after {
        let seq: i64 = after
            .parse()
            .map_err(|_| Error::invalid("after", "after is not a cursor this API returned"))?;
        q = q.filter(audit_entry::Column::Seq.lt(seq));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}
