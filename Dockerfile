FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY edge edge
COPY origin origin
COPY loadtest loadtest
COPY config config
COPY content content
RUN pip install --no-cache-dir .
EXPOSE 8080 8081
# One image, two roles: `python -m origin serve ...` or `python -m edge serve ...`
CMD ["python", "-m", "edge", "serve", "--config", "config/edge.toml", "--host", "0.0.0.0"]
