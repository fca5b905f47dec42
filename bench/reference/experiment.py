#!/usr/bin/env python3
"""ctquant's experiment in PyTorch, for agreement with a reference (issue 7).

Reads a PNG folder dataset (ct/NNNN.png + covid/NNNN.png, 8- or 16-bit, optional volumes.json), resizes it
(area for images, nearest for masks), splits it by volume, trains the requested setups with Adam and
evaluates discrete Dice per test image. Writes the full result (RunResult-shaped runs, as
src/runs/types.ts) to --out and prints one JSON summary line on stdout; progress goes to stderr.

  /usr/bin/python3 bench/reference/experiment.py --data ../shared/data/covid-ct-20 --preset covid-ct-20 \
      --size 64 --epochs 12 --setups baseline,random,learned --budgets 0.5 --bits 1 --out out/torch.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctquant_ref import (  # noqa: E402
    NORMS,
    QuantizationLayer,
    Rng,
    SegmentationModel,
    UNet,
    dice_bce_loss,
    make_adam,
    quantize_counts,
    random_layout,
    set_learning_rate,
)

SETUPS = ("baseline", "all-pixels-baseline", "all-pixels-retrained", "random", "learned")

# covid-ct-20 (/work/shared/data/covid-ct-20/README.md): approximate volume start indices and the
# suggested held-out test slices (whole volumes).
PRESETS = {
    "covid-ct-20": {
        "volume_starts": [0, 159, 279, 397, 510, 626, 696, 789, 970, 1081, 1247, 1258, 1376, 1443, 1474, 1486,
                          1511, 1565, 1587],
        "test_ranges": "159-278,696-788,1258-1375,1511-1564",
        "native_bits": 8,
    }
}


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data


def read_png(path: str) -> tuple[np.ndarray, int]:
    """A grayscale PNG -> (H, W) float32 values and its bit depth (8 or 16)."""
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                return arr.astype(np.float32), 16
            if mode == "L":
                return np.asarray(im, dtype=np.float32), 8
            if mode in ("LA", "RGB", "RGBA", "P", "1"):
                return np.asarray(im.convert("L"), dtype=np.float32), 8
            raise UserError(f"{path}: unsupported PNG mode {mode}")
    except (OSError, SyntaxError) as e:
        raise UserError(f"{path}: not a readable PNG ({e})") from e


def volume_name(k: int, count: int) -> str:
    """Volume k of a starts list: v00, v01, ... (src/data/volumes.ts startsVolumeName)."""
    return "v" + str(k).zfill(max(2, len(str(count - 1))))


def volume_ids_from_starts(starts: list[int], n: int) -> list[str]:
    """Slice index -> volume id from increasing volume start indices beginning at 0."""
    starts = [int(s) for s in starts]
    if not starts or starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
        raise UserError(f"volume starts must be increasing non-negative integers beginning at 0, got {starts}")
    out, k = [], 0
    for i in range(n):
        while k + 1 < len(starts) and starts[k + 1] <= i:
            k += 1
        out.append(volume_name(k, len(starts)))
    return out


def assign_volumes(root: str, stems: list[str], volume_starts: list[int] | None) -> tuple[list[str], str, int | None]:
    """Volume ids of the sorted stems, by ctquant's rules (src/data/volumes.ts), first that applies:
    1. explicit starts (--volume-starts or a --preset); 2. volumes.json {"volumes": {stem: id}} or {"starts": [..]}
    (or a bare list of starts), optionally with "nativeBits"; 3. volumes.csv "file,volume"; 4. names
    <volume>_<slice> (part before the last '_'); 5. each slice its own volume. Returns (ids, rule, nativeBits)."""
    if volume_starts is not None:
        return volume_ids_from_starts(volume_starts, len(stems)), f"volume starts {volume_starts}", None
    native_bits = None
    jpath = os.path.join(root, "volumes.json")
    if os.path.exists(jpath):
        try:
            with open(jpath) as f:
                doc = json.load(f)
        except ValueError as e:
            raise UserError(f"{jpath}: not valid JSON ({e})") from e
        if isinstance(doc, list):
            doc = {"starts": doc}
        if not isinstance(doc, dict):
            raise UserError(f'{jpath}: expected an object with "volumes" or "starts"')
        native_bits = doc.get("nativeBits")
        if isinstance(doc.get("volumes"), dict):
            mapping = doc["volumes"]
            missing = [s for s in stems if s not in mapping]
            if missing:
                raise UserError(f'{jpath}: no volume id for slice "{missing[0]}"')
            return [str(mapping[s]) for s in stems], f"volume map in {jpath}", native_bits
        if isinstance(doc.get("starts"), list):
            return volume_ids_from_starts(doc["starts"], len(stems)), f"volume starts in {jpath}", native_bits
    cpath = os.path.join(root, "volumes.csv")
    if os.path.exists(cpath):
        with open(cpath) as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        if not lines or [h.strip().lower() for h in lines[0].split(",")[:2]] != ["file", "volume"]:
            raise UserError(f'{cpath}: expected a header line "file,volume"')
        mapping = {}
        for ln in lines[1:]:
            file, vol = (p.strip() for p in (ln.split(",") + [""])[:2])
            mapping[os.path.splitext(file)[0]] = vol
        missing = [s for s in stems if s not in mapping]
        if missing:
            raise UserError(f'{cpath}: no volume id for slice "{missing[0]}"')
        return [mapping[s] for s in stems], f"volume map in {cpath}", native_bits
    if stems and all(s.rfind("_") > 0 for s in stems):
        return [s[:s.rfind("_")] for s in stems], "file name prefix <volume>_<slice>", native_bits
    log("warning: no volume information: each slice is its own volume")
    return list(stems), "none found: each slice is its own volume", native_bits


def load_folder(root: str, image_dir: str, mask_dir: str, preset: str | None, volume_starts: str | None,
                limit: int | None) -> dict:
    """A PNG folder -> dict(images (N,H,W) float32 native counts, masks (N,H,W) uint8, names, volumes, native_bits)."""
    idir, mdir = os.path.join(root, image_dir), os.path.join(root, mask_dir)
    if not os.path.isdir(idir) or not os.path.isdir(mdir):
        raise UserError(f"{root}: needs sub-folders {image_dir}/ and {mask_dir}/")
    names = sorted(n for n in os.listdir(idir) if n.lower().endswith(".png"))
    if not names:
        raise UserError(f"{idir}: no PNG files")
    missing = [n for n in names if not os.path.exists(os.path.join(mdir, n))]
    if missing:
        raise UserError(f"{os.path.join(mdir, missing[0])}: mask missing for image {missing[0]}")
    stems = [os.path.splitext(n)[0] for n in names]
    starts = [int(v) for v in volume_starts.split(",")] if volume_starts else (
        PRESETS[preset]["volume_starts"] if preset else None)
    volumes, volume_rule, json_bits = assign_volumes(root, stems, starts)
    indices = list(range(len(names)))
    if limit:  # keep whole volumes' order; evenly spaced slices
        indices = sorted(set(np.linspace(0, len(names) - 1, limit).round().astype(int).tolist()))
    images, masks, depth = [], [], 0
    shape = None
    for i in indices:
        img, bits = read_png(os.path.join(idir, names[i]))
        msk, _ = read_png(os.path.join(mdir, names[i]))
        if img.shape != msk.shape:
            raise UserError(f"{os.path.join(mdir, names[i])}: size {msk.shape} differs from its image {img.shape}")
        if shape is None:
            shape = img.shape
        elif img.shape != shape:
            raise UserError(f"{os.path.join(idir, names[i])}: size {img.shape} differs from {shape}")
        depth = max(depth, bits)
        images.append(img)
        masks.append((msk > 0).astype(np.uint8))
    native_bits = json_bits or depth
    top = max(float(im.max()) for im in images)
    if top > 2**native_bits - 1:
        raise UserError(f"{root}: image values reach {top:g}, more than {native_bits}-bit native depth allows")
    return {
        "images": np.stack(images), "masks": np.stack(masks), "names": [names[i] for i in indices],
        "volumes": [volumes[i] for i in indices], "indices": indices, "native_bits": native_bits, "source": root,
        "volume_rule": volume_rule,
    }


def resize(ds: dict, size: int) -> dict:
    """Area filter for images (mean over source pixels), nearest for masks; square size x size."""
    imgs = torch.from_numpy(ds["images"]).unsqueeze(1)
    msks = torch.from_numpy(ds["masks"]).unsqueeze(1).float()
    if imgs.shape[-1] != size or imgs.shape[-2] != size:
        imgs = F.interpolate(imgs, size=(size, size), mode="area")
        msks = F.interpolate(msks, size=(size, size), mode="nearest")
    return {**ds, "images": imgs.numpy()[:, 0], "masks": (msks.numpy()[:, 0] > 0.5).astype(np.uint8)}


def parse_ranges(text: str) -> list[int]:
    """'159-278,696-788,5' -> slice indices (inclusive ranges)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"--test-volumes: '{part}' is not an index or a range a-b")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        out.extend(range(a, b + 1))
    return out


