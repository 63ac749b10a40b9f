# Sourced by every entrypoint: the same start-up in a container and on a host.
# - the project root is found from this file, so the scripts run from any directory;
# - the project's .venv is used when there is one (a host), else whatever is on PATH
#   (the image puts its virtualenv there);
# - the database and Redis are waited for, a bounded time, before anything starts.
set -euo pipefail

LIVEMALL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LIVEMALL_ROOT
cd "$LIVEMALL_ROOT"

if [[ -x "$LIVEMALL_ROOT/.venv/bin/python" ]]; then
  export PATH="$LIVEMALL_ROOT/.venv/bin:$PATH"
fi
export PYTHONPATH="$LIVEMALL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-livemall.settings}"
export PYTHONUNBUFFERED=1

wait_for_services() {
  python "$LIVEMALL_ROOT/deploy/entrypoints/wait_for_services.py"
}
