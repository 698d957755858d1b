FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY policies policies
COPY workflows workflows
COPY activities activities
COPY connectors connectors
COPY workers workers
COPY reporting reporting
RUN pip install --no-cache-dir ".[postgres]"
ENV NOSHOW_DATA_DIR=/data NOSHOW_LOG_FORMAT=json
VOLUME /data
CMD ["noshow", "worker"]