def volume_counts(vols: list[str]) -> dict[str, int]:
    """Volume id -> slice count, in first-appearance order (src/data/split.ts volumeCounts)."""
    counts: dict[str, int] = {}
    for v in vols:
        counts[v] = counts.get(v, 0) + 1
    return counts


def split_by_volume(vols: list[str], test, seed: int) -> set[str]:
    """ctquant's splitByVolume (src/data/split.ts): the held-out volume ids of slices with volume ids `vols`.

    A fraction: volumes sorted, shuffled with Rng(seed), taken while that brings the held-out slice count closer to
    fraction * slices (at least one, and one volume always kept back). A list: exactly those volumes."""
    counts = volume_counts(vols)
    ids = list(counts)
    if not isinstance(test, (int, float)):
        unknown = [v for v in test if v not in counts]
        if unknown:
            raise UserError(f"unknown test volume id(s): {', '.join(unknown)} (dataset has {', '.join(ids[:8])}"
                            f"{', ...' if len(ids) > 8 else ''})")
        return set(test)
    if not 0 <= test <= 1:
        raise UserError(f"test fraction must be in [0, 1], got {test}")
    order = Rng(seed).shuffle(sorted(ids))
    target = test * len(vols)
    held: set[str] = set()
    taken = 0
    for v in order:
        c = counts[v]
        better = abs(taken + c - target) < abs(taken - target)
        must_take_one = not held and test > 0 and len(ids) > 1
        if better or must_take_one:
            if len(held) + 1 == len(ids) and test < 1:
                break  # keep one volume for training
            held.add(v)
            taken += c
    return held


