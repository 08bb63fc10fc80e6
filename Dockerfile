# syntax=docker/dockerfile:1
# One image for the three long-running faces of sigma (ENTRYPOINT is the `sigma` command):
#   docker run IMAGE serve --host 0.0.0.0 --port 3000     the HTTP API and web UI (default)
#   docker run IMAGE agent run                            the agent (use the host's network)
#   docker run IMAGE probe run --source cn-beijing        the reachability probe
# Settings are SIGMA_* environment variables (see DEPLOYMENT.md and docker-compose.yml).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: a self-contained venv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/sigma
# dependencies first, so a source change does not re-download them
COPY pyproject.toml README.md ./
RUN mkdir -p src/sigma && echo '__version__ = "0"' > src/sigma/__init__.py \
 && /opt/sigma/bin/pip install . \
 && /opt/sigma/bin/pip uninstall -y sigma-fleet
COPY src ./src
RUN /opt/sigma/bin/pip install --no-deps . \
 && /opt/sigma/bin/sigma --version

# ---------------------------------------------------------------- runtime: slim, non-root
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="sigma" \
      org.opencontainers.image.description="VPS fleet manager: sigma serve, sigma agent run, sigma probe run" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 sigma \
 && useradd --system --uid 10001 --gid sigma --home-dir /var/lib/sigma --shell /usr/sbin/nologin sigma \
 && install -d -o sigma -g sigma -m 0750 /var/lib/sigma
COPY --from=build /opt/sigma /opt/sigma
ENV PATH=/opt/sigma/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SIGMA_DATA_DIR=/var/lib/sigma \
    SIGMA_HEALTHCHECK_URL=http://127.0.0.1:3000/healthz
USER 10001:10001
WORKDIR /var/lib/sigma
VOLUME ["/var/lib/sigma"]
EXPOSE 3000
# for `serve`; the agent and probe containers override or disable it (docker-compose.yml)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['SIGMA_HEALTHCHECK_URL'], timeout=4).status == 200 else 1)"]
ENTRYPOINT ["sigma"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000", "--workers", "2"]
