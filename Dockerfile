# Production image: one image, several roles (web, ws, worker, beat) chosen by
# the command in docker-compose.yml.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
# fontTools subsets the icon font to the icons in use (scripts/subset_icons.py).
RUN apt-get update && apt-get install -y --no-install-recommends python3-fonttools python3-brotli \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/build-assets.sh scripts/subset_icons.py scripts/
# The icon classes are read from the sources.
COPY templates templates
COPY static static
COPY helpdesk helpdesk
COPY tickets tickets
COPY escalation escalation
COPY channels_inbox channels_inbox
COPY knowledgebase knowledgebase
RUN PYTHON=python3 sh scripts/build-assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
COPY --from=assets /src/static_build ./static_build
# Hashed names, gzip and brotli copies (CompressedManifestStaticFilesStorage).
RUN DATABASE_URL=sqlite:////tmp/build.sqlite3 SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --home /app helpdesk && mkdir -p /app/var && chown -R helpdesk /app/var
USER helpdesk
EXPOSE 8000 8001
CMD ["gunicorn", "helpdesk.wsgi", "--config", "gunicorn.conf.py"]