def split(ds: dict, test_spec: str | None, test_fraction: float, val_fraction: float, seed: int) -> dict:
    """Slice positions for train / val / test, by volume (a volume is never on two sides), as ctquant's
    prepareData (src/experiments/data.ts): the test volumes are `test_spec` (volume ids, or slice index ranges
    a-b whose volumes are taken) or a seeded share (Rng(seed)); validation is a share of the remaining volumes
    drawn with Rng(seed + 1). The same data, seed and flags give ctquant's split exactly."""
    vols = ds["volumes"]
    if test_spec:
        tokens = [t.strip() for t in re.split(r"[,\s]+", test_spec) if t.strip()]
        if all(re.fullmatch(r"\d+(-\d+)?", t) for t in tokens) and not all(t in set(vols) for t in tokens):
            wanted = set(parse_ranges(",".join(tokens)))
            test_vols = {v for v, idx in zip(vols, ds["indices"]) if idx in wanted}
            if not test_vols:
                raise UserError("--test-volumes selects no slice of the (possibly subset) dataset")
        else:
            test_vols = split_by_volume(vols, tokens, seed)
    else:
        if len(volume_counts(vols)) < 2:
            raise UserError("cannot split fewer than 2 volumes into two parts (give the data volume ids)")
        test_vols = split_by_volume(vols, test_fraction, seed)
    rest = [v for v in vols if v not in test_vols]
    if not rest:
        raise UserError("the split leaves no training volume")
    val_vols: set[str] = set()
    if val_fraction > 0:
        if len(volume_counts(rest)) < 2:
            raise UserError("cannot split fewer than 2 training volumes into train and validation")
        val_vols = split_by_volume(rest, val_fraction, seed + 1)
    pos = {"train": [], "val": [], "test": []}
    for i, v in enumerate(vols):
        pos["test" if v in test_vols else "val" if v in val_vols else "train"].append(i)
    return {**pos, "test_volumes": sorted(test_vols), "val_volumes": sorted(val_vols)}


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """ctquant's epochOrder (src/train/batches.ts): the slice order of one epoch, a function of (seed, epoch)."""
    return Rng((seed * 1_000_003 + epoch * 7919 + 17) % 2**32).shuffle(list(range(n)))


def cap(positions: list[int], limit: int | None) -> list[int]:
    if not limit or len(positions) <= limit:
        return positions
    pick = np.linspace(0, len(positions) - 1, limit).round().astype(int)
    return [positions[i] for i in sorted(set(pick.tolist()))]


# ----------------------------------------------------------------------------- training


