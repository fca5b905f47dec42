#!/usr/bin/env python3
"""Times one training step of ctquant's model in PyTorch: the reference for bench/step.ts.

One step = trainable quantization layer (stochastic mask) + U-Net + (1 - soft Dice) + BCE + Adam, fp32,
on synthetic input (random native counts, random blob masks). Prints ONE JSON line:
{"framework":"pytorch","version":..,"device":..,"size":..,"batch":..,"ms_median":..,"ms_p10":..,"ms_p90":..,"ms_pipelined":..,
 "peak_mem_mb":.., ...}. Errors go to stderr with exit status 2.

  python3 bench/torch_step.py --size 256 --batch 8 --steps 20 --warmup 5 --device cuda
  OMP_WAIT_POLICY=PASSIVE python3 bench/torch_step.py --size 64 --batch 4 --device cpu --threads 2

peak_mem_mb: on CUDA the peak of torch.cuda.max_memory_allocated (tensors only, no allocator cache or
context); on CPU the process's peak resident set size (ru_maxrss), which includes the interpreter and torch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# Before torch loads libgomp: busy-waiting OpenMP threads make CPU timings noisy on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))

import torch  # noqa: E402

from ctquant_ref import (  # noqa: E402
    QuantizationLayer,
    SegmentationModel,
    UNet,
    dice_bce_loss,
    make_adam,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="image side in pixels (divisible by 2^depth)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--base", type=int, default=16, help="U-Net base width")
    ap.add_argument("--depth", type=int, default=4, help="U-Net poolings")
    ap.add_argument("--norm", default="none", choices=["none", "batch", "group", "instance"],
                    help="group: the training recipe's (min(8, channels) groups), as ctquant_ref.UNet")
    ap.add_argument("--native-bits", type=int, default=8)
    ap.add_argument("--kept-bits", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0.5)
    ap.add_argument("--dice", default="per-image", choices=["per-image", "batch"])
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (default: strict fp32)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.size % (2**args.depth):
        ap.error(f"--size {args.size} must be divisible by 2^depth = {2**args.depth}")
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        ap.error("--steps and --batch must be >= 1, --warmup >= 0")
    return args


def synthetic_batch(size: int, batch: int, native_bits: int, seed: int, device: str):
    """(B,1,S,S) native counts and (B,1,S,S) 0/1 masks of a few random disks (about 2-5% lesion)."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, 2**native_bits, (batch, 1, size, size), generator=g).float()
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    masks = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        for _ in range(3):
            cy, cx = (torch.rand(2, generator=g) * size).tolist()
            r = (0.04 + 0.04 * torch.rand(1, generator=g).item()) * size
            masks[b, 0] = torch.maximum(masks[b, 0], (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).float())
    return counts.to(device), masks.to(device)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 1]) of an ascending list."""
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("torch_step: --device cuda but torch.cuda.is_available() is False "
              f"(torch {torch.__version__}, built with CUDA {torch.version.cuda})", file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest algorithms
    dev = args.device

    stage = QuantizationLayer(args.size, args.size, args.native_bits, args.kept_bits, budget=args.budget,
                              seed=args.seed)
    model = SegmentationModel(UNet(args.depth, args.base, args.norm, seed=args.seed), args.native_bits, stage)
    model.to(dev).train()
    optimizer = make_adam(model.parameters(), lr=1e-3)
    counts, masks = synthetic_batch(args.size, args.batch, args.native_bits, args.seed, dev)
    per_image = args.dice == "per-image"

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = dice_bce_loss(masks, model(counts), per_image)
        loss.backward()
        optimizer.step()
        return loss

    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(args.warmup):
        step()
    times_ms: list[float] = []
    for _ in range(args.steps):
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step()
        if dev == "cuda":
            torch.cuda.synchronize()
        times_ms.append((time.perf_counter() - t0) * 1000)
    # As the tfjs bench's msPipelined: steps queued back to back, one synchronisation at the end.
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if dev == "cuda":
        torch.cuda.synchronize()
    ms_pipelined = (time.perf_counter() - t0) * 1000 / args.steps
    final_loss = float(loss)
    if final_loss != final_loss:
        print("torch_step: loss is NaN", file=sys.stderr)
        return 1

    times_ms.sort()
    if dev == "cuda":
        device_name = torch.cuda.get_device_name(0)
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        import platform

        device_name = f"cpu {platform.machine()}"
        peak_mb = peak_rss_mb()
    result = {
        "framework": "pytorch",
        "version": torch.__version__,
        "device": device_name,
        "size": args.size,
        "batch": args.batch,
        "ms_median": round(statistics.median(times_ms), 3),
        "ms_pipelined": round(ms_pipelined, 3),
        "ms_p10": round(percentile(times_ms, 0.10), 3),
        "ms_p90": round(percentile(times_ms, 0.90), 3),
        "peak_mem_mb": round(peak_mb, 1),
        "peak_mem_kind": "cuda_max_allocated" if dev == "cuda" else "process_max_rss",
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads() if dev == "cpu" else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "base": args.base,
        "depth": args.depth,
        "norm": args.norm,
        "dtype": "float32" + ("+tf32" if dev == "cuda" and args.tf32 else ""),
        "cuda": torch.version.cuda if dev == "cuda" else None,
        "final_loss": round(final_loss, 5),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
