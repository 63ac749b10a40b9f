# syntax=docker/dockerfile:1
# One image for every process of a region (web, worker, beat, migrate): docker-compose.yml
# picks the process and the region. No secret is built in; they come from the environment
# when a container starts.

# --- Front-end packages, pinned in package-lock.json, copied into static/vendor ----------
FROM node:22-bookworm-slim AS static
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/build-static.mjs scripts/
RUN node scripts/build-static.mjs

# --- Python dependencies, in a virtualenv that the runtime stage copies whole -------------
FROM python:3.11-slim-bookworm AS python-deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements/base.txt /tmp/requirements/base.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements/base.txt

# --- Runtime ------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=livemall.settings
RUN groupadd --system --gid 10001 livemall \
    && useradd --system --uid 10001 --gid livemall --home-dir /app --no-create-home --shell /usr/sbin/nologin livemall
WORKDIR /app
COPY --from=python-deps /opt/venv /opt/venv
# The code stays owned by root: the service user can read it but not change it.
COPY . .
COPY --from=static /src/static/vendor static/vendor

# Babel compiles the gettext catalogues in pure Python (no system gettext in a slim image).
RUN if find locale -name '*.po' | grep -q .; then \
        pybabel compile --domain django --directory locale --statistics; \
    fi

# collectstatic imports the production settings, which refuse to load without their
# secrets. These throwaway values live only for this one command (they are not ENV, so no
# container ever sees them) and nothing connects to the addresses.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-collectstatic-not-a-secret \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput -v0

# var/ is the only place the service writes: uploaded media (a volume) and beat's schedule.
RUN mkdir -p var/media && chown -R livemall:livemall var
USER livemall:livemall

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('WEB_PORT', '8000'), timeout=5)"
CMD ["deploy/entrypoints/web.sh"]