def lr_at(args, step: int, total: int, warmup_steps: int) -> float:
    """Warm-up from lr/10 to lr, constant, then linear (or step) decay to floor*lr (src/train/schedule.ts).
    The U-Net's rate; the layer's logits get it times layer_lr / lr (src/train/trainer.ts)."""
    base = args.lr
    if warmup_steps > 0 and step < warmup_steps:
        return base * (0.1 + 0.9 * step / warmup_steps)
    decay_start = js_round(args.decay_start * total)
    if args.decay == "none" or step < decay_start or total <= decay_start:
        return base
    if args.decay == "step":
        return base * args.decay_floor
    t = min(1.0, (step - decay_start) / max(1, total - 1 - decay_start))
    return base * (1 - (1 - args.decay_floor) * t)


def js_round(x: float) -> int:
    """Math.round: halves go up (Python's round() goes to even)."""
    return int(math.floor(x + 0.5))


def temperature_at(start: float, end: float, step: int, total: int) -> float:
    """Geometric annealing from start to end over training (src/train/schedule.ts)."""
    if total <= 1:
        return end
    return start * (end / start) ** min(1.0, step / (total - 1))


def predict(model, images: torch.Tensor, batch: int, device: str) -> torch.Tensor:
    """(N,1,H,W) counts -> (N,1,H,W) bool predictions (probability > 0.5)."""
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, images.shape[0], batch):
            outs.append(model(images[i:i + batch].to(device)).cpu() > 0.5)  # tf.step(p - 0.5), as ctquant
    return torch.cat(outs)


def dice_summary(pred: torch.Tensor, truth: torch.Tensor) -> dict:
    """Discrete Dice per image 2TP/(2TP+FP+FN), empty mask + empty prediction = 1; pooled; empty-prediction share."""
    p = pred.flatten(1)
    t = truth.flatten(1).bool()
    tp = (p & t).sum(1).double()
    fp = (p & ~t).sum(1).double()
    fn = (~p & t).sum(1).double()
    denom = 2 * tp + fp + fn
    per = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones_like(denom))
    pooled_denom = float(denom.sum())
    return {
        "perImage": [round(float(v), 6) for v in per],
        "mean": float(per.mean()),
        "pooled": 1.0 if pooled_denom == 0 else float(2 * tp.sum() / pooled_denom),
        "emptyPredictionShare": float((p.sum(1) == 0).double().mean()),
    }


def train(model: SegmentationModel, data: dict, pos: dict, epochs: int, args, seed: int, learned: bool) -> list:
    dev = args.device
    x_train = data["x"][pos["train"]]
    y_train = data["y"][pos["train"]]
    n = x_train.shape[0]
    # As src/train/batches.ts: the last partial batch is dropped when one full batch exists.
    steps_per_epoch = n // args.batch if n >= args.batch else 1
    total = steps_per_epoch * epochs
    warmup_steps = js_round(args.warmup_epochs * steps_per_epoch)
    layer_params = list(model.stage.parameters()) if learned else []
    layer_ids = {id(p) for p in layer_params}
    groups = [{"params": [p for p in model.parameters() if id(p) not in layer_ids], "lr_scale": 1.0}]
    if layer_params:
        groups.append({"params": layer_params, "lr_scale": args.layer_lr / args.lr})
    optimizer = make_adam(groups, args.lr)
    history, step = [], 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.tensor(epoch_order(n, seed, epoch))  # the same batches as ctquant for the same seed
        loss_sum, lr, temp = 0.0, args.lr, None
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            lr = lr_at(args, step, total, warmup_steps)
            set_learning_rate(optimizer, lr)
            if learned:
                temp = temperature_at(args.temperature_start, args.temperature_end, step, total)
                model.stage.set_temperature(temp)
            optimizer.zero_grad(set_to_none=True)
            loss = dice_bce_loss(y_train[idx].to(dev), model(x_train[idx].to(dev)), args.dice == "per-image")
            loss.backward()
            optimizer.step()
            loss_sum += float(loss)
            step += 1
        rec = {"epoch": epoch + 1, "loss": loss_sum / steps_per_epoch, "learningRate": lr}
        if temp is not None:
            rec["temperature"] = temp
        if pos["val"]:
            rec["valDice"] = evaluate(model, data, pos["val"], args, "hardware" if learned else None)["mean"]
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        log(f"  epoch {epoch + 1}/{epochs} loss {rec['loss']:.4f}" +
            (f" val Dice {rec['valDice']:.3f}" if "valDice" in rec else "") + f" ({rec['seconds']:.1f} s)")
    return history


