#!/usr/bin/env bash
# Installs the system pieces the local stack needs: PostgreSQL 15 server, Mosquitto, and the
# TimescaleDB extension (built from Debian's source package when no binary is installed).
# `install-system.sh test` also installs what only the test suite uses (`make test` asks for it;
# `make up` needs none of it): headless Chromium, to look at the Dagster UI as a person would, and
# Prometheus with Alertmanager, to run the compose deployment's alert rules and routing for real.
# Idempotent: every step checks first, so a second run takes about a second.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
PG_CONFIG=${PG_BIN}/pg_config
TSDB_SRC_SUITE=${TSDB_SRC_SUITE:-trixie}
BUILD_DIR=${TDS_BUILD_DIR:-$HOME/.cache/tds-platform/build}

say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

need_apt=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
[ -x "${PG_BIN}/postgres" ] || need_apt+=("postgresql-${PG_MAJOR}")
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
if [ "${1:-}" = test ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
fi
tsdb_installed() { [ -f "/usr/share/postgresql/${PG_MAJOR}/extension/timescaledb.control" ]; }
tsdb_installed || {
  [ -x "$PG_CONFIG" ] && [ -d "/usr/include/postgresql/${PG_MAJOR}/server" ] || need_apt+=("postgresql-server-dev-${PG_MAJOR}")
  command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
  command -v gcc >/dev/null 2>&1 || need_apt+=(build-essential)
  command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
}

if [ ${#need_apt[@]} -eq 0 ] && tsdb_installed; then
  say "system packages and TimescaleDB already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  die "missing: ${need_apt[*]:-} $(tsdb_installed || echo timescaledb-extension). Run 'sudo make up' once, install them yourself (see README 'Manual install'), or use 'docker compose up'."
fi
command -v apt-get >/dev/null 2>&1 || die "this is not a Debian/Ubuntu machine: install PostgreSQL ${PG_MAJOR}, TimescaleDB and Mosquitto with your package manager, or use 'docker compose up'."

export DEBIAN_FRONTEND=noninteractive
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian's postgresql package starts a cluster on 5432; we never use it, and we leave it alone.
  # Its prometheus packages start services on 9090/9093 too: the tests run their own instances on
  # free ports, so the system ones are stopped and left disabled rather than left listening.
  for unit in prometheus prometheus-alertmanager; do
    if [[ " ${need_apt[*]} " == *" $unit "* ]] && [ -d /run/systemd/system ]; then
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
  done
fi

if ! tsdb_installed; then
  say "building TimescaleDB (Apache edition) from Debian's ${TSDB_SRC_SUITE} source package (~1 min)"
  src_list=/etc/apt/sources.list.d/tds-${TSDB_SRC_SUITE}-src.sources
  if [ ! -f "$src_list" ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    # deb-src only: a trixie 'deb' line would let apt upgrade libc and half the system.
    cat > "$src_list" <<SRC
Types: deb-src
URIs: $uri
Suites: ${TSDB_SRC_SUITE}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq
  fi
  mkdir -p "$BUILD_DIR"
  cd "$BUILD_DIR"
  ls timescaledb_*.orig.tar.xz >/dev/null 2>&1 || apt-get source --download-only timescaledb >/dev/null
  rm -rf timescaledb-src && mkdir timescaledb-src
  tar xf timescaledb_*.orig.tar.xz -C timescaledb-src --strip-components=1
  cd timescaledb-src
  ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DAPACHE_ONLY=ON \
              -DPG_CONFIG="$PG_CONFIG" >build.log 2>&1 || { tail -20 build.log; die "TimescaleDB configure failed"; }
  make -C build -j"$(nproc)" install >>build.log 2>&1 || { tail -20 build.log; die "TimescaleDB build failed"; }
  tsdb_installed || die "TimescaleDB build finished but the extension is not installed"
  say "TimescaleDB installed"
fi
