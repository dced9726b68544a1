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
COPY playground ./playground
COPY terms ./terms

RUN useradd --create-home --uid 10001 bot && mkdir -p /app/data && chown bot:bot /app/data
USER bot
# One volume: the database (everyone's money) and its backups.
VOLUME ["/app/data"]
# The bot's HTTP server is on by default in the image: /healthz for the HEALTHCHECK, /metrics, and the
# webhooks once PUBLIC_URL / GETATEXT_WEBHOOK_SECRET are set. Publish it only behind a TLS proxy.
ENV DATABASE_PATH=/app/data/bot.sqlite3 BACKUP_DIR=/app/data/backups HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
# Start-up may wait for Telegram (retrying) before the server listens: a generous start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 CMD ["python", "-m", "bot.healthcheck"]
# SIGTERM stops the updates, waits for what runs and drains the outbox (SHUTDOWN_TIMEOUT, 20 s): give it
# `docker stop -t 30` or compose's stop_grace_period.
STOPSIGNAL SIGTERM
# `docker run IMAGE` runs the bot; `docker run IMAGE bot restore /app/data/backups/FILE` restores a backup;
# `docker run -p 8080:8080 IMAGE playground --host 0.0.0.0` runs the playground.
ENTRYPOINT ["python", "-m"]
CMD ["bot"]
