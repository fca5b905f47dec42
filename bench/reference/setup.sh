#!/usr/bin/env bash
# Installs the PyTorch reference's dependencies from Debian (not a project dependency).
# Idempotent: does nothing when /usr/bin/python3 already imports torch, numpy and PIL.
set -euo pipefail
if /usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null; then
  /usr/bin/python3 -c 'import torch; print("torch", torch.__version__, "already installed")'
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends python3-torch python3-numpy python3-pil
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__, "installed")'
