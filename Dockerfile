# syntax=docker/dockerfile:1
# Picket's image: the `picket` command in a virtual environment on python:3.11-slim, run by a user
# of its own. docker-compose.yml runs its gateways and workers; it runs any `picket` command:
#
#   docker build -t picket .
#   docker run -e KAFKA_BOOTSTRAP=kafka:9092 -e CLICKHOUSE_URL=http://clickhouse:8123 -p 8000:8000 picket gateway
#   docker run -e KAFKA_BOOTSTRAP=kafka:9092 -e CLICKHOUSE_URL=http://clickhouse:8123 picket worker
#
# Dependencies come from requirements.lock: every distribution `pip install .` pulls in, pinned at
# the version installed in the project's .venv (where the test suite passes). After a change to
# the dependencies in pyproject.toml, install the project and make the lock again:
#
#   .venv/bin/pip install -e . && .venv/bin/python deploy/docker/lock.py > requirements.lock
#
# The build stage needs no compiler on x86_64: every pinned version has a wheel there. On arm64,
# faust-streaming has none and installs from its source as pure Python (its C speedups are
# optional). `picket run` is not for this image: its embedded broker needs Java and the Kafka jars.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
# The dependencies first, in a layer of their own: a change to the code does not install them again.
COPY requirements.lock /src/requirements.lock
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install --no-deps -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY services /src/services
COPY schemas /src/schemas
# The project as a wheel (no source tree in the image), then a check that the lock left nothing out.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist /src \
    && /opt/venv/bin/pip install --no-deps /dist/picket-*.whl \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PICKET_HOST=0.0.0.0 \
    PICKET_PORT=8000 \
    PICKET_DATA_DIR=/data
RUN groupadd --system --gid 10001 picket \
    && useradd --system --uid 10001 --gid picket --home-dir /data --no-create-home --shell /usr/sbin/nologin picket \
    && install -d -o picket -g picket -m 0700 /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/picket/healthcheck.py
USER 10001:10001
WORKDIR /data
EXPOSE 8000
# Liveness of a gateway (its /_health/), of a worker (its /metrics when PICKET_METRICS_LISTEN is
# set), of any other command (it runs): deploy/docker/healthcheck.py.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/picket/healthcheck.py", "/_health/"]
ENTRYPOINT ["picket"]
CMD ["gateway"]
