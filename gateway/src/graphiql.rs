//! The pages a person opens in a browser: GraphiQL on `GET /graphql`, and
//! `GET /` saying what this is. GraphiQL's scripts are served from the
//! binary (pinned npm builds in `assets/graphiql`, refreshed by its
//! `update.sh`), so the page works with no network at all.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The GraphiQL page. `?query=` (as GraphiQL links carry it) opens with
/// that query in the editor.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>bigmember graph</title>
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="/graphiql/graphiql.min.css" />
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/react.production.min.js"></script>
  <script src="/graphiql/react-dom.production.min.js"></script>
  <script src="/graphiql/graphiql.min.js"></script>
  <script>
    const params = new URLSearchParams(window.location.search);
    const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultEditorToolsVisibility: true,
        query: params.get("query") || undefined,
      })
    );
  </script>
</body>
</html>
"#;

/// `GET /`: what this endpoint is, and where to go.
pub async fn landing(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        return Html(LANDING_HTML).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "bigmember: one GraphQL graph over the member, store, product and alliance services.\n\
         POST GraphQL requests to /graphql; open /graphql in a browser for GraphiQL.\n\
         Health: /healthz, readiness: /readyz, metrics: /metrics.\n",
    )
        .into_response()
}

const LANDING_HTML: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8" /><title>bigmember</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
  <h1>bigmember</h1>
  <p>One GraphQL graph over the member, store, product and alliance services.</p>
  <p><a href="/graphql">Open GraphiQL</a> to explore it, or POST GraphQL requests to <code>/graphql</code>.</p>
  <p>Health: <a href="/healthz">/healthz</a> · readiness: <a href="/readyz">/readyz</a> · metrics: <a href="/metrics">/metrics</a></p>
</body>
</html>
"#;

/// One pinned asset, kept gzip-compressed.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzip: &'static [u8],
}

const ASSETS: [Asset; 4] = [
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzip: include_bytes!("../assets/graphiql/graphiql.min.js.gz"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        gzip: include_bytes!("../assets/graphiql/graphiql.min.css.gz"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzip: include_bytes!("../assets/graphiql/react.production.min.js.gz"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzip: include_bytes!("../assets/graphiql/react-dom.production.min.js.gz"),
    },
];

/// `GET /graphiql/{file}`: the asset as stored (gzip) to clients that take
/// gzip, which every browser does; unpacked for the rest.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response();
    };
    let takes_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if takes_gzip {
        let mut r = asset.gzip.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        let mut plain = Vec::new();
        match std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(asset.gzip), &mut plain)
        {
            Ok(_) => plain.into_response(),
            Err(err) => {
                tracing::error!(asset = asset.name, error = %err, "a built-in asset does not unpack");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // The files change only with a new build; a day's cache is plenty.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_unpacks_and_the_page_names_only_built_in_ones() {
        for asset in &ASSETS {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(asset.gzip), &mut plain)
                .unwrap();
            assert!(plain.len() > 1_000, "{}", asset.name);
        }
        let linked: Vec<&str> = PAGE
            .split(['"', '\''])
            .filter(|s| s.starts_with("/graphiql/"))
            .collect();
        assert_eq!(linked.len(), 4, "{linked:?}");
        for path in linked {
            let name = path.trim_start_matches("/graphiql/");
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "{name} is not built in"
            );
        }
        assert!(!PAGE.contains("http"), "nothing from elsewhere");
    }
}
