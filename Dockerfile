# The stockloop worker image: `docker compose up` runs it beside apache/kafka.
# Every dependency ships a manylinux wheel for CPython 3.11, so the slim image needs no
# compiler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs: the build context also holds .venv and caches.
COPY pyproject.toml README.md LICENSE topics.yaml ./
COPY streams ./streams
COPY agents ./agents
COPY models ./models
COPY connectors ./connectors
RUN pip install . \
    && useradd --create-home --home-dir /home/stockloop stockloop \
    && mkdir -p /app/.stockloop \
    && chown stockloop /app/.stockloop

# Installed into site-packages, the settings cannot find the catalogue beside the
# source tree, so point at the copy in /app. Listen on all interfaces so the published
# web port answers.
ENV STOCKLOOP_TOPICS_FILE=/app/topics.yaml \
    STOCKLOOP_WEB_HOST=0.0.0.0

USER stockloop
EXPOSE 6066
CMD ["stockloop", "worker"]
