#!/usr/bin/env bash
# Applies the migrations and exits: the compose stack runs it once, as its own service,
# before web, worker and beat start. Concurrent runs are serialised by migrate.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

wait_for_services
exec python "$LIVEMALL_ROOT/deploy/entrypoints/migrate.py"
