#!/bin/sh
# The demo: one ASGI process (HTTP + websockets) and two Celery workers over the
# filesystem broker (ticket events with an embedded beat; outgoing webhooks and
# mail). All stop together. The workers' pushes reach the browsers connected to
# the ASGI process through the channel layer's Unix sockets in $VAR_DIR/channels
# (helpdesk/channel_layer.py), or through Redis when REDIS_URL is set.
set -eu
host=$1 port=$2
var=${VAR_DIR:-var}
.venv/bin/celery -A helpdesk worker --beat --pool=solo --loglevel=WARNING \
  --schedule="$var/celerybeat-schedule" --scheduler celery.beat:PersistentScheduler &
worker=$!
# Webhooks and mail have their own queue (a slow server never holds up events).
.venv/bin/celery -A helpdesk worker -n outgoing@%h -Q "${CELERY_QUEUE:-celery}-outgoing" --pool=threads \
  --concurrency=4 --loglevel=WARNING &
outgoing=$!
trap 'kill $worker $outgoing 2>/dev/null || true' EXIT INT TERM
.venv/bin/uvicorn helpdesk.asgi:application --host "$host" --port "$port" --log-level warning \
  --ws-per-message-deflate false
