#!/usr/bin/env bash
# Set up the workspace if needed, then run every test of every package in one pytest session.
# Extra arguments go to pytest (e.g. `scripts/test.sh -k safety -x`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
source "$ROOT/scripts/activate.sh"
cd "$ROOT"
exec python -m pytest "$@"
