#!/usr/bin/env bash
# Installs what the tests need (packages, Debian's kernel, the initramfs), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec tests/run.sh
