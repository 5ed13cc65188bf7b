# The portal's browser side: hls.js from the npm registry (package-lock.json pins it).
FROM node:20-slim AS portal-assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY edge edge
COPY origin origin
COPY loadtest loadtest
COPY config config
COPY content content
COPY --from=portal-assets /app/node_modules/hls.js/dist/hls.min.js node_modules/hls.js/dist/hls.min.js
RUN pip install --no-cache-dir .
EXPOSE 8080 8081
# One image, two roles: `python -m origin serve ...` or `python -m edge serve ...`
CMD ["python", "-m", "edge", "serve", "--config", "config/edge.toml", "--host", "0.0.0.0"]
