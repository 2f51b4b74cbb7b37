# syntax=docker/dockerfile:1
# The TDS Platform images, from pyproject.toml. Two targets of one build:
#   writer    the stream writer alone (`tds-ingest`): the base install (paho, psycopg, pydantic,
#             prometheus-client, orjson, click) and ingest_stream, no Dagster, dbt or pandas;
#   platform  (the default) the migrations, the Dagster services and the `tds` CLI: `.[platform]`.
# Both run as an unprivileged user and hold no secrets.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 tds \
    && useradd --system --uid 10001 --gid tds --home-dir /opt/tds --create-home --shell /usr/sbin/nologin tds

WORKDIR /opt/tds/app
COPY pyproject.toml README.md ./
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/tds-entrypoint
ENTRYPOINT ["tds-entrypoint"]


# The stream writer: what it runs and nothing more (tds_platform's code is not even copied).
FROM base AS writer

COPY ingest_stream ./ingest_stream
# The project's metadata also declares `tds`, the platform's command, whose code is not here: no such command.
RUN pip install . && rm -rf build *.egg-info "$(command -v tds)"

USER tds
CMD ["tds-ingest", "run"]


# Everything over the landed data: migrations, Dagster's code location, webserver and daemon, dbt.
FROM base AS platform

ENV DAGSTER_HOME=/opt/dagster/home

# Dependencies and console scripts (tds, tds-ingest) from the project's own metadata.
COPY ingest_stream ./ingest_stream
COPY tds_platform ./tds_platform
RUN pip install '.[platform]' && rm -rf build *.egg-info

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
RUN mkdir -p /opt/dagster/storage \
    && chown -R tds:tds /opt/tds/app/dbt_metrics /opt/dagster

USER tds
CMD ["tds", "--help"]
