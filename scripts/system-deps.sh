#!/usr/bin/env bash
# Installs the system packages the test suite uses beyond Node: Debian's chromium (renders
# report.html headless), slurm-wlm and munge (test/slurm.test.ts starts a one-node Slurm cluster
# to run the README's job-array recipe) and SwiftShader's Vulkan driver (runs the WebGPU kernels
# without a GPU). Idempotent; packages are fetched by name from Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/.."
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
need_apt=0
for program in chromium slurmctld slurmd munged; do has "$program" || need_apt=1; done
if [ "$need_apt" = 1 ]; then
  apt-get update -qq
  # Debian's package scripts may try to start the services; the test runs its own daemons on free ports.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium slurm-wlm munge >/dev/null
fi
if [ -x scripts/setup-swiftshader.sh ] || [ -f scripts/setup-swiftshader.sh ]; then
  bash scripts/setup-swiftshader.sh >/dev/null
fi
echo "system-deps: chromium $(command -v chromium || echo missing); slurm $(has slurmctld && has slurmd && has munged && echo ok || echo missing); swiftshader $( [ -f .vulkan-sw/vk_swiftshader_icd.json ] && echo ok || echo missing)"
