FROM python:3.11-slim-bookworm
# PyAV and aiortc ship wheels with their codecs; nothing to compile.
WORKDIR /app
# DejaVu Sans draws the composite's captions (Kazakh, Russian).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY server ./server
COPY signaling ./signaling
COPY media ./media
COPY web_client ./web_client
RUN pip install --no-cache-dir . && useradd --system --home /data qashyq && mkdir -p /data \
    && chown qashyq /data
USER qashyq
ENV QASHYQ_DATA_DIR=/data QASHYQ_HOST=0.0.0.0 QASHYQ_PORT=8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["qashyq", "serve"]
