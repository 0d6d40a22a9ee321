# Shared by install-deps.sh (everything the tests need) and demo.sh (only what
# the demo needs). Sourced from the repository root, not run. Each step is
# skipped when already done, so running either script again is cheap.

SIM_VENV=${NETMON_SNMPSIM_VENV:-/opt/netmon-snmpsim}
VENV=${NETMON_VENV:-.venv}
PY=${PYTHON:-python3}
# Debian's interpreter: python3-venv makes it able to build venvs, snmpsim runs on it.
SYSTEM_PY=${NETMON_SYSTEM_PYTHON:-/usr/bin/python3}

# This machine's pip configuration names package indexes that may not exist
# here; pip warns about each one for every package. Drop those lines, keep the
# rest of pip's stderr, and keep pip's exit status.
pip_quiet() {
  "$@" 2>&1 | { grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true; }
}

# apt_install BINARY... -- PACKAGE...: install the packages if a binary is missing
# or $SYSTEM_PY cannot build a venv (python3-venv).
apt_install() {
  local need=0
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    [ -x "$1" ] || need=1
    shift
  done
  shift
  "$SYSTEM_PY" -c 'import venv, ensurepip' 2>/dev/null || need=1
  if [ "$need" = 1 ]; then
    echo "install-deps: installing Debian packages: $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# snmpsim_venv [PACKAGE...]: a venv for snmpsim on $SYSTEM_PY in $SIM_VENV.
# snmpsim drops privileges to 'nobody', which must be able to read the
# interpreter: hence /usr/bin/python3 and a world-readable venv outside /home.
snmpsim_venv() {
  if [ ! -x "$SIM_VENV/bin/snmpsim-command-responder" ]; then
    echo "install-deps: building the snmpsim venv in $SIM_VENV" >&2
    "$SYSTEM_PY" -m venv "$SIM_VENV"
    pip_quiet "$SIM_VENV/bin/pip" install -q --disable-pip-version-check snmpsim pysmi
  fi
  local pkg module
  for pkg in "$@"; do
    module=${pkg//-/_}
    if ! "$SIM_VENV/bin/python" -c "import $module" 2>/dev/null; then
      echo "install-deps: adding $pkg to $SIM_VENV" >&2
      pip_quiet "$SIM_VENV/bin/pip" install -q --disable-pip-version-check "$pkg"
    fi
  done
  chmod -R a+rX "$SIM_VENV"
}

# netmon_venv [EXTRAS]: netmon itself, editable, in $VENV (with extras, e.g. "test").
# pip runs again only when pyproject.toml changed since the last install with
# these extras, or an import fails: the code itself is live (editable).
netmon_venv() {
  local extras=${1:-} spec=. stamp want
  local check="import netmon, pysnmp, influxdb_client, apscheduler, aiohttp"
  if [ -n "$extras" ]; then
    spec=".[$extras]"
    check="$check, pytest"  # the only extra is "test"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "install-deps: creating $VENV" >&2
    "$PY" -m venv "$VENV"
  fi
  stamp="$VENV/.netmon-installed-${extras:-base}"
  want=$(sha256sum pyproject.toml)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/python" -c "$check" 2>/dev/null
  then
    pip_quiet "$VENV/bin/pip" install -q --disable-pip-version-check -e "$spec"
    "$VENV/bin/python" -c "$check"
    echo "$want" > "$stamp"
  fi
}
