"""PyTorch mirror of ctquant's model: trainable quantization layer, U-Net, Dice + BCE loss.

Mirrors src/quant/layer.ts, src/quant/hard.ts, src/model/unet.ts and src/model/losses.ts (same
formulas, initialisation scheme, padding, layer order, optimizer constants) so that timings and
accuracy can be compared with a reference framework. Tensors are channels-first (B, 1, H, W) as
PyTorch is; ctquant's are channels-last (B, H, W, 1). Random streams differ (torch generators vs
ctquant's Rng): runs agree in distribution, not bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# tfjs's defaults, used by ctquant, where PyTorch's differ.
TFJS_EPSILON = 1e-7  # tf.backend().epsilon(): Adam epsilon, BCE clipping
TFJS_BN_EPSILON = 1e-3  # tf.layers.batchNormalization epsilon
TFJS_BN_MOMENTUM = 0.01  # tfjs momentum 0.99 on the running mean == torch momentum 0.01
GROUP_NORM_EPSILON = 1e-5  # ctquant's GroupNormalization (src/model/unet.ts)
NORMS = ("none", "batch", "group", "instance")


def norm_groups(norm: str, channels: int) -> int:
    """Groups of ctquant's GroupNormalization: min(8, channels) for 'group', one per channel for 'instance'."""
    return min(8, channels) if norm == "group" else channels


# ----------------------------------------------------------------------------- ctquant's seeded generator


class Rng:
    """ctquant's Rng (src/util/rng.ts): mulberry32 seeded through splitmix32, the same stream for the same seed.

    Used where the reference copies a pure function of a seed exactly: the volume split, the batch order,
    the random control's layout and the layer's logit init. Not used for tensors' sampling noise.
    """

    def __init__(self, seed: int):
        self.state = _splitmix32(int(seed) & 0xFFFFFFFF)

    def next(self) -> float:
        """Uniform in [0, 1)."""
        self.state = t = (self.state + 0x6D2B79F5) & 0xFFFFFFFF
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.next()

    def int(self, n: int) -> int:
        """Integer in [0, n)."""
        return math.floor(self.next() * n)

    def shuffle(self, a: list) -> list:
        """In-place Fisher-Yates shuffle, as ctquant's."""
        for i in range(len(a) - 1, 0, -1):
            j = self.int(i + 1)
            a[i], a[j] = a[j], a[i]
        return a


def _imul(a: int, b: int) -> int:
    """Math.imul as an unsigned 32-bit result (the sign does not matter to the callers, which mask)."""
    return (a * b) & 0xFFFFFFFF


def _splitmix32(a: int) -> int:
    a = (a + 0x9E3779B9) & 0xFFFFFFFF
    z = a
    z = _imul(z ^ (z >> 16), 0x85EBCA6B)
    z = _imul(z ^ (z >> 13), 0xC2B2AE35)
    return (z ^ (z >> 16)) & 0xFFFFFFFF


# ----------------------------------------------------------------------------- quantizers


def quantize_counts(x: torch.Tensor, native_bits: int, kept_bits: int, rule: str = "floor") -> torch.Tensor:
    """Hard quantizer on native ADC counts (any shape, counts in [0, 2^native-1]) -> same shape, counts.

    floor: floor(x / 2^k) * 2^k with k = native_bits - kept_bits; midrise adds 2^(k-1) (removing floor's
    bias of (2^k - 1)/2 counts) and clamps to the native maximum.
    """
    k = native_bits - kept_bits
    if k < 0:
        raise ValueError(f"kept_bits {kept_bits} exceeds native_bits {native_bits}")
    if rule not in ("floor", "midrise"):
        raise ValueError(f"rule must be 'floor' or 'midrise', got {rule!r}")
    if k == 0:
        return x
    step = float(2**k)
    q = torch.floor(x / step) * step
    if rule == "midrise":
        q = torch.clamp(q + step / 2, max=float(2**native_bits - 1))
    return q


def quantize_counts_st(x: torch.Tensor, native_bits: int, kept_bits: int, rule: str = "floor") -> torch.Tensor:
    """Straight-through quantize_counts: forward quantizes, backward is the identity. Counts in, counts out."""
    return x + (quantize_counts(x, native_bits, kept_bits, rule) - x).detach()


def pixels_for_budget(budget: float, n: int) -> int:
    """round(budget * n) with halves rounded up, as JavaScript's Math.round (Python's round() goes to even)."""
    return int(math.floor(budget * n + 0.5))


