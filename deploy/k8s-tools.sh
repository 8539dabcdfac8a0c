#!/usr/bin/env bash
# Installs the pinned kustomize into .run/bin (idempotent), for the offline k8s validation test.
# Built from source through the Go module proxy so the version is exact and checksummed (go.sum DB);
# after the first run the test needs no network.
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.1}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.run/bin"
mkdir -p "$BIN"
if [ -x "$BIN/kustomize" ] && "$BIN/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  exit 0
fi
GO="$(command -v go || echo /usr/local/go/bin/go)"
if [ ! -x "$GO" ]; then
  echo "go is needed to build kustomize $KUSTOMIZE_VERSION (https://go.dev/dl/)" >&2
  exit 1
fi
echo "building kustomize $KUSTOMIZE_VERSION into $BIN" >&2
GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
"$BIN/kustomize" version >&2
