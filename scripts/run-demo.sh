#!/bin/sh
# The demo: one ASGI process (HTTP + websockets) and two Celery workers over the
# filesystem broker (ticket events with an embedded beat; webhooks). All stop together.
set -eu
host=$1 port=$2
.venv/bin/celery -A helpdesk worker --beat --pool=solo --loglevel=WARNING \
  --schedule=var/celerybeat-schedule --scheduler celery.beat:PersistentScheduler &
worker=$!
# Trigger webhooks have their own queue (a slow endpoint never holds up events).
.venv/bin/celery -A helpdesk worker -n webhooks@%h -Q "${CELERY_QUEUE:-celery}-webhooks" --pool=threads \
  --concurrency=4 --loglevel=WARNING &
webhooks=$!
trap 'kill $worker $webhooks 2>/dev/null || true' EXIT INT TERM
.venv/bin/uvicorn helpdesk.asgi:application --host "$host" --port "$port" --log-level warning
