#!/usr/bin/env bash
# Installs the system packages the test suite uses beyond Node: Debian's chromium (renders
# report.html headless) and SwiftShader's Vulkan driver (runs the WebGPU kernels without a GPU).
# Idempotent; packages are fetched by name from Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=0
command -v chromium >/dev/null 2>&1 || need_apt=1
if [ "$need_apt" = 1 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ -x scripts/setup-swiftshader.sh ] || [ -f scripts/setup-swiftshader.sh ]; then
  bash scripts/setup-swiftshader.sh >/dev/null
fi
echo "system-deps: chromium $(command -v chromium || echo missing); swiftshader $( [ -f .vulkan-sw/vk_swiftshader_icd.json ] && echo ok || echo missing)"
