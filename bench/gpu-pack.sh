#!/usr/bin/env bash
# Stages a GPU-machine run of the benches and of ctquant's own CLI into .gpu/ (git-ignored) so that
# it fits one device call (64 MiB with the working tree and any data):
#   bash bench/gpu-pack.sh
# 1. ../shared/gpu/stage.sh with bench/gpu.ts and src/cli/entry.ts → .gpu/bundle/{gpu,entry}.mjs,
#    Node, the Vulkan loader and Dawn;
# 2. Dawn's dawn.node (21 MB) and the bundles (9 MB) xz-compressed, and sharp with its libvips (the
#    CLI writes PNG figures and reads PNG data with it) packed, 7 MB, and two DejaVu fonts for the
#    figures' text: .gpu/ is 37 MB, not 55;
# 3. .gpu/prepare.sh, to run first there: unpacks them (and points fontconfig at the fonts).
# Then on the GPU machine (carry [".gpu", ".gl", and any data folder]):
#   bash .gpu/prepare.sh && bash .gpu/run.sh entry.mjs study --backend webgpu ...
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
stage=../shared/gpu/stage.sh
[ -x "$stage" ] || { echo "gpu-pack: $stage not found (the shared GPU tools live beside the checkout)" >&2; exit 2; }
"$stage" bench/gpu.ts src/cli/entry.ts >/dev/null
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] && xz -T2 -6 -c "$dawn" > .gpu/dawn.node.xz && rm "$dawn"
for b in .gpu/bundle/*.mjs; do xz -f -T2 -6 "$b"; done
# The GPU machine has no fonts: without one, the figures' text renders as empty boxes.
mkdir -p .gpu/fonts
for f in DejaVuSans.ttf DejaVuSans-Bold.ttf; do
  src=/usr/share/fonts/truetype/dejavu/$f
  if [ -f "$src" ]; then xz -T2 -6 -c "$src" > ".gpu/fonts/$f.xz"; else echo "gpu-pack: no $f here: figures on the GPU machine will have no text" >&2; fi
done
tar -C node_modules -cf - sharp @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 @img/colour detect-libc semver | xz -T2 -6 > .gpu/sharp.tar.xz
cat > .gpu/prepare.sh <<'PREP'
#!/usr/bin/env bash
# Runs on the GPU machine from the project root: unpacks what bench/gpu-pack.sh compressed.
set -eu
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || xz -dc .gpu/dawn.node.xz > "$dawn"
[ -d .gpu/node_modules/sharp ] || tar -C .gpu/node_modules -xJf .gpu/sharp.tar.xz
for b in .gpu/bundle/*.mjs.xz; do [ -f "${b%.xz}" ] || xz -dk "$b"; done
# Fonts for the figures (the machine has none); it is a bare machine, given back after the session.
if ls .gpu/fonts/*.xz >/dev/null 2>&1 && [ ! -f /etc/fonts/fonts.conf ]; then
  for f in .gpu/fonts/*.xz; do [ -f "${f%.xz}" ] || xz -dk "$f"; done
  mkdir -p /etc/fonts
  printf '<?xml version="1.0"?>\n<fontconfig><dir>%s</dir><cachedir>/tmp/fontconfig-cache</cachedir></fontconfig>\n' "$PWD/.gpu/fonts" > /etc/fonts/fonts.conf
fi
PREP
du -sh .gpu
