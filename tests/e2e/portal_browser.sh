#!/usr/bin/env bash
# The portal in headless Chromium (tests/e2e/portal/portal.test.mjs): installs
# the pinned playwright-core with npm, then drives the browser through sign-in,
# the account list, creating, editing and archiving an account. Needs node, npm
# and Chromium (/usr/lib/chromium/chromium or /usr/bin/chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ -n "${CONCORD_GATEWAY_URL:-}" ] || { echo "error: the environment has no gateway" >&2; exit 1; }
command -v node >/dev/null || { echo "error: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is required" >&2; exit 1; }

"$here/portal/install.sh"
cd "$here/portal"
exec node portal.test.mjs
