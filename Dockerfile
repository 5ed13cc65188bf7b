# The portal's browser side: hls.js from the npm registry (package-lock.json pins it).
FROM node:20-slim AS portal-assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund


# classcast: one image, three roles (origin, shield, edge); the command picks the role:
#   python -m origin serve ...   |   python -m edge serve --config /etc/classcast/edge.toml ...
# Two stages: the build stage makes a virtualenv with the project installed; the runtime stage
# copies only that virtualenv, the sample library and the configs, and runs as a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/classcast
COPY pyproject.toml README.md ./
COPY classcast classcast
COPY edge edge
COPY origin origin
COPY loadtest loadtest
RUN /opt/classcast/bin/pip install --no-cache-dir . \
    && /opt/classcast/bin/python -m compileall -q /opt/classcast

FROM python:3.11-slim-bookworm AS runtime
# ffmpeg: `python -m origin package` turns a video into a lesson inside the container
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 classcast \
    && useradd --system --uid 10001 --gid classcast --home-dir /app --shell /usr/sbin/nologin classcast \
    && mkdir -p /var/cache/classcast \
    && chown classcast:classcast /var/cache/classcast
COPY --from=build /opt/classcast /opt/classcast
WORKDIR /app
COPY config config
COPY content content
COPY --from=portal-assets /app/node_modules/hls.js/dist/hls.min.js node_modules/hls.js/dist/hls.min.js
# The root filesystem can be read-only (Kubernetes mounts the cache and /tmp): no .pyc writes.
ENV PATH=/opt/classcast/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080 8081
VOLUME ["/var/cache/classcast"]
# Both services answer /healthz; CLASSCAST_HEALTH_URL picks the port (the origin listens on 8080).
ENV CLASSCAST_HEALTH_URL=http://127.0.0.1:8081/healthz
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['CLASSCAST_HEALTH_URL'], timeout=2)"]
# --workers auto: one worker per CPU the container may use (its cgroup quota), one cache
CMD ["python", "-m", "edge", "serve", "--config", "config/edge.toml", "--host", "0.0.0.0", "--cache-dir", "/var/cache/classcast", "--workers", "auto"]
