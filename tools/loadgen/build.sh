#!/bin/sh
# Build the setcd load generator (tools/loadgen) offline, in GOPATH mode, against
# Debian's packaged etcd 3.4 Go sources (golang-etcd-server-dev, under /usr/share/gocode).
# Output: ${TMPDIR:-/tmp}/setcd-loadgen/loadgen (never written into the repository).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
OUT_DIR="${TMPDIR:-/tmp}/setcd-loadgen"
GOCODE=/usr/share/gocode

if ! command -v go >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y golang-go
    else
        echo "go is missing; install it with: sudo apt-get install -y golang-go" >&2
        exit 1
    fi
fi
if [ ! -d "$GOCODE/src/go.etcd.io/etcd/clientv3" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y golang-etcd-server-dev
    else
        echo "etcd Go sources missing; install them with: sudo apt-get install -y golang-etcd-server-dev" >&2
        exit 1
    fi
fi

mkdir -p "$OUT_DIR/gopath" "$OUT_DIR/gocache"
cd "$HERE"
# GOPATH mode: no go.mod, no module proxy, no network. Imports resolve from
# /usr/share/gocode/src (read-only); the scratch GOPATH/GOCACHE live under $OUT_DIR.
GO111MODULE=off GOFLAGS= GOPROXY=off \
GOPATH="$GOCODE:$OUT_DIR/gopath" GOCACHE="$OUT_DIR/gocache" \
    go build -o "$OUT_DIR/loadgen" main.go
echo "built $OUT_DIR/loadgen"
