#!/usr/bin/env python3
"""Quick checks of the PyTorch mirror (a few seconds on one CPU thread): /usr/bin/python3 bench/reference/selftest.py"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from ctquant_ref import (  # noqa: E402
    QuantizationLayer,
    SegmentationModel,
    UNet,
    dice_bce_loss,
    discrete_dice,
    pixels_for_budget,
    quantize_counts,
    random_layout,
    rescale_to_budget,
    soft_dice,
)


def check_quantizer() -> None:
    x = torch.arange(256).float()
    for kept in range(1, 9):
        k = 8 - kept
        for v in range(256):
            floor = (v // 2**k) * 2**k
            assert quantize_counts(x, 8, kept, "floor")[v] == floor
            mid = floor if k == 0 else min(floor + 2 ** (k - 1), 255)
            assert quantize_counts(x, 8, kept, "midrise")[v] == mid
    # 16-bit samples: float32 holds every 16-bit count exactly.
    x16 = torch.tensor([0.0, 1.0, 4095.0, 4096.0, 65535.0])
    assert quantize_counts(x16, 16, 4, "floor").tolist() == [0, 0, 0, 4096, 61440]


def check_layer() -> None:
    g = torch.Generator().manual_seed(3)
    for budget in (0.05, 0.3, 0.5, 0.77, 0.95):
        for scale in (0.05, 1.0, 4.0):
            p = torch.sigmoid(torch.randn(32, 32, generator=g) * scale)
            assert abs(float(rescale_to_budget(p, budget).mean()) - budget) < 1e-6
    layer = QuantizationLayer(16, 16, 8, 1, budget=0.3, seed=5)
    assert int(layer.hardware_layout().sum()) == pixels_for_budget(0.3, 256) == 77
    assert int(random_layout(16, 16, 0.3, 9).sum()) == 77
    assert pixels_for_budget(0.5, 5) == 3  # JavaScript rounding, not Python's round-half-even
    counts = torch.randint(0, 256, (2, 1, 16, 16), generator=g).float()
    out = layer(counts)
    out.sum().backward()
    assert layer.logits.grad is not None and float(layer.logits.grad.abs().sum()) > 0, "no gradient to the logits"
    layer.mode = "hardware"
    hw = layer(counts)
    mask = layer.hardware_layout().bool().expand_as(counts)
    assert torch.equal(hw[mask], quantize_counts(counts, 8, 1)[mask]) and torch.equal(hw[~mask], counts[~mask])
    # Same seed, same masks: training is deterministic.
    a, b = QuantizationLayer(8, 8, 8, 1, seed=1), QuantizationLayer(8, 8, 8, 1, seed=1)
    x = torch.full((1, 1, 8, 8), 100.0)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a.mask(1, "cpu"), a.mask(1, "cpu")), "every step must draw new noise"


def check_unet_and_loss() -> None:
    for depth, norm in ((1, "none"), (4, "batch")):
        net = UNet(depth, 4, norm, seed=2)
        y = net(torch.rand(2, 1, 32, 32))
        assert y.shape == (2, 1, 32, 32) and float(y.min()) >= 0 and float(y.max()) <= 1
    a, b = UNet(2, 4, seed=7), UNet(2, 4, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())), "init is not seeded"
    t = torch.zeros(1, 1, 4, 4)
    t[0, 0, :2] = 1
    assert abs(float(soft_dice(t, t)) - 1) < 1e-6
    assert abs(float(soft_dice(t, 1 - t, eps=0))) < 1e-6
    assert abs(float(soft_dice(torch.zeros_like(t), torch.zeros_like(t))) - 1) < 1e-6  # empty-empty via eps
    tb = t.bool()
    assert discrete_dice(tb, tb) == 1 and discrete_dice(~tb & tb, ~tb & tb) == 1 and discrete_dice(tb, ~tb) == 0


def check_overfit() -> None:
    """Layer + U-Net learn three 32x32 disks (Dice > 0.9): the whole training path works."""
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    masks = torch.stack([((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).float()
                         for cy, cx, r in ((10, 12, 5), (20, 18, 7), (16, 8, 4))]).unsqueeze(1)
    counts = (60 + 120 * masks + 20 * torch.rand(masks.shape)).round()
    stage = QuantizationLayer(32, 32, 8, 1, budget=0.5, seed=1)
    model = SegmentationModel(UNet(2, 8, seed=1), 8, stage)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        dice_bce_loss(masks, model(counts)).backward()
        opt.step()
    stage.mode = "hardware"
    with torch.no_grad():
        pred = model(counts) >= 0.5
    dice = sum(discrete_dice(masks[i].bool(), pred[i]) for i in range(3)) / 3
    assert dice > 0.9, f"overfit Dice {dice:.3f}"


if __name__ == "__main__":
    torch.set_num_threads(1)
    for check in (check_quantizer, check_layer, check_unet_and_loss, check_overfit):
        check()
        print(f"ok {check.__name__}")
