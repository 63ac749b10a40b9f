#!/usr/bin/env bash
# The ASGI server (HTTP and WebSocket). Extra arguments go to uvicorn.
#   WEB_HOST (default 0.0.0.0), WEB_PORT (default 8000), WEB_CONCURRENCY (default 1 process;
#   in containers scale by replicas instead), WEB_ACCESS_LOG (default true).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

wait_for_services

# Production serves static files through WhiteNoise's manifest (collectstatic writes it;
# the image does so at build). Without it every page fails, so refuse to start instead.
# STATIC_ROOT's default here is the one in livemall/settings.py.
if [[ "${DJANGO_ENV:-development}" == "production" ]]; then
  manifest="${STATIC_ROOT:-$LIVEMALL_ROOT/staticfiles}/staticfiles.json"
  if [[ ! -f "$manifest" ]]; then
    echo "web.sh: $manifest is missing; run 'python manage.py collectstatic --noinput' with the production settings first" >&2
    exit 1
  fi
fi

# uvicorn's access log writes a line per request (about 14 us of the process's time each,
# measured: README, Performance, "Session 24"); behind a load balancer that logs requests
# already, WEB_ACCESS_LOG=false leaves that time to a flash sale's crowd.
access_log=(--access-log)
if [[ "${WEB_ACCESS_LOG:-true}" == "false" ]]; then
  access_log=(--no-access-log)
fi

# Live rooms hold WebSockets open for hours: on SIGTERM give them a bounded time to close
# (less than the orchestrator's stop grace period), then stop.
# Permessage-deflate is refused: compressing every frame per viewer tripled the room's p99
# delivery time in the fan-out benchmark (README, "Live room fan-out").
exec uvicorn livemall.asgi:application \
  --host "${WEB_HOST:-0.0.0.0}" --port "${WEB_PORT:-8000}" \
  --ws livemall.websocket_protocol:WebSocketProtocol --ws-per-message-deflate false --proxy-headers --lifespan on \
  --workers "${WEB_CONCURRENCY:-1}" \
  --timeout-graceful-shutdown 20 \
  "${access_log[@]}" \
  "$@"
