# syntax=docker/dockerfile:1
# One image for every role: `tidemill server` (the default) or `tidemill worker`.
#
#   docker build -t tidemill .
#   docker run --rm -e TIDEMILL_DATABASE_URL=... -p 8000:8000 tidemill            # server
#   docker run --rm -e TIDEMILL_DATABASE_URL=... tidemill worker                   # a worker
#
# docker-compose.yml runs PostgreSQL, one server and N workers from it (docs/deploy.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# 1. The web UI: frontend/ -> frontend/dist (npm ci + esbuild, via the project's own build.mjs).
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/ ./
RUN node build.mjs

# 2. The Python environment: `uv sync --frozen` into /opt/tidemill/venv, the project installed
#    as a wheel (not editable), so the runtime needs neither the sources nor Node. The wheel's
#    build hook (hatch_build.py) runs frontend/build.mjs, which finds the bundle from stage 1
#    fresh and returns at once; it needs `node` for that check, copied from stage 1.
FROM ${PYTHON_IMAGE} AS build
RUN pip install --no-cache-dir --root-user-action=ignore "uv>=0.13"
COPY --from=frontend /usr/local/bin/node /usr/local/bin/node
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/tidemill/venv
WORKDIR /src
# dependencies first: this layer is reused until uv.lock changes
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
COPY --from=frontend /src/frontend/dist/ frontend/dist/
RUN uv sync --frozen --no-dev --no-editable

# 3. The runtime: Python, the venv (with uv and Deno from their PyPI wheels), bash; non-root.
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends bash ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/tidemill tidemill \
    && mkdir -p /var/lib/tidemill \
    && chown tidemill:tidemill /var/lib/tidemill
COPY --from=build /opt/tidemill/venv /opt/tidemill/venv
ENV PATH=/opt/tidemill/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    TIDEMILL_HOME=/var/lib/tidemill \
    TIDEMILL_HOST=0.0.0.0 \
    TIDEMILL_PORT=8000
USER tidemill
WORKDIR /var/lib/tidemill
VOLUME ["/var/lib/tidemill"]
EXPOSE 8000
# the server's health route; a worker container (no HTTP) turns this off in docker-compose.yml
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('TIDEMILL_PORT', '8000'), timeout=4)" || exit 1
ENTRYPOINT ["tidemill"]
CMD ["server"]
