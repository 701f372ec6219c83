//! Where a line's stock comes from.
//!
//! - IN_STORE: the store itself; if it lacks the SKU ("cloud shelf"), the
//!   nearest warehouse or store to it that has it.
//! - PICKUP_IN_STORE: the chosen store only.
//! - SHIP: the nearest location to the destination that has it, warehouses
//!   before stores.

use super::order::Fulfilment;

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum LocationKind {
        Store,
        Warehouse,
    }
}

/// A location holding enough of the SKU, as far as a read could tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub location_id: String,
    pub kind: LocationKind,
    /// Metres from the reference point (the store, or the destination).
    pub distance_m: f64,
}

/// The order in which to try to reserve a line. `store_id` is the selling
/// or pickup store.
pub fn try_order(
    fulfilment: Fulfilment,
    store_id: Option<&str>,
    mut holders: Vec<Holder>,
) -> Vec<String> {
    let by_distance = |a: &Holder, b: &Holder| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.location_id.cmp(&b.location_id))
    };
    match fulfilment {
        Fulfilment::PickupInStore => holders
            .into_iter()
            .filter(|h| Some(h.location_id.as_str()) == store_id)
            .map(|h| h.location_id)
            .collect(),
        Fulfilment::InStore => {
            holders.sort_by(|a, b| {
                let own = |h: &Holder| Some(h.location_id.as_str()) != store_id;
                own(a).cmp(&own(b)).then_with(|| by_distance(a, b))
            });
            holders.into_iter().map(|h| h.location_id).collect()
        }
        Fulfilment::Ship => {
            holders.sort_by(|a, b| {
                let rank = |h: &Holder| h.kind == LocationKind::Store;
                rank(a).cmp(&rank(b)).then_with(|| by_distance(a, b))
            });
            holders.into_iter().map(|h| h.location_id).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (LocationKind::Store, "STORE"),
            (LocationKind::Warehouse, "WAREHOUSE"),
        ]);
    }

    fn h(id: &str, kind: LocationKind, d: f64) -> Holder {
        Holder {
            location_id: id.into(),
            kind,
            distance_m: d,
        }
    }

    fn holders() -> Vec<Holder> {
        vec![
            h("store-far", LocationKind::Store, 9_000.0),
            h("wh-far", LocationKind::Warehouse, 50_000.0),
            h("store-a", LocationKind::Store, 0.0),
            h("wh-near", LocationKind::Warehouse, 20_000.0),
            h("store-near", LocationKind::Store, 1_000.0),
        ]
    }

    #[test]
    fn in_store_sells_its_own_stock_first_then_the_nearest_cloud_shelf() {
        assert_eq!(
            try_order(Fulfilment::InStore, Some("store-a"), holders()),
            ["store-a", "store-near", "store-far", "wh-near", "wh-far"]
        );
        let without_own: Vec<Holder> = holders()
            .into_iter()
            .filter(|x| x.location_id != "store-a")
            .collect();
        assert_eq!(
            try_order(Fulfilment::InStore, Some("store-a"), without_own)[0],
            "store-near"
        );
    }

    #[test]
    fn pickup_reserves_at_the_chosen_store_only() {
        assert_eq!(
            try_order(Fulfilment::PickupInStore, Some("store-a"), holders()),
            ["store-a"]
        );
        assert!(try_order(Fulfilment::PickupInStore, Some("store-x"), holders()).is_empty());
    }

    #[test]
    fn shipping_prefers_warehouses_then_the_nearest() {
        assert_eq!(
            try_order(Fulfilment::Ship, None, holders()),
            ["wh-near", "wh-far", "store-a", "store-near", "store-far"]
        );
    }
}
