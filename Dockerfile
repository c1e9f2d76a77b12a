# Keel's image for the example topology in compose.yaml: the `keel` command, nothing else.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home keel
USER keel
WORKDIR /home/keel
ENTRYPOINT ["keel"]
