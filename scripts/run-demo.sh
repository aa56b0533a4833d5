#!/bin/sh
# The demo: one ASGI process (HTTP + websockets) and one Celery worker with an
# embedded beat, over the filesystem broker. Both stop together.
set -eu
host=$1 port=$2
.venv/bin/celery -A helpdesk worker --beat --pool=solo --loglevel=WARNING \
  --schedule=var/celerybeat-schedule --scheduler celery.beat:PersistentScheduler &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
.venv/bin/uvicorn helpdesk.asgi:application --host "$host" --port "$port" --log-level warning
