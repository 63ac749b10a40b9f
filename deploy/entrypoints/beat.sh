#!/usr/bin/env bash
# Celery beat: sends the periodic tasks scheduled in livemall/celery.py. Run exactly one
# per region, or every periodic task runs once per beat. Extra arguments go to `celery beat`.
#   CELERY_BEAT_SCHEDULE: where beat remembers the last run of each task
#   (default var/celerybeat-schedule under the project root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

schedule="${CELERY_BEAT_SCHEDULE:-$LIVEMALL_ROOT/var/celerybeat-schedule}"
mkdir -p "$(dirname "$schedule")"

wait_for_services
exec celery -A livemall beat -l info --schedule "$schedule" "$@"
