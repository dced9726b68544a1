FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, from the lock with hashes: this layer is rebuilt only when the lock changes, and a
# package that differs from the one locked is refused.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY bot ./bot
COPY handlers ./handlers
COPY providers ./providers
COPY storage ./storage

RUN useradd --create-home --uid 10001 bot && mkdir -p /app/data && chown bot:bot /app/data
USER bot
VOLUME ["/app/data"]
ENV DATABASE_PATH=/app/data/bot.sqlite3
ENTRYPOINT ["python"]
CMD ["-m", "bot"]
