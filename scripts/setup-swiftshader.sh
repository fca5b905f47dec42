#!/usr/bin/env bash
# Installs a software Vulkan driver (SwiftShader, from Debian's chromium-common) so Dawn/WebGPU
# runs on a machine without a GPU (CI, dev boxes). Idempotent. Fetches by package name, never by
# version: the version moves with Debian's security updates. See shared/gpu/SOFTWARE-VULKAN.md.
#   usage (from anywhere):  scripts/setup-swiftshader.sh   → prints the exports to eval
#   eval "$(scripts/setup-swiftshader.sh)"
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.vulkan-sw"
icd="$dest/vk_swiftshader_icd.json"

log() { echo "setup-swiftshader: $*" >&2; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. The Vulkan loader (libvulkan.so.1).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  log "installing libvulkan1"
  sudo_if_needed apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libvulkan1 >&2
fi

# 2. SwiftShader's driver and ICD manifest, two files out of chromium-common.
if [ ! -s "$dest/libvk_swiftshader.so" ] || [ ! -s "$icd" ]; then
  log "fetching chromium-common for SwiftShader"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! (cd "$work" && apt-get download chromium-common >&2 2>/dev/null); then
    sudo_if_needed apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    (cd "$work" && apt-get download chromium-common >&2)
  fi
  dpkg-deb -x "$work"/chromium-common_*.deb "$work/x"
  mkdir -p "$dest"
  cp "$work/x/usr/lib/chromium/libvk_swiftshader.so" "$dest/"
  # The manifest names the library relatively ("./libvk_swiftshader.so"); the loader resolves that
  # against the manifest's own folder, so the pair works wherever it is copied.
  cp "$work/x/usr/lib/chromium/vk_swiftshader_icd.json" "$icd"
fi

log "SwiftShader ready in $dest"
echo "export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-/tmp}"