def random_layout(rows: int, cols: int, budget: float, seed: int) -> torch.Tensor:
    """(rows, cols) float 0/1 layout with exactly round(budget * rows * cols) ones, seeded (the control).

    ctquant's randomLayout (src/quant/random.ts): a partial Fisher-Yates draw from Rng(seed), so the same seed gives
    the same layout in both tools."""
    n = rows * cols
    ones = pixels_for_budget(budget, n)
    index = list(range(n))
    rng = Rng(seed)
    layout = torch.zeros(n)
    for i in range(ones):
        j = i + rng.int(n - i)
        index[i], index[j] = index[j], index[i]
        layout[index[i]] = 1.0
    return layout.view(rows, cols)


def rescale_to_budget(p: torch.Tensor, budget: float) -> torch.Tensor:
    """LOUPE RescaleProbMap: probabilities in (0,1), any shape -> same shape with mean exactly `budget`."""
    mean = p.mean()
    safe_mean = mean.clamp(1e-7, 1 - 1e-7)
    down = p * (budget / safe_mean)
    up = 1 - (1 - p) * ((1 - budget) / (1 - safe_mean))
    return torch.where(mean > budget, down, up)  # no host sync: the branch is chosen on the device


def top_k_layout(scores: torch.Tensor, budget: float) -> torch.Tensor:
    """Hardware layout: (H, W) scores -> (H, W) 0/1 with exactly round(budget * n) ones at the highest scores,
    ties broken by the lower row-major index (a stable descending sort)."""
    flat = scores.detach().flatten().cpu()
    ones = pixels_for_budget(budget, flat.numel())
    order = torch.sort(flat, descending=True, stable=True).indices
    layout = torch.zeros_like(flat)
    layout[order[:ones]] = 1.0
    return layout.view(scores.shape).to(scores.device)


class QuantizationLayer(nn.Module):
    """Trainable per-pixel choice between native and `kept_bits` readout (LOUPE-style, relaxed Bernoulli).

    Input and output (B, 1, H, W) native ADC counts. One logit w per pixel; p = sigmoid(slope * w) rescaled to
    mean = budget; mask m ~ RelaxedBernoulli(p, temperature) from a seeded generator (deterministic training);
    output m * Q(x) + (1 - m) * x with Q straight-through. Modes: 'stochastic' (sampled mask), 'hardware'
    (top round(b*n) probabilities), 'expected' (m = p), 'fixed' (a given 0/1 layout, e.g. the random control)
    and 'all' (every pixel quantized).
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        native_bits: int,
        kept_bits: int,
        rule: str = "floor",
        budget: float = 0.5,
        slope: float = 5.0,
        temperature: float = 0.5,
        seed: int = 0,
        init: str = "small",
        init_scale: float = 0.05,
    ):
        super().__init__()
        if not 0 < budget < 1:
            raise ValueError(f"budget must be in (0, 1), got {budget}")
        if not 1 <= kept_bits < native_bits:
            raise ValueError(f"kept_bits must be in [1, native_bits), got {kept_bits} of {native_bits}")
        self.rows, self.cols = rows, cols
        self.native_bits, self.kept_bits, self.rule = native_bits, kept_bits, rule
        self.budget, self.slope, self.temperature = budget, slope, temperature
        self.mode = "stochastic"
        self.fixed_layout: torch.Tensor | None = None
        if init not in ("small", "loupe"):
            raise ValueError(f"init must be 'small' or 'loupe', got {init!r}")
        # ctquant's initialLogits (src/quant/layer.ts), drawn from its Rng(seed): the same start for the same seed.
        rng = Rng(seed)
        w = []
        for _ in range(rows * cols):
            if init == "small":  # ctquant's default: logits uniform in +-init_scale, so p is about 1/2 everywhere.
                w.append(rng.uniform(-init_scale, init_scale))
            else:  # LOUPE ProbMask: sigmoid(slope * w) starts uniform in (0.01, 0.99).
                p = rng.uniform(0.01, 0.99)
                w.append(math.log(p / (1 - p)) / slope)
        self.logits = nn.Parameter(torch.tensor(w, dtype=torch.float32).view(rows, cols))
        self.noise_seed = seed + 1
        self._noise: torch.Generator | None = None
        self._noise_key: tuple | None = None

    def set_temperature(self, t: float) -> None:
        self.temperature = t

    def probability_map(self) -> torch.Tensor:
        """(H, W) rescaled selection probabilities, mean = budget."""
        return rescale_to_budget(torch.sigmoid(self.slope * self.logits), self.budget)

    def hardware_layout(self) -> torch.Tensor:
        """(H, W) 0/1: exactly round(budget * H * W) quantized pixels, the highest probabilities.

        Ranked by logit (the rescaled p is monotone in it and it separates probabilities that round to 1), ties
        by lower row-major index, as ctquant's hardwareLayout()."""
        return top_k_layout(self.logits, self.budget)

    def _uniform(self, shape, device) -> torch.Tensor:
        # One seeded generator per device, created once ('cuda' and 'cuda:0' must not count as different).
        device = torch.device(device)
        key = (device.type, device.index if device.index is not None else
               (torch.cuda.current_device() if device.type == "cuda" else None))
        if self._noise is None or self._noise_key != key:
            self._noise = torch.Generator(device=device).manual_seed(self.noise_seed)
            self._noise_key = key
        return torch.rand(shape, generator=self._noise, device=device)

    def mask(self, batch: int, device) -> torch.Tensor:
        """(B or 1, 1, H, W) selection mask in [0, 1] for the current mode."""
        if self.mode == "all":
            return torch.ones(1, 1, self.rows, self.cols, device=device)
        if self.mode == "fixed":
            assert self.fixed_layout is not None, "mode 'fixed' needs fixed_layout"
            return self.fixed_layout.to(device).view(1, 1, self.rows, self.cols)
        p = self.probability_map().view(1, 1, self.rows, self.cols)
        if self.mode == "expected":
            return p
        if self.mode == "hardware":
            return self.hardware_layout().view(1, 1, self.rows, self.cols)
        if self.mode != "stochastic":
            raise ValueError(f"unknown mode {self.mode!r}")
        eps = 1e-6
        u = self._uniform((batch, 1, self.rows, self.cols), device).clamp(eps, 1 - eps)
        p = p.clamp(eps, 1 - eps)
        logit = torch.log(u) - torch.log(1 - u) + torch.log(p) - torch.log(1 - p)
        return torch.sigmoid(logit / self.temperature)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        m = self.mask(counts.shape[0], counts.device)
        q = quantize_counts_st(counts, self.native_bits, self.kept_bits, self.rule)
        return m * q + (1 - m) * counts


