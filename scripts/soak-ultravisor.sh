#!/usr/bin/env bash
# Soak: kill -9 the ultravisor at random points many more times than CI does (default 5000)
# and check after every restart that the database equals the acknowledged transactions.
set -euo pipefail
cd "$(dirname "$0")/.."
make -j2 >/dev/null
UVD_KILLS=${1:-5000} exec build/release/tests/test_ultravisor
