#!/usr/bin/env bash
# The README's test command (npm test): native unit tests, then the vitest suites.
# The system-package check runs before this as npm's pretest step.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/addon/Release/diarkis_node.node ] && [ -d dist/src ] || npm run build
bash scripts/native-tests.sh plain
npx vitest run
