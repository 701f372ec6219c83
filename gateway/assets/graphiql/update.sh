#!/usr/bin/env bash
# Refreshes the GraphiQL page's assets from the npm registry at the pinned
# versions below: each file gzip-compressed (the gateway serves them as they
# are, from the binary), with the packages' licences and a manifest of what
# came from where. Needs npm; run from anywhere, then commit the folder.
set -euo pipefail
GRAPHIQL=3.8.3      # the last GraphiQL with a UMD bundle (4.x and later ship ES modules only)
REACT=18.3.1        # React 19 ships no UMD builds; GraphiQL 3 takes React 16.8-18
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
take() { # package-version.tgz, path in the package, name here
  mkdir -p "x/$1"; tar xzf "$1.tgz" -C "x/$1"
  gzip -9 -n -c "x/$1/package/$2" > "$here/$3.gz"
  cp "x/$1/package/LICENSE" "$here/LICENSE.$4"
  printf '%s\t%s\t%s\tsha256:%s\n' "$3" "$1" "$2" "$(sha256sum "x/$1/package/$2" | cut -d' ' -f1)" >> "$work/manifest"
}
take "graphiql-$GRAPHIQL" graphiql.min.js graphiql.min.js graphiql
take "graphiql-$GRAPHIQL" graphiql.min.css graphiql.min.css graphiql
take "react-$REACT" umd/react.production.min.js react.production.min.js react
take "react-dom-$REACT" umd/react-dom.production.min.js react-dom.production.min.js react-dom
{ echo "# file	package	path in package	sha256 of the uncompressed file"; cat "$work/manifest"; } > "$here/MANIFEST"
echo "updated $(ls "$here"/*.gz | wc -l) assets in $here"
