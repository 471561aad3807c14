#!/usr/bin/env bash
# Installs the pinned playwright-core into tests/e2e/portal/node_modules once:
# several portal tests share the folder, so the install holds a lock and is
# skipped when the pinned version is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
want=$(node -e 'console.log(require("./package.json").dependencies["playwright-core"])')
exec 9>"$here/.install.lock"
flock 9
have=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch (e) { console.log("") }')
if [ "$have" != "$want" ]; then
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error >&2
    else
        npm install --no-audit --no-fund --loglevel=error >&2
    fi
fi
