#!/usr/bin/env python3
"""Numerical parity of the PyTorch mirror with ctquant's TypeScript model.

Runs bench/reference/parity-dump.ts (tfjs cpu backend; needs node and the project's node_modules), loads
its weights into ctquant_ref's QuantizationLayer + UNet, and compares the forward output, the loss, every
gradient, the probability map and the hardware layout, for normalisation none, batch (training mode) and group
(ctquant's default: min(8, channels) groups, with the output prior 0.02 of its default recipe).

  /usr/bin/python3 bench/reference/parity.py          # from the project root; exit 1 on a mismatch
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

import math  # noqa: E402

import torch  # noqa: E402

from ctquant_ref import QuantizationLayer, SegmentationModel, UNet, dice_bce_loss  # noqa: E402

# (normalisation, U-Net base width, output prior or None): base 8 gives group norm 1, 2 and 4 channels per group.
CASES = (("none", 4, None), ("batch", 4, None), ("group", 8, 0.02))


def tensor(entry: dict) -> torch.Tensor:
    return torch.tensor(entry["values"], dtype=torch.float32).view(entry["shape"])


def conv_kernel(k: torch.Tensor) -> torch.Tensor:
    """tfjs conv kernel [kh, kw, cin, cout] -> torch [cout, cin, kh, kw]."""
    return k.permute(3, 2, 0, 1).contiguous()


def up_kernel(k: torch.Tensor) -> torch.Tensor:
    """ctquant UpConv2x2 kernel [cin, (i, j, f)] -> torch ConvTranspose2d weight [cin, f, i, j]."""
    cin, cols = k.shape
    return k.view(cin, 2, 2, cols // 4).permute(0, 3, 1, 2).contiguous()


NORM_TYPES = (torch.nn.BatchNorm2d, torch.nn.GroupNorm)


def block_modules(block) -> list[tuple[torch.nn.Conv2d, torch.nn.Module | None]]:
    """(conv, the normalisation after it or None) of a _DoubleConv."""
    out, mods = [], list(block)
    for i, m in enumerate(mods):
        if isinstance(m, torch.nn.Conv2d):
            norm = mods[i + 1] if isinstance(mods[i + 1], NORM_TYPES) else None
            out.append((m, norm))
    return out


def bias_cancelled(norm: torch.nn.Module | None) -> bool:
    """A conv bias in front of this normalisation has zero gradient in theory: batch norm in training mode
    subtracts the batch mean of each channel, group norm with one channel per group that channel's mean."""
    if isinstance(norm, torch.nn.BatchNorm2d):
        return True
    return isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == norm.num_channels


def named_params(unet: UNet) -> dict[str, torch.Tensor]:
    """tfjs weight name -> (torch parameter or buffer, converter) for ctquant's U-Net layer names."""
    table: dict[str, tuple] = {}

    def add_block(block, prefix: str) -> None:
        for n, (conv, norm) in enumerate(block_modules(block), start=1):
            name = f"{prefix}_conv{n}"
            table[f"{name}/kernel"] = (conv.weight, conv_kernel)
            table[f"{name}/bias"] = (conv.bias, None)
            if isinstance(norm, torch.nn.BatchNorm2d):
                table[f"{name}_bn/gamma"] = (norm.weight, None)
                table[f"{name}_bn/beta"] = (norm.bias, None)
                table[f"{name}_bn/moving_mean"] = (norm.running_mean, None)
                table[f"{name}_bn/moving_variance"] = (norm.running_var, None)
            elif isinstance(norm, torch.nn.GroupNorm):
                suffix = "in" if unet.norm == "instance" else "gn"  # src/model/unet.ts layer names
                table[f"{name}_{suffix}/gamma"] = (norm.weight, None)
                table[f"{name}_{suffix}/beta"] = (norm.bias, None)

    for level, block in enumerate(unet.down):
        add_block(block, f"down{level}")
    add_block(unet.bottom, "bottom")
    for j, (up, conv) in enumerate(zip(unet.ups, unet.up_convs)):
        level = unet.depth - 1 - j
        table[f"up{level}/kernel"] = (up.weight, up_kernel)
        table[f"up{level}/bias"] = (up.bias, None)
        add_block(conv, f"up{level}_block")
    table["head/kernel"] = (unet.head.weight, conv_kernel)
    table["head/bias"] = (unet.head.bias, None)
    return table


def compare(label: str, ours: torch.Tensor, theirs: torch.Tensor, rtol: float) -> float:
    scale = float(theirs.abs().max()) or 1.0
    err = float((ours - theirs).abs().max()) / scale
    status = "ok " if err <= rtol else "BAD"
    print(f"  {status} {label}: max |diff| / max |ref| = {err:.2e}")
    return err


