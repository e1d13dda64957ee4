#!/usr/bin/env bash
# Install what the test suite needs: the Python packages, and Chromium for the
# browser test (Debian's package, when this runs as root with apt; elsewhere
# the browser test is skipped and says why).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -r requirements-dev.txt
# the optional Ray backend, so its tests (tests/test_batch_ray.py) run in CI too
python -m pip install -r requirements-ray.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed and apt-get is not usable here: the browser test will be skipped" >&2
  fi
fi
