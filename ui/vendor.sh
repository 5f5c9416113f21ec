#!/usr/bin/env bash
# Refresh ui/static/vendor from the npm registry at the versions pinned in ui/package.json.
set -euo pipefail
cd "$(dirname "$0")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
htmx="$(node -p 'require("./package.json").dependencies["htmx.org"]')"
sortable="$(node -p 'require("./package.json").dependencies.sortablejs')"
(cd "$work" && npm pack --silent "htmx.org@$htmx" "sortablejs@$sortable" >/dev/null)
tar -xzf "$work/htmx.org-$htmx.tgz" -C "$work" && cp "$work/package/dist/htmx.min.js" static/vendor/ \
  && cp "$work/package/LICENSE" static/vendor/htmx.LICENSE && rm -rf "$work/package"
tar -xzf "$work/sortablejs-$sortable.tgz" -C "$work" && cp "$work/package/Sortable.min.js" static/vendor/ \
  && cp "$work/package/LICENSE" static/vendor/Sortable.LICENSE
echo "vendored htmx $htmx and SortableJS $sortable"
