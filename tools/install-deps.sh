#!/usr/bin/env bash
# Installs the Debian packages setcd needs, if missing.
#   tools/install-deps.sh          build and run: liblmdb-dev zlib1g-dev
#   tools/install-deps.sh --test   also the reference etcd server and etcdctl used by the tests, openssl (test certificates),
#                                  curl and python3 (raw HTTP/2 and socket clients of the hostile-input tests)
# Runs apt-get when root; otherwise prints the exact command to run and exits 1.
set -euo pipefail

packages=(liblmdb-dev zlib1g-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(etcd-server etcd-client curl openssl python3)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

command="apt-get update && apt-get install -y ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "setcd needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root: $command" >&2
  exit 1
fi
echo "Installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
