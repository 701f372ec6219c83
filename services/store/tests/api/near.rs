//! storesNear against a brute-force reference.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::*;

const NEAR: &str = "query($lat: Float!, $lng: Float!, $r: Float!, $after: String, $open: Boolean, $kind: StoreKind) {
  storesNear(lat: $lat, lng: $lng, radiusKm: $r, first: 100, after: $after, openNow: $open, kind: $kind) {
    edges { distanceMeters node { id } } pageInfo { hasNextPage endCursor } } }";

fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

fn wrap(lng: f64) -> f64 {
    if lng > 180.0 {
        lng - 360.0
    } else if lng < -180.0 {
        lng + 360.0
    } else {
        lng
    }
}

async fn all_pages(
    app: &kit::testing::TestApp,
    lat: f64,
    lng: f64,
    r: f64,
    extra: Value,
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut vars = json!({ "lat": lat, "lng": lng, "r": r, "after": after });
        for (k, v) in extra.as_object().unwrap() {
            vars[k] = v.clone();
        }
        let resp = app.graphql(None, NEAR, vars).await;
        let near = &resp.ok()["storesNear"];
        for e in near["edges"].as_array().unwrap() {
            out.push((
                e["node"]["id"].as_str().unwrap().to_owned(),
                e["distanceMeters"].as_f64().unwrap(),
            ));
        }
        if !near["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = near["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn results_match_a_brute_force_search_at_the_poles_the_antimeridian_and_in_a_city() {
    let app = spawn().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let hotspots: [(f64, f64); 6] = [
        (89.8, 0.0),
        (-89.8, 90.0),
        (0.0, 179.9),
        (0.0, -179.9),
        (65.0, -179.95),
        (31.23, 121.47),
    ];
    let mut stores: HashMap<String, (f64, f64)> = HashMap::new();
    for (lat, lng) in hotspots {
        for _ in 0..60 {
            let dlat: f64 = rng.random_range(-0.6..0.6);
            let dlng: f64 = rng.random_range(-1.5..1.5);
            let p = ((lat + dlat).clamp(-90.0, 90.0), wrap(lng + dlng));
            let id = create_store(&app, store_input("random", p.0, p.1)).await;
            stores.insert(id, p);
        }
    }
    for (lat, lng) in hotspots {
        for radius_km in [5.0, 25.0, 50.0] {
            let found = all_pages(&app, lat, lng, radius_km, json!({})).await;
            let mut expected: Vec<(String, f64)> = stores
                .iter()
                .map(|(id, p)| (id.clone(), haversine((lat, lng), *p)))
                .filter(|(_, d)| *d <= radius_km * 1000.0)
                .collect();
            expected.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let found_ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
            let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(
                found_ids, expected_ids,
                "around ({lat}, {lng}) within {radius_km} km"
            );
            for ((_, d), (_, e)) in found.iter().zip(&expected) {
                assert!((d - e).abs() < 0.01, "distance {d} vs {e}");
            }
        }
    }
}

#[tokio::test]
async fn filters_and_bad_arguments() {
    let app = spawn().await;
    let open = create_store(&app, store_input("open", 31.23, 121.47)).await;
    let mut closed_hours = store_input("closed hours", 31.231, 121.471);
    closed_hours["hours"] = json!([]);
    let shut = create_store(&app, closed_hours).await;
    let mut franchise = store_input("franchise", 31.232, 121.472);
    franchise["kind"] = json!("FRANCHISE");
    franchise["franchisee"] = json!("F Co.");
    let fr = create_store(&app, franchise).await;
    let gone = create_store(&app, store_input("gone", 31.2305, 121.4705)).await;
    app.graphql(
        Some(&app.operator_token()),
        "mutation($id: ID!) { setStoreStatus(storeId: $id, status: CLOSED) { id } }",
        json!({ "id": gone }),
    )
    .await
    .ok();

    let all: Vec<String> = all_pages(&app, 31.23, 121.47, 5.0, json!({}))
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(all.len(), 3, "CLOSED stores are left out");
    assert!(!all.contains(&gone));
    let open_now: Vec<String> = all_pages(&app, 31.23, 121.47, 5.0, json!({ "open": true }))
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(open_now, [open.clone(), fr.clone()]);
    assert!(!open_now.contains(&shut));
    let franchises: Vec<String> =
        all_pages(&app, 31.23, 121.47, 5.0, json!({ "kind": "FRANCHISE" }))
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    assert_eq!(franchises, [fr]);

    for (vars, field) in [
        (json!({ "lat": 91.0, "lng": 0.0, "r": 1.0 }), "lat"),
        (json!({ "lat": 0.0, "lng": -181.0, "r": 1.0 }), "lng"),
        (json!({ "lat": 0.0, "lng": 0.0, "r": 50.5 }), "radiusKm"),
        (json!({ "lat": 0.0, "lng": 0.0, "r": 0.0 }), "radiusKm"),
        (
            json!({ "lat": 0.0, "lng": 0.0, "r": 1.0, "after": "garbage!" }),
            "after",
        ),
    ] {
        let r = app.graphql(None, NEAR, vars).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{}", r.body);
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
}
