# syntax=docker/dockerfile:1
# The TDS Platform image: one image for the stream writer, the migrations and the Dagster services.
# Built from pyproject.toml (`pip install .`); runs as an unprivileged user; holds no secrets.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

RUN groupadd --system --gid 10001 tds \
    && useradd --system --uid 10001 --gid tds --home-dir /opt/tds --create-home --shell /usr/sbin/nologin tds

WORKDIR /opt/tds/app

# Dependencies and console scripts (tds, tds-ingest) from the project's own metadata.
COPY pyproject.toml README.md ./
COPY ingest_stream ./ingest_stream
COPY tds_platform ./tds_platform
RUN pip install . && rm -rf build *.egg-info

# The dbt project ships inside the image with its manifest parsed at build time, so the Dagster
# code location starts without running dbt. The profile's connection comes from TDS_DBT_* at run
# time; parsing only needs them to exist.
COPY dbt_metrics ./dbt_metrics
RUN DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    TDS_DBT_HOST=build TDS_DBT_PORT=5432 TDS_DBT_USER=build TDS_DBT_PASSWORD=build TDS_DBT_DBNAME=build \
    dbt parse --project-dir dbt_metrics --profiles-dir dbt_metrics

# Imports resolve to this tree (not a second copy in site-packages), so code that finds
# dbt_metrics/ next to the packages finds the one parsed above.
ENV PYTHONPATH=/opt/tds/app

# Dagster's instance config; run and compute-log storage lives on a volume shared by its services.
COPY deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml ${DAGSTER_HOME}/
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/tds-entrypoint
RUN mkdir -p /opt/dagster/storage \
    && chown -R tds:tds /opt/tds/app/dbt_metrics /opt/dagster

USER tds
ENTRYPOINT ["tds-entrypoint"]
CMD ["tds", "--help"]
