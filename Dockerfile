# Production image: one image, several roles (web, ws, worker, beat) chosen by
# the command in docker-compose.yml.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/build-assets.sh scripts/
RUN sh scripts/build-assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
COPY --from=assets /src/static_build ./static_build
RUN DATABASE_URL=sqlite:////tmp/build.sqlite3 SECRET_KEY=build python manage.py collectstatic --noinput \
    && useradd --system --home /app helpdesk && mkdir -p /app/var && chown -R helpdesk /app/var
USER helpdesk
EXPOSE 8000 8001
CMD ["gunicorn", "helpdesk.wsgi", "--config", "gunicorn.conf.py"]
