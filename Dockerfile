# The MFC application image: one image, three services (mfc ingest | mfc fusion | mfc api).
#   docker build -t mfc .
#   docker run --rm mfc mfc --help
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first (a layer that changes only when pyproject.toml does).
COPY pyproject.toml README.md ./
RUN mkdir -p mfc services ingest fusion api && touch mfc/__init__.py services/__init__.py ingest/__init__.py \
        fusion/__init__.py api/__init__.py \
    && pip install ".[postgres]" && pip uninstall -y mfc && rm -rf mfc services ingest fusion api build

COPY mfc ./mfc
COPY services ./services
COPY ingest ./ingest
COPY fusion ./fusion
COPY api ./api
COPY sample_feeds ./sample_feeds
RUN pip install --no-deps . && useradd --system --uid 10001 --home-dir /var/lib/mfc mfc \
    && mkdir -p /var/lib/mfc && chown mfc /var/lib/mfc

USER mfc
WORKDIR /var/lib/mfc
# SIGTERM is the graceful stop: loops finish their batch, fusion saves its checkpoint, producers flush.
STOPSIGNAL SIGTERM
ENV MFC_HOST=0.0.0.0 MFC_PORT=8000 MFC_CHECKPOINT=/var/lib/mfc/fusion.ckpt MFC_SAMPLE_FEEDS=/app/sample_feeds/scs
EXPOSE 8000
CMD ["mfc", "api"]
