# Encore: a slim image running as a non-root user, with the SQLite database on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/encore.db \
    HTTP_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-compile . \
    && useradd --create-home --uid 10001 encore \
    && mkdir -p /data \
    && chown encore:encore /data

USER encore
VOLUME ["/data"]
# /healthz (and /metrics) on HTTP_PORT; 503 or no answer marks the container unhealthy. No curl in slim images.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"HTTP_PORT\"]}/healthz', timeout=4)"]
CMD ["python", "-m", "bot"]
