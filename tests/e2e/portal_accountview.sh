#!/usr/bin/env bash
# The account view of the portal in headless Chromium
# (tests/e2e/portal/portal_accountview.test.mjs): every tab of the account
# detail as the admin uses it, a handover acknowledged by its receiver, and the
# renewals, upcoming events and tasks pages. Steps whose server methods answer
# `unimplemented` are skipped with a note. Needs node, npm and Chromium.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ -n "${CONCORD_GATEWAY_URL:-}" ] || { echo "error: the environment has no gateway" >&2; exit 1; }
command -v node >/dev/null || { echo "error: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is required" >&2; exit 1; }

"$here/portal/install.sh"
cd "$here/portal"
exec node portal_accountview.test.mjs