def evaluate(model: SegmentationModel, data: dict, positions: list[int], args, mode: str | None,
             noise_seed: int | None = None) -> dict:
    stage = model.stage
    before = stage.mode if stage is not None else None
    if stage is not None and mode is not None:
        stage.mode = mode
        if mode == "stochastic" and noise_seed is not None:
            stage.noise_seed, stage._noise = noise_seed, None  # the same masks on every evaluation
    pred = predict(model, data["x"][positions], args.batch, args.device)
    if stage is not None:
        stage.mode = before  # 'all' and 'fixed' stages keep their mode; a learned layer goes back to training's
    return dice_summary(pred, data["y"][positions])


def collapse_check(model, data, pos, args, mode, min_dice: float = 0.02) -> tuple[bool, str | None]:
    """Collapsed (src/train/evaluate.ts collapseReason): on validation (test when there is none), every
    prediction is empty, or pooled Dice < min_dice although some images have lesions."""
    positions = pos["val"] or pos["test"]
    with_lesion = int((data["y"][positions].flatten(1).sum(1) > 0).sum())
    if with_lesion == 0:
        return False, None
    s = evaluate(model, data, positions, args, mode)
    if s["emptyPredictionShare"] == 1.0:
        return True, "every prediction is empty (all background)"
    if s["pooled"] < min_dice:
        return True, f"Dice {s['pooled']:.3f} < {min_dice} although {with_lesion} images have lesions"
    return False, None


def make_model(args, native_bits: int, seed: int, stage=None) -> SegmentationModel:
    unet = UNet(args.depth, args.base, args.norm, seed=seed, output_prior=args.output_prior)
    return SegmentationModel(unet, native_bits, stage).to(args.device)