def cancelled_biases(unet: UNet) -> set[str]:
    """tfjs names of the conv biases whose gradient is zero in theory (see bias_cancelled)."""
    out = set()
    blocks = [(b, f"down{i}") for i, b in enumerate(unet.down)] + [(unet.bottom, "bottom")]
    blocks += [(c, f"up{unet.depth - 1 - j}_block") for j, c in enumerate(unet.up_convs)]
    for block, prefix in blocks:
        for n, (_, norm) in enumerate(block_modules(block), start=1):
            if bias_cancelled(norm):
                out.add(f"{prefix}_conv{n}/bias")
    return out


def check(dump: dict) -> bool:
    s, b = dump["size"], dump["batch"]
    prior = dump.get("outputPrior")
    unet = UNet(dump.get("depth", 2), dump.get("baseFilters", 4), dump["normalization"], seed=0, output_prior=prior)
    prior_ok = True
    if prior is not None:
        # The head's bias starts at logit(prior) on both sides (checked before the dumped weights replace ours).
        want = math.log(prior / (1 - prior))
        theirs, ours = dump["weights"]["head/bias"]["values"][0], float(unet.head.bias[0])
        prior_ok = abs(theirs - want) < 1e-6 and abs(ours - want) < 1e-6
        print(f"  {'ok ' if prior_ok else 'BAD'} head bias starts at logit({prior}) = {want:.6f}: "
              f"ctquant {theirs:.6f}, reference {ours:.6f}")
    cancelled = cancelled_biases(unet)
    table = named_params(unet)
    layer = QuantizationLayer(s, s, dump["nativeBits"], dump["keptBits"], dump["rule"], budget=dump["budget"],
                              slope=dump["slope"])
    layer.mode = "expected"
    with torch.no_grad():
        for name, entry in dump["weights"].items():
            if name.endswith("/logits"):
                layer.logits.copy_(tensor(entry))
                continue
            target, convert = table.pop(name)
            value = tensor(entry)
            target.copy_(convert(value) if convert else value)
    assert not table, f"weights missing in the dump: {sorted(table)}"
    model = SegmentationModel(unet, dump["nativeBits"], layer).train()
    # channels-last [B, H, W, 1] -> channels-first [B, 1, H, W]
    x = torch.tensor(dump["counts"]).view(b, s, s, 1).permute(0, 3, 1, 2)
    y = torch.tensor(dump["masks"]).view(b, s, s, 1).permute(0, 3, 1, 2)
    out = model(x)
    loss = dice_bce_loss(y, out, per_image=True)
    loss.backward()
    rtol = 2e-4
    errs = [
        compare("output", out.permute(0, 2, 3, 1).flatten().detach(), torch.tensor(dump["output"]), rtol),
        compare("loss", loss.detach().view(1), torch.tensor([dump["loss"]]), rtol),
        compare("probability map", layer.probability_map().flatten().detach(), torch.tensor(dump["probabilityMap"]),
                rtol),
    ]
    same_layout = torch.equal(layer.hardware_layout().flatten(), torch.tensor(dump["hardwareLayout"]).float())
    print(f"  {'ok ' if same_layout else 'BAD'} hardware layout identical")
    table = named_params(unet)
    for name, grad in dump["gradients"].items():
        theirs = torch.tensor(grad)
        if name.endswith("/logits"):
            ours = layer.logits.grad.flatten()
        else:
            param, convert = table[name]
            g = param.grad
            # Bring ours into tfjs layout to compare element by element.
            if convert is conv_kernel:
                g = g.permute(2, 3, 1, 0)
            elif convert is up_kernel:
                g = g.permute(0, 2, 3, 1)
            ours = g.flatten()
        if name in cancelled:
            # A conv bias followed by batch norm in training mode, or by group norm with one channel per group, has
            # zero gradient (the mean cancels it): both sides are float round-off, so compare absolute sizes.
            tiny = max(float(ours.abs().max()), float(theirs.abs().max()))
            print(f"  {'ok ' if tiny < 1e-5 else 'BAD'} grad {name}: zero in theory, max |grad| = {tiny:.1e}")
            errs.append(0.0 if tiny < 1e-5 else 1.0)
            continue
        errs.append(compare(f"grad {name}", ours, theirs, 1e-3))
    return prior_ok and same_layout and all(e <= (rtol if i < 3 else 1e-3) for i, e in enumerate(errs))


def main() -> int:
    torch.set_num_threads(1)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for norm, base, prior in CASES:
            path = os.path.join(tmp, f"parity-{norm}.json")
            extra = [str(base)] + ([str(prior)] if prior is not None else [])
            subprocess.run(["node", "--import", "tsx", "bench/reference/parity-dump.ts", path, norm, *extra], cwd=ROOT,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(path) as f:
                dump = json.load(f)
            print(f"normalization {norm}, base {base}" + (f", output prior {prior}" if prior is not None else "") + ":")
            ok = check(dump) and ok
    print("parity: OK" if ok else "parity: MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
