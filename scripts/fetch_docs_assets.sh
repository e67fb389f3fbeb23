#!/usr/bin/env bash
# Reproduce the vendored API-docs assets in src/suanwang/api/static/ from the npm registry.
#
#   scripts/fetch_docs_assets.sh            # download the pinned versions, check, install
#   scripts/fetch_docs_assets.sh --check    # only verify that the vendored files match
#
# The interactive API docs (/docs = Swagger UI, /redoc = ReDoc) must work offline, so their
# JavaScript and CSS are served by the app itself (suanwang.api.docs), never from a CDN.
# Nothing runs this at install or start-up: the files it writes are committed. Run it only to
# upgrade a version (change the pins and hashes below, then commit the new files).
#
# Why npm and not the `swagger-ui-bundle` PyPI package: its newest release (1.1.0) ships
# Swagger UI 4.15.5, which refuses FastAPI's OpenAPI 3.1 documents ("Unable to render this
# definition"); Swagger UI 5 is needed. ReDoc has no PyPI package of its own.
#
# What is changed from the upstream files (and nothing else):
#   redoc.standalone.js: the Redocly logo in the side menu is loaded from
#   https://cdn.redoc.ly/redoc/logo-mini.svg; that URL is replaced by an empty inline SVG
#   (a data: URI) so that the page makes no request outside the server.
# Needs: npm (Debian package `npm`), tar, sha256sum, python3.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC="$REPO/src/suanwang/api/static"

SWAGGER_VERSION="5.35.0"
SWAGGER_SHA256="1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6"
REDOC_VERSION="2.5.4"
REDOC_SHA256="44922df4d0eb45c1b066c09ec251e6bd9bd7ded16bc69e87613337b9d911a56e"

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fetch() {  # fetch NAME VERSION SHA256 -> unpacks into $WORK/NAME/package
  local name="$1" version="$2" sha="$3" tgz
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && npm pack --silent "$name@$version" >/dev/null)
  tgz="$WORK/$name/$name-$version.tgz"
  echo "$sha  $tgz" | sha256sum --check --quiet - || {
    echo "error: $name@$version tarball hash differs from the pinned one" >&2
    exit 1
  }
  tar -xzf "$tgz" -C "$WORK/$name"
}

fetch swagger-ui-dist "$SWAGGER_VERSION" "$SWAGGER_SHA256"
fetch redoc "$REDOC_VERSION" "$REDOC_SHA256"

OUT="$WORK/out"
mkdir -p "$OUT/swagger-ui" "$OUT/redoc"
SW="$WORK/swagger-ui-dist/package"
cp "$SW/swagger-ui-bundle.js" "$SW/swagger-ui-bundle.js.LICENSE.txt" "$SW/swagger-ui.css" \
  "$SW/favicon-32x32.png" "$SW/LICENSE" "$SW/NOTICE" "$OUT/swagger-ui/"
RD="$WORK/redoc/package"
cp "$RD/bundles/redoc.standalone.js.LICENSE.txt" "$RD/LICENSE" "$OUT/redoc/"

python3 - "$RD/bundles/redoc.standalone.js" "$OUT/redoc/redoc.standalone.js" <<'PY'
import sys

src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8", newline="").read()
cdn = '"https://cdn.redoc.ly/redoc/logo-mini.svg"'
blank = '"data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E"'
if text.count(cdn) != 1:
    sys.exit(f"error: expected the logo URL once in {src}, found {text.count(cdn)}")
text = text.replace(cdn, blank)
if "cdn." in text:
    sys.exit("error: the patched ReDoc bundle still names a CDN")
open(dst, "w", encoding="utf-8", newline="").write(text)
PY

cat >"$OUT/README.md" <<EOF
# Vendored API-docs assets

Served by \`suanwang.api.docs\` so that \`/docs\` and \`/redoc\` work offline.
Written by \`scripts/fetch_docs_assets.sh\`; do not edit by hand.

| folder | npm package | version | licence |
| --- | --- | --- | --- |
| swagger-ui/ | swagger-ui-dist | $SWAGGER_VERSION | Apache-2.0 (LICENSE, NOTICE) |
| redoc/ | redoc | $REDOC_VERSION | MIT (LICENSE) |

Bundled third-party licences: \`*.js.LICENSE.txt\` beside each bundle.

Changed from upstream: in \`redoc/redoc.standalone.js\` the Redocly logo URL
(https://cdn.redoc.ly/redoc/logo-mini.svg) is replaced by an empty inline SVG, so the page
loads nothing from outside the server. Every other file is byte-for-byte upstream.
EOF

if [ "$CHECK" = 1 ]; then
  if diff -r "$OUT" "$STATIC" >/dev/null; then
    echo "vendored docs assets match swagger-ui-dist@$SWAGGER_VERSION and redoc@$REDOC_VERSION"
  else
    diff -rq "$OUT" "$STATIC" >&2 || true
    echo "error: src/suanwang/api/static differs from the pinned upstream files" >&2
    exit 1
  fi
else
  rm -rf "$STATIC/swagger-ui" "$STATIC/redoc"
  mkdir -p "$STATIC"
  cp -r "$OUT/swagger-ui" "$OUT/redoc" "$OUT/README.md" "$STATIC/"
  echo "wrote $STATIC (swagger-ui-dist@$SWAGGER_VERSION, redoc@$REDOC_VERSION)"
fi
