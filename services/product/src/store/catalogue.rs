//! Products and SKUs.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::entities::{product, sku};
use super::new_id;
use crate::domain::catalogue::{SkuStatus, like_pattern};
use crate::error::{Error, Result};
use kit::paging::{PageRequest, split_page};
use kit::time::to_micros;

/// A product, parsed.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub brand_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
}

/// A SKU, parsed.
#[derive(Debug, Clone)]
pub struct NewSku {
    pub attributes: BTreeMap<String, String>,
    pub barcode: Option<String>,
    pub list_price_fen: i64,
}

pub async fn create_product(
    db: &DatabaseConnection,
    new: &NewProduct,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<product::Model> {
    create_product_with_id(db, &new_id(), new, now).await
}

pub async fn create_product_with_id(
    db: &DatabaseConnection,
    id: &str,
    new: &NewProduct,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<product::Model> {
    let now = to_micros(now);
    Ok(product::ActiveModel {
        id: Set(id.to_owned()),
        brand_id: Set(new.brand_id.clone()),
        name: Set(new.name.clone()),
        name_lower: Set(new.name.to_lowercase()),
        description: Set(new.description.clone()),
        category: Set(new.category.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Changes a product's name, description or category (`None` keeps one).
pub async fn update_product(
    db: &DatabaseConnection,
    id: &str,
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<product::Model> {
    let current = product_by_id(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("product {id} not found")))?;
    let mut row: product::ActiveModel = current.into();
    if let Some(name) = name {
        row.name_lower = Set(name.to_lowercase());
        row.name = Set(name);
    }
    if let Some(description) = description {
        row.description = Set(description);
    }
    if let Some(category) = category {
        row.category = Set(category);
    }
    row.updated_at = Set(to_micros(now));
    Ok(row.update(db).await?)
}

/// Adds a SKU; a barcode already in use is a CONFLICT.
pub async fn create_sku(
    db: &DatabaseConnection,
    product_id: &str,
    new: &NewSku,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<sku::Model> {
    create_sku_with_id(db, &new_id(), product_id, new, now).await
}

pub async fn create_sku_with_id(
    db: &DatabaseConnection,
    id: &str,
    product_id: &str,
    new: &NewSku,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<sku::Model> {
    let product = product_by_id(db, product_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("product {product_id} not found")))?;
    let row = sku::ActiveModel {
        id: Set(id.to_owned()),
        product_id: Set(product.id),
        brand_id: Set(product.brand_id),
        attributes: Set(serde_json::to_string(&new.attributes).unwrap_or_else(|_| "{}".into())),
        barcode: Set(new.barcode.clone()),
        list_price_fen: Set(new.list_price_fen),
        status: Set(SkuStatus::Active),
        created_at: Set(to_micros(now)),
    };
    match row.insert(db).await {
        Ok(sku) => Ok(sku),
        Err(err) if kit::db::is_unique_violation(&err) => {
            Err(Error::conflict("this barcode belongs to another SKU"))
        }
        Err(err) => Err(err.into()),
    }
}

/// Changes a SKU's price or status.
pub async fn update_sku(
    db: &DatabaseConnection,
    id: &str,
    price: Option<i64>,
    status: Option<SkuStatus>,
) -> Result<sku::Model> {
    let current = sku::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("SKU {id} not found")))?;
    let mut row: sku::ActiveModel = current.into();
    if let Some(price) = price {
        row.list_price_fen = Set(price);
    }
    if let Some(status) = status {
        row.status = Set(status);
    }
    Ok(row.update(db).await?)
}

pub async fn product_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<product::Model>> {
    Ok(product::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn skus_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, sku::Model>> {
    let rows = sku::Entity::find()
        .filter(sku::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|s| (s.id.clone(), s)).collect())
}

/// Products' categories by product id (`coffee/beans`...).
pub async fn categories_of<C: ConnectionTrait>(
    db: &C,
    product_ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, String>> {
    let rows = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p.category)).collect())
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub search: Option<String>,
    pub brand_id: Option<String>,
    pub category: Option<String>,
}

/// Products, oldest first; `search` matches the name, case-insensitively
/// and literally; `category` matches the category or anything under it.
pub async fn list_products<C: ConnectionTrait>(
    db: &C,
    filter: &ProductFilter,
    page: &PageRequest,
) -> Result<(Vec<product::Model>, bool)> {
    let mut query = product::Entity::find();
    if let Some(search) = &filter.search {
        query = query.filter(
            Expr::col(product::Column::NameLower)
                .like(LikeExpr::new(like_pattern(search)).escape('\\')),
        );
    }
    if let Some(brand) = &filter.brand_id {
        query = query.filter(product::Column::BrandId.eq(brand.as_str()));
    }
    if let Some(category) = &filter.category {
        let under = format!(
            "{}/%",
            category
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query = query.filter(
            sea_orm::Condition::any()
                .add(product::Column::Category.eq(category.as_str()))
                .add(Expr::col(product::Column::Category).like(LikeExpr::new(under).escape('\\'))),
        );
    }
    if let Some(after) = &page.after {
        query = query.filter(product::Column::Id.gt(after.as_str()));
    }
    let rows = query
        .order_by_asc(product::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}
