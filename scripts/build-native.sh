#!/usr/bin/env bash
# Builds galmorph's oneDNN addon (native/onednn) with node-gyp, offline: Node's headers come from
# the system (/usr/include/node, Debian's nodejs / libnode-dev) through --nodedir, so node-gyp
# never tries to download them. Never fails the set-up: when the addon cannot be built it says why
# and galmorph runs on the wasm backend as before (`galmorph env` repeats the reason).
#   GALMORPH_NATIVE=0   skip the build
set -uo pipefail
cd "$(dirname "$0")/.."
log() { echo "[galmorph setup] $*" >&2; }
dir=native/onednn
out=$dir/build/Release/galmorph_onednn.node
reason_file=$dir/build/unavailable.txt
unavailable() {
  mkdir -p "$dir/build"
  echo "$1" > "$reason_file"
  log "oneDNN addon not built ($1); galmorph will use the wasm backend"
  exit 0
}
[ "${GALMORPH_NATIVE:-1}" = "0" ] && unavailable "GALMORPH_NATIVE=0"
# Rebuild only when a source is newer than the addon.
if [ -f "$out" ] && [ -z "$(find "$dir/src" "$dir/binding.gyp" -newer "$out" 2>/dev/null)" ]; then
  exit 0
fi
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || unavailable "oneDNN headers missing: sudo apt-get install -y libdnnl-dev build-essential"
command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || unavailable "no C++ compiler: sudo apt-get install -y build-essential"
nodedir=""
for d in "${GALMORPH_NODEDIR:-}" /usr /usr/local "$(dirname "$(dirname "$(command -v node)")")"; do
  if [ -n "$d" ] && [ -f "$d/include/node/node_api.h" ] && [ -f "$d/include/node/common.gypi" ]; then nodedir="$d"; break; fi
done
[ -n "$nodedir" ] || unavailable "Node.js headers not found (include/node/node_api.h); install libnode-dev or set GALMORPH_NODEDIR"
gyp=""
for g in node_modules/node-gyp/bin/node-gyp.js "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; do
  if [ -f "$g" ]; then gyp="$(readlink -f "$g")"; break; fi
done
[ -n "$gyp" ] || unavailable "node-gyp not found (it ships with npm)"
[ -d node_modules/node-addon-api ] || unavailable "node-addon-api missing (npm install)"
log "building the oneDNN addon (native/onednn)"
rm -f "$reason_file"
if ! (cd "$dir" && node "$gyp" rebuild --nodedir="$nodedir" --jobs=2 >build.log 2>&1); then
  tail -5 "$dir/build.log" >&2
  unavailable "node-gyp build failed, see $dir/build.log"
fi
# A last check that it loads (libdnnl.so present at run time).
node -e "require('./$out')" 2>/dev/null || unavailable "the built addon does not load: $(node -e "require('./$out')" 2>&1 | grep -m1 Error)"
log "oneDNN addon built: $out"