def run_all(args) -> dict:
    preset = PRESETS.get(args.preset) if args.preset else None
    ds = load_folder(args.data, args.image_dir, args.mask_dir, args.preset, args.volume_starts, args.limit)
    native_bits = args.native_bits or ds["native_bits"]
    ds = resize(ds, args.size)
    test_ranges = args.test_volumes or (preset["test_ranges"] if preset and not args.random_split else None)
    pos = split(ds, test_ranges, args.test_fraction, args.val_fraction,
                args.seed if args.split_seed is None else args.split_seed)
    pos["train"] = cap(pos["train"], args.max_train)
    pos["val"] = cap(pos["val"], args.max_val)
    pos["test"] = cap(pos["test"], args.max_test)
    log(f"data {args.data}: {len(ds['names'])} slices, {native_bits}-bit, {args.size}x{args.size}; "
        f"train {len(pos['train'])} / val {len(pos['val'])} / test {len(pos['test'])} slices; "
        f"test volumes {pos['test_volumes']}")
    data = {"x": torch.from_numpy(ds["images"]).unsqueeze(1).float(),
            "y": torch.from_numpy(ds["masks"]).unsqueeze(1).float()}
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for s in setups:
        if s not in SETUPS:
            raise UserError(f"--setups: unknown setup '{s}' (known: {', '.join(SETUPS)})")
    bits = [int(b) for b in args.bits.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    for k in bits:
        if not 1 <= k < native_bits:
            raise UserError(f"--bits: {k} must be in [1, {native_bits - 1}] for {native_bits}-bit data")
    for b in budgets:
        if not 0 < b < 1:
            raise UserError(f"--budgets: {b} must be in (0, 1)")
    backend = f"pytorch-{args.device}"
    runs = []

    def result(id_, setup, seed, dice, history, secs, bpp, **extra):
        r = {"id": id_, "setup": setup, "seed": seed, "bitsPerPixel": bpp, "nativeBits": native_bits, "dice": dice,
             "collapsed": False, "history": history, "rows": args.size, "cols": args.size,
             "trainSeconds": round(secs, 3), "backend": backend}
        r.update({k: v for k, v in extra.items() if v is not None})
        log(f"{id_}: Dice {dice['mean']:.4f}" +
            (f" (stochastic {r['diceStochastic']['mean']:.4f})" if "diceStochastic" in r else ""))
        return r

    for seed in range(args.seed, args.seed + args.seeds):
        baseline_model = None
        if "baseline" in setups or "all-pixels-baseline" in setups:
            log(f"baseline, seed {seed}")
            t0 = time.perf_counter()
            model = make_model(args, native_bits, seed)
            hist = train(model, data, pos, args.baseline_epochs, args, seed, False)
            secs = time.perf_counter() - t0
            collapsed, why = collapse_check(model, data, pos, args, None)
            r = result(f"baseline-s{seed}", "baseline", seed, evaluate(model, data, pos["test"], args, None), hist,
                       secs, native_bits)
            r["collapsed"], r["collapseReason"] = collapsed, why
            if "baseline" in setups:
                runs.append(r)
            baseline_model, baseline_collapse = model, (collapsed, why)
        for k in bits:
            if "all-pixels-baseline" in setups:
                stage = QuantizationLayer(args.size, args.size, native_bits, k, args.rule, budget=0.5, seed=seed)
                stage.mode = "all"
                baseline_model.stage = stage
                r = result(f"all-pixels-baseline-k{k}-s{seed}", "all-pixels-baseline", seed,
                           evaluate(baseline_model, data, pos["test"], args, None), [], 0.0, k, keptBits=k)
                r["collapsed"], r["collapseReason"] = baseline_collapse  # as ctquant: the baseline's state
                baseline_model.stage = None
                runs.append(r)
            if "all-pixels-retrained" in setups:
                log(f"all-pixels-retrained k={k}, seed {seed}")
                stage = QuantizationLayer(args.size, args.size, native_bits, k, args.rule, budget=0.5, seed=seed)
                stage.mode = "all"
                t0 = time.perf_counter()
                model = make_model(args, native_bits, seed, stage)
                hist = train(model, data, pos, args.baseline_epochs, args, seed, False)
                secs = time.perf_counter() - t0
                collapsed, why = collapse_check(model, data, pos, args, None)
                r = result(f"all-pixels-retrained-k{k}-s{seed}", "all-pixels-retrained", seed,
                           evaluate(model, data, pos["test"], args, None), hist, secs, k, keptBits=k)
                r["collapsed"], r["collapseReason"] = collapsed, why
                runs.append(r)
            for b in budgets:
                bpp = b * k + (1 - b) * native_bits
                if "random" in setups:
                    log(f"random k={k} b={b}, seed {seed}")
                    stage = QuantizationLayer(args.size, args.size, native_bits, k, args.rule, budget=b, seed=seed)
                    stage.mode = "fixed"
                    stage.fixed_layout = random_layout(args.size, args.size, b, seed * 7919 + 1)
                    t0 = time.perf_counter()
                    model = make_model(args, native_bits, seed, stage)
                    # As ctquant (src/experiments/run-point.ts): the control trains as long as the learned layer.
                    hist = train(model, data, pos, args.epochs, args, seed, False)
                    secs = time.perf_counter() - t0
                    collapsed, why = collapse_check(model, data, pos, args, None)
                    r = result(f"random-k{k}-b{b}-s{seed}", "random", seed,
                               evaluate(model, data, pos["test"], args, None), hist, secs, bpp, keptBits=k, budget=b,
                               hardwareLayout=[int(v) for v in stage.fixed_layout.flatten().tolist()])
                    r["collapsed"], r["collapseReason"] = collapsed, why
                    runs.append(r)
                if "learned" in setups:
                    log(f"learned k={k} b={b}, seed {seed}")
                    stage = QuantizationLayer(args.size, args.size, native_bits, k, args.rule, budget=b,
                                              slope=args.slope, temperature=args.temperature_start,
                                              seed=seed * 104729 + 3, init=args.logit_init)
                    t0 = time.perf_counter()
                    model = make_model(args, native_bits, seed, stage)
                    hist = train(model, data, pos, args.epochs, args, seed, True)
                    secs = time.perf_counter() - t0
                    collapsed, why = collapse_check(model, data, pos, args, "hardware")
                    hw = evaluate(model, data, pos["test"], args, "hardware")
                    sto = evaluate(model, data, pos["test"], args, "stochastic", noise_seed=seed + 7919)
                    with torch.no_grad():
                        pmap = stage.probability_map().flatten().cpu().tolist()
                        layout = stage.hardware_layout().flatten().cpu().tolist()
                    r = result(f"learned-k{k}-b{b}-s{seed}", "learned", seed, hw, hist, secs, bpp, keptBits=k,
                               budget=b, diceStochastic=sto, probabilityMap=[round(v, 6) for v in pmap],
                               hardwareLayout=[int(v) for v in layout])
                    r["collapsed"], r["collapseReason"] = collapsed, why
                    runs.append(r)
    for r in runs:
        if r.get("collapseReason") is None:
            r.pop("collapseReason", None)
    return {
        "framework": "pytorch",
        "version": torch.__version__,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "config": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "data": {"source": ds["source"], "volumeRule": ds["volume_rule"], "slices": len(ds["names"]),
                 "nativeBits": native_bits, "size": args.size,
                 "train": len(pos["train"]), "val": len(pos["val"]), "test": len(pos["test"]),
                 "testVolumes": pos["test_volumes"], "valVolumes": pos["val_volumes"],
                 "testNames": [ds["names"][i] for i in pos["test"]]},
        "runs": runs,
    }


def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def defaults_from_files(config_path: str | None, profile_path: str | None) -> dict:
    """argparse defaults from a ctquant experiment config (schemas/experiment-config.schema.json) and a detector
    profile (detector-profiles/*.json), so both tools run the same recipe; explicit flags still win."""
    out: dict = {}
    if config_path:
        with open(config_path) as f:
            c = json.load(f)
        flat = {"size": "size", "epochs": "epochs", "baselineEpochs": "baseline_epochs", "batchSize": "batch",
                "learningRate": "lr", "layerLearningRate": "layer_lr", "decayStart": "decay_start",
                "decayFloor": "decay_floor",
                "warmupEpochs": "warmup_epochs", "slope": "slope", "seed": "seed", "seeds": "seeds",
                "testFraction": "test_fraction", "validationFraction": "val_fraction"}
        out.update({dest: c[key] for key, dest in flat.items() if key in c})
        if "epochs" in c and "baselineEpochs" not in c:  # resolveConfig (src/config/experiment-config.ts)
            out["baseline_epochs"] = c["epochs"]
        unet = c.get("unet", {})
        out.update({dest: unet[key] for key, dest in
                    {"depth": "depth", "baseFilters": "base", "normalization": "norm",
                     "outputPrior": "output_prior"}.items() if key in unet})
        if "dice" in c:
            out["dice"] = {"perImage": "per-image", "batch": "batch"}[c["dice"]]
        temp = c.get("temperature", {})
        out.update({f"temperature_{k}": temp[k] for k in ("start", "end") if k in temp})
    if profile_path:
        with open(profile_path) as f:
            p = json.load(f)
        adc, budget = p.get("adc", {}), p.get("budget", {})
        if "nativeBits" in adc:
            out["native_bits"] = adc["nativeBits"]
        if adc.get("modes"):
            out["bits"] = str(min(adc["modes"]))
        if "quantizer" in adc:
            out["rule"] = adc["quantizer"]
        if "fraction" in budget:
            out["budgets"] = str(budget["fraction"])
    return out


def config_of(args: argparse.Namespace) -> dict:
    """The recipe of parsed args in the shape of ctquant's ExperimentConfig (src/config/experiment-config.ts), so it can be
    compared with DEFAULT_CONFIG or a config file (bench/reference/agree.py does)."""
    return {
        "size": args.size, "epochs": args.epochs, "baselineEpochs": args.baseline_epochs, "batchSize": args.batch,
        "learningRate": args.lr, "layerLearningRate": args.layer_lr, "decayStart": args.decay_start,
        "decayFloor": args.decay_floor, "warmupEpochs": args.warmup_epochs,
        "unet": {"depth": args.depth, "baseFilters": args.base, "normalization": args.norm,
                 "outputPrior": args.output_prior},
        "dice": {"per-image": "perImage", "batch": "batch"}[args.dice], "slope": args.slope,
        "temperature": {"start": args.temperature_start, "end": args.temperature_end},
        "seed": args.seed, "seeds": args.seeds, "testFraction": args.test_fraction,
        "validationFraction": args.val_fraction,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="ctquant's experiment in PyTorch (reference). Defaults: ctquant's "
                                 "DEFAULT_CONFIG (src/config/experiment-config.ts).", allow_abbrev=False)
    ap.add_argument("--config", help="ctquant experiment config JSON: its values become the defaults")
    ap.add_argument("--profile", help="ctquant detector profile JSON: native bits, lowest mode, rule, budget")
    ap.add_argument("--data", required=True, help="PNG folder with ct/ and covid/ (and optional volumes.json)")
    ap.add_argument("--image-dir", default="ct")
    ap.add_argument("--mask-dir", default="covid")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="built-in volume starts and test volumes")
    ap.add_argument("--volume-starts", help="comma-separated slice indices where volumes start")
    ap.add_argument("--test-volumes", help="test volumes: ids (as ctquant's --test-volumes, comma- or space-separated) "
                    "or slice index ranges whose volumes are taken, e.g. 159-278,696-788")
    ap.add_argument("--random-split", action="store_true", help="with --preset: seeded volume split, not its test set")
    ap.add_argument("--test-fraction", type=float, default=0.25, help="share of volumes held out (seeded split)")
    ap.add_argument("--val-fraction", type=float, default=0.15, help="share of training volumes for validation")
    ap.add_argument("--split-seed", type=int, help="seed of the volume split (default --seed, as ctquant)")
    ap.add_argument("--limit", type=int, help="load only this many evenly spaced slices (smoke runs)")
    ap.add_argument("--max-train", type=int)
    ap.add_argument("--max-val", type=int)
    ap.add_argument("--max-test", type=int)
    ap.add_argument("--native-bits", type=int, help="override the PNG bit depth")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=16, help="epochs of learned and random (the joint schedule)")
    ap.add_argument("--baseline-epochs", type=int, default=8,
                    help="epochs of baseline / all-pixels-retrained (default 8; --epochs alone sets both, as ctquant)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam rate of the U-Net")
    ap.add_argument("--layer-lr", type=float, default=3e-3, help="Adam rate of the quantization layer's logits")
    ap.add_argument("--decay", choices=["linear", "step", "none"], default="linear")
    ap.add_argument("--decay-start", type=float, default=0.75, help="fraction of training after which lr decays")
    ap.add_argument("--decay-floor", type=float, default=0.1, help="final lr as a fraction of --lr")
    ap.add_argument("--warmup-epochs", type=float, default=1.0, help="linear lr warm-up from lr/10, in epochs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3, help="trainings per configuration (seeds seed..seed+n-1)")
    ap.add_argument("--setups", default="baseline,random,learned", help=",".join(SETUPS))
    ap.add_argument("--budgets", default="0.5", help="fractions of pixels quantized, comma-separated")
    ap.add_argument("--bits", default="1", help="kept bits of the reduced mode, comma-separated")
    ap.add_argument("--rule", choices=["floor", "midrise"], default="floor")
    ap.add_argument("--dice", choices=["per-image", "batch"], default="per-image", help="Dice of the loss")
    ap.add_argument("--norm", choices=list(NORMS), default="group")
    ap.add_argument("--output-prior", type=float, default=0.02,
                    help="initial output probability: the head's bias starts at its logit (0.5: bias 0)")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--base", type=int, default=8)
    ap.add_argument("--slope", type=float, default=5.0)
    ap.add_argument("--temperature-start", type=float, default=1.0)
    ap.add_argument("--temperature-end", type=float, default=0.1)
    ap.add_argument("--logit-init", choices=["small", "loupe"], default="small")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", help="write the full JSON here")
    first = ap.parse_args(argv)
    if first.config or first.profile:
        try:
            ap.set_defaults(**defaults_from_files(first.config, first.profile))
        except (OSError, ValueError, KeyError) as e:
            ap.error(f"--config/--profile: {e}")
    args = ap.parse_args(argv)
    given = {a.split("=")[0] for a in argv if a.startswith("--")}
    if "--epochs" in given and "--baseline-epochs" not in given:
        args.baseline_epochs = args.epochs  # ctquant's --epochs sets epochs and baselineEpochs
    if not 0 < args.output_prior < 1:
        ap.error(f"--output-prior must be in (0, 1), got {args.output_prior}")
    if args.size % (2**args.depth):
        ap.error(f"--size {args.size} must be divisible by 2^depth = {2**args.depth}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        log("experiment: --device cuda but CUDA is not available")
        return 2
    t0 = time.perf_counter()
    try:
        out = run_all(args)
    except UserError as e:
        log(f"error: {e}")
        return 2
    out["seconds"] = round(time.perf_counter() - t0, 2)
    if args.out:
        write_atomic(args.out, json.dumps(out))
    summary = {"framework": "pytorch", "seconds": out["seconds"], "data": {k: out["data"][k] for k in
               ("slices", "nativeBits", "size", "train", "val", "test")},
               "runs": [{"id": r["id"], "dice": round(r["dice"]["mean"], 4),
                         **({"diceStochastic": round(r["diceStochastic"]["mean"], 4)} if "diceStochastic" in r else {}),
                         "collapsed": r["collapsed"]} for r in out["runs"]]}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