# ----------------------------------------------------------------------------- U-Net


def _glorot_(module: nn.Module) -> None:
    # tfjs layers default: glorotUniform kernels, zero biases.
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, norm: str):
        layers: list[nn.Module] = []
        for c in (cin, cout):
            layers.append(nn.Conv2d(c, cout, 3, padding=1))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(cout, eps=TFJS_BN_EPSILON, momentum=TFJS_BN_MOMENTUM))
            elif norm in ("group", "instance"):
                # Statistics per image over H*W and the channels of a group; gamma 1 / beta 0 per channel.
                layers.append(nn.GroupNorm(norm_groups(norm, cout), cout, eps=GROUP_NORM_EPSILON))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net: (B, 1, H, W) input normalised to [0, 1] -> (B, 1, H, W) lesion probabilities.

    `depth` poolings (H and W divisible by 2^depth); width base * 2^level; conv3x3 (same) - [norm] - ReLU x2 per
    level, max-pool 2, transposed conv 2x2 stride 2 up, skip concatenation [up, skip], 1x1 conv + sigmoid.
    norm: 'none', 'batch' (tfjs constants), 'group' (min(8, channels) groups, eps 1e-5) or 'instance'.
    output_prior: initial output probability, the head's bias starts at its logit (None: 0.5, bias 0).
    """

    def __init__(self, depth: int = 4, base: int = 16, norm: str = "none", seed: int = 0,
                 output_prior: float | None = None):
        super().__init__()
        if output_prior is not None and not 0 < output_prior < 1:
            raise ValueError(f"output_prior must be in (0, 1), got {output_prior}")
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global stream
            torch.manual_seed(seed)
            self._build(depth, base, norm)
        if output_prior is not None:
            with torch.no_grad():
                self.head.bias.fill_(math.log(output_prior / (1 - output_prior)))

    def _build(self, depth: int, base: int, norm: str) -> None:
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.depth, self.norm = depth, norm
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = 1
        for w in widths[:-1]:
            self.down.append(_DoubleConv(cin, w, norm))
            cin = w
        self.bottom = _DoubleConv(widths[-2] if depth else 1, widths[-1], norm)
        self.ups = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for level in reversed(range(depth)):
            self.ups.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.up_convs.append(_DoubleConv(2 * widths[level], widths[level], norm))
        self.head = nn.Conv2d(widths[0], 1, 1)
        _glorot_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, conv, skip in zip(self.ups, self.up_convs, reversed(skips)):
            x = conv(torch.cat([up(x), skip], dim=1))
        return torch.sigmoid(self.head(x))


class SegmentationModel(nn.Module):
    """Input stage (quantization layer or none) -> counts / (2^native - 1) -> U-Net.

    (B, 1, H, W) native counts -> (B, 1, H, W) probabilities.
    """

    def __init__(self, unet: UNet, native_bits: int, stage: QuantizationLayer | None = None):
        super().__init__()
        self.unet, self.stage, self.native_bits = unet, stage, native_bits

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        x = self.stage(counts) if self.stage is not None else counts
        return self.unet(x / float(2**self.native_bits - 1))


# ----------------------------------------------------------------------------- loss and metric


def soft_dice(y_true: torch.Tensor, y_pred: torch.Tensor, per_image: bool = True, eps: float = 1.0) -> torch.Tensor:
    """Continuous Dice of (B, 1, H, W) masks and probabilities -> scalar in [0, 1]: mean over images of
    (2 sum(y p) + eps) / (sum(y) + sum(p) + eps), or the same sums over the whole batch."""
    dims = (1, 2, 3) if per_image else (0, 1, 2, 3)
    inter = (y_true * y_pred).sum(dims)
    total = y_true.sum(dims) + y_pred.sum(dims)
    return ((2 * inter + eps) / (total + eps)).mean()


def binary_cross_entropy(y_true: torch.Tensor, y_pred: torch.Tensor, eps: float = TFJS_EPSILON) -> torch.Tensor:
    """Mean BCE of (B, 1, H, W) masks and probabilities (clipped to [eps, 1 - eps]) -> scalar, nats."""
    p = y_pred.clamp(eps, 1 - eps)
    return -(y_true * torch.log(p) + (1 - y_true) * torch.log(1 - p)).mean()


def dice_bce_loss(y_true: torch.Tensor, y_pred: torch.Tensor, per_image: bool = True) -> torch.Tensor:
    """(1 - soft Dice) + BCE of (B, 1, H, W) masks and probabilities -> scalar."""
    return (1 - soft_dice(y_true, y_pred, per_image)) + binary_cross_entropy(y_true, y_pred)


def make_adam(params, lr: float) -> torch.optim.Adam:
    """Adam with tfjs's constants (beta1 0.9, beta2 0.999, epsilon 1e-7). torch's update
    lr/c1 * m / (sqrt(v)/sqrt(c2) + eps) equals ctquant's lr*sqrt(c2)/c1 * m / (sqrt(v) + eps*sqrt(c2)) (src/train/adam.ts).
    `params` may be parameter groups with their own "lr_scale" (ctquant's rateScales: the layer's logits)."""
    if isinstance(params, (list, tuple)) and params and isinstance(params[0], dict):
        groups = [{**g, "lr_scale": g.get("lr_scale", 1.0)} for g in params]
    else:
        groups = [{"params": list(params), "lr_scale": 1.0}]
    for g in groups:
        g["lr"] = lr * g["lr_scale"]
    return torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=TFJS_EPSILON)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's rate for this step, times each group's lr_scale."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


def discrete_dice(truth, pred) -> float:
    """Dice of two binary arrays of one image, 2TP / (2TP + FP + FN); both empty -> 1."""
    tp = int((truth & pred).sum())
    fp = int((~truth & pred).sum())
    fn = int((truth & ~pred).sum())
    denom = 2 * tp + fp + fn
    return 1.0 if denom == 0 else 2 * tp / denom


def describe_device(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    return f"cpu ({torch.get_num_threads()} threads)"


__all__ = [
    "Rng",
    "NORMS",
    "norm_groups",
    "set_learning_rate",
    "quantize_counts",
    "quantize_counts_st",
    "pixels_for_budget",
    "random_layout",
    "rescale_to_budget",
    "top_k_layout",
    "QuantizationLayer",
    "UNet",
    "SegmentationModel",
    "soft_dice",
    "binary_cross_entropy",
    "dice_bce_loss",
    "make_adam",
    "discrete_dice",
    "describe_device",
]
