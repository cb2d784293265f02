# Encore: a slim image running as a non-root user, with the SQLite database on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/encore.db

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
CMD ["python", "-m", "bot"]
