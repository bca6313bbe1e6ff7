#!/usr/bin/env bash
# Install the pinned Supabase CLI (npm package supabase@2.117.0, whose platform binary comes as
# the optional dependency @supabase/cli-linux-x64) under .tools/supabase-cli (idempotent).
set -euo pipefail

VERSION="2.117.0"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${REPO_ROOT}/.tools/supabase-cli"
BIN="${PREFIX}/node_modules/.bin/supabase"

# --version from elsewhere: in a folder holding supabase/ the CLI writes supabase/.temp/.
cli_version() { (cd / && "${BIN}" --version 2>/dev/null); }
if [[ -x "${BIN}" ]] && [[ "$(cli_version)" == "${VERSION}" ]]; then
  echo "supabase CLI already installed: ${BIN}"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "error: npm is required to install the Supabase CLI" >&2; exit 1; }
mkdir -p "${PREFIX}"
npm install --prefix "${PREFIX}" --save-exact --no-audit --no-fund --loglevel=error "supabase@${VERSION}" >/dev/null
actual="$(cli_version)"
if [[ "${actual}" != "${VERSION}" ]]; then
  echo "error: expected supabase CLI ${VERSION}, got ${actual}" >&2
  exit 1
fi
echo "installed supabase CLI ${actual} to ${BIN}"
