#!/usr/bin/env bash
# A Celery worker for this region's queue. Extra arguments go to `celery worker`
# (e.g. --concurrency 4).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

wait_for_services
exec celery -A livemall worker -l info "$@"
