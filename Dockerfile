# The engine's image: the worker, the API and the one-shot `noshow setup-temporal`, as a non-root user. No
# `temporal` CLI (the embedded extra): production runs against a Temporal server or Temporal Cloud.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/noshow
COPY pyproject.toml README.md ./
COPY domain domain
COPY policies policies
COPY workflows workflows
COPY activities activities
COPY connectors connectors
COPY workers workers
COPY reporting reporting
RUN /opt/noshow/bin/pip install --no-cache-dir ".[postgres,tracing]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent noshow \
    && mkdir /data && chown 10001:10001 /data
COPY --from=build /opt/noshow /opt/noshow
ENV PATH=/opt/noshow/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NOSHOW_DATA_DIR=/data \
    NOSHOW_LOG_FORMAT=json
WORKDIR /data
USER 10001:10001
VOLUME /data
EXPOSE 8000 9464 9465
CMD ["noshow", "worker"]
