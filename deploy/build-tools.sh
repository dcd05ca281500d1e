#!/usr/bin/env bash
# Build the deployment checkers CI needs from the Go module proxy into .stack/bin/ (versioned
# names, like the stack's versitygw; a warm run does nothing):
#   docker-compose-$COMPOSE_VERSION  the docker compose CLI (`config` needs no daemon)
#   helm-$HELM_VERSION               helm (`lint`, `template`)
# Cold, on a 2-core machine: compose ~6 min, helm ~4 min (most of it compiling).
# Usage: deploy/build-tools.sh [compose|helm]...   (default: both); prints the binaries' paths.
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE_VERSION=v2.40.3
HELM_VERSION=v3.19.5
bin=$PWD/.stack/bin
mkdir -p "$bin"
command -v go >/dev/null || { echo "Go is required to build the deploy tools" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod

build_compose() {
  local out=$bin/docker-compose-$COMPOSE_VERSION
  if [ ! -x "$out" ]; then
    echo "building docker compose $COMPOSE_VERSION (go build)" >&2
    # compose's go.mod has exclude directives, which `go install pkg@version` refuses:
    # fetch the module, then build its ./cmd in a writable copy.
    local src tmp
    src=$(cd /tmp && go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" \
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    tmp=$(mktemp -d)
    cp -r "$src/." "$tmp/" && chmod -R u+w "$tmp"
    (cd "$tmp" && go build -trimpath \
        -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
        -o "$out.tmp" ./cmd)
    rm -rf "$tmp"
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

build_helm() {
  local out=$bin/helm-$HELM_VERSION
  if [ ! -x "$out" ]; then
    echo "building helm $HELM_VERSION (go install)" >&2
    local gobin
    gobin=$(mktemp -d)
    GOBIN=$gobin go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    mv "$gobin/helm" "$out"
    rm -rf "$gobin"
  fi
  echo "$out"
}

for tool in "${@:-compose helm}"; do
  for t in $tool; do "build_$t"; done
done
