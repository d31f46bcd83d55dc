#!/usr/bin/env bash
# Set-up for the webgpu backend's tests (`npm test` runs it): a WebGPU adapter for Dawn.
# On a GPU machine Dawn uses the driver's own Vulkan ICD and nothing is installed. Elsewhere the
# tests need a software adapter: Mesa's lavapipe, from Mesa 25 (Debian 12's own Mesa 22.3 is
# refused by Dawn), and the Vulkan loader libvulkan1. As root on Debian 12 this script adds
# bookworm-backports to apt's sources (if missing) and installs them from there; otherwise it
# prints the commands and carries on (the webgpu tests then skip, saying why).
# Idempotent and quick when an adapter is already there. GALMORPH_WEBGPU_SETUP=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[galmorph webgpu setup] $*" >&2; }

[ "${GALMORPH_WEBGPU_SETUP:-1}" = "0" ] && { log "skipped (GALMORPH_WEBGPU_SETUP=0)"; exit 0; }
if [ ! -f node_modules/webgpu/package.json ] || [ ! -f node_modules/@tensorflow/tfjs-backend-webgpu/package.json ]; then
  log "the optional packages webgpu / @tensorflow/tfjs-backend-webgpu are not installed: nothing to set up"
  exit 0
fi
[ "$(uname -s)" = "Linux" ] || exit 0

# Prints the adapter Dawn offers (exit 0), or exits 1 when there is none.
probe() {
  node -e '
    const p = require("path");
    const dir = p.dirname(require.resolve("webgpu/package.json"));
    const { create } = require(p.join(dir, "dist", process.platform + "-" + process.arch, "dawn.node"));
    create([]).requestAdapter().then((a) => {
      if (!a) process.exit(1);
      console.log(a.info.description || a.info.vendor + " " + a.info.device);
      process.exit(0);
    }, () => process.exit(1));' 2>/dev/null
}

if adapter=$(probe); then
  log "WebGPU adapter: $adapter"
  exit 0
fi

codename=""
[ -r /etc/os-release ] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" = "bookworm" ]; then
  SOURCES=/etc/apt/sources.list.d/bookworm-backports.sources
  ADD_SOURCE="printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm-backports\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > $SOURCES"
  INSTALL="apt-get install -y libvulkan1 && apt-get install -y -t bookworm-backports mesa-vulkan-drivers"
else
  ADD_SOURCE=""
  INSTALL="apt-get install -y libvulkan1 mesa-vulkan-drivers"
fi

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no WebGPU adapter: the webgpu tests will be skipped. For Mesa's software adapter (lavapipe, Mesa 25 or newer) run:"
  [ -n "$ADD_SOURCE" ] && log "  sudo sh -c \"$ADD_SOURCE\""
  log "  sudo apt-get update && sudo sh -c '$INSTALL'"
  exit 0
fi

start=$(date +%s)
if [ "$codename" = "bookworm" ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding bookworm-backports to apt's sources ($SOURCES)"
  sh -c "$ADD_SOURCE" || { log "could not add bookworm-backports; the webgpu tests will be skipped"; exit 0; }
fi
log "installing libvulkan1 and Mesa's Vulkan drivers${codename:+ ($codename${ADD_SOURCE:+-backports})}"
if ! apt-get update -qq >/tmp/galmorph-webgpu-apt.log 2>&1; then
  log "apt-get update failed (see /tmp/galmorph-webgpu-apt.log); the webgpu tests will be skipped"
  exit 0
fi
if ! DEBIAN_FRONTEND=noninteractive sh -c "$INSTALL" >/tmp/galmorph-webgpu-apt.log 2>&1; then
  log "apt-get failed (see /tmp/galmorph-webgpu-apt.log); the webgpu tests will be skipped"
  exit 0
fi
if adapter=$(probe); then
  log "WebGPU adapter: $adapter (set-up took $(( $(date +%s) - start )) s)"
else
  log "still no WebGPU adapter after installing Mesa; the webgpu tests will be skipped"
fi
