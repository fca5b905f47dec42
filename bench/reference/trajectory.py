#!/usr/bin/env python3
"""Trajectory parity: ctquant and the PyTorch mirror trained from the same initial weights.

The agreement run (agree.py) compares distributions over seeds, because the two tools draw U-Net inits and mask noise
from different streams. This check removes those: for the setups without sampling noise (baseline, random control)
it lets ctquant train once (bench/reference/trajectory-dump.ts: ctquant's own split, model, trainer, evaluation),
loads ctquant's initial weights into the mirror, trains it on the same batches (experiment.py copies ctquant's batch
order, split and random layout) and prints both per-epoch losses and validation Dice and the test Dice. A difference in
the model, loss, optimiser, schedule, data or evaluation shows as diverging losses from the first epochs on; float
round-off alone keeps them close.

  /usr/bin/python3 bench/reference/trajectory.py --data out/agree/data --config out/agree/config.json \\
      --test-volumes synth-v000,synth-v004,synth-v008,synth-v012,synth-v016,synth-v020 --seed 1 --setup baseline
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import torch  # noqa: E402

import experiment  # noqa: E402
from ctquant_ref import QuantizationLayer, random_layout  # noqa: E402
from parity import named_params, tensor  # noqa: E402


# Largest relative difference of the first epoch's mean loss that float round-off explains (measured: 1e-8 to 2e-5;
# a changed constant, rate or formula shows at 1e-3 and more).
FIRST_EPOCH_RTOL = 1e-3


def compare(a: argparse.Namespace) -> dict:
    """Trains both from ctquant's initial weights; returns both histories, test Dice and the first epoch's
    relative loss difference."""
    vols = [v for v in a.test_volumes.split(",") if v]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "traj.json")
        subprocess.run(["node", "--import", "tsx", "bench/reference/trajectory-dump.ts", path, a.data, a.config,
                        str(a.seed), a.setup, a.backend, *vols], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(path) as f:
            dump = json.load(f)

    args = experiment.parse_args(["--data", a.data, "--config", a.config, "--profile",
                                  os.path.join(ROOT, "detector-profiles/study-8bit-1bit.json"),
                                  "--test-volumes", a.test_volumes, "--seed", "1"])
    ds = experiment.load_folder(args.data, args.image_dir, args.mask_dir, None, None, None)
    native_bits = ds["native_bits"]
    ds = experiment.resize(ds, args.size)
    pos = experiment.split(ds, args.test_volumes, args.test_fraction, args.val_fraction, args.seed)
    data = {"x": torch.from_numpy(ds["images"]).unsqueeze(1).float(),
            "y": torch.from_numpy(ds["masks"]).unsqueeze(1).float()}
    stage = None
    if a.setup == "random":
        stage = QuantizationLayer(args.size, args.size, native_bits, 1, args.rule, budget=0.5, seed=a.seed)
        stage.mode = "fixed"
        stage.fixed_layout = random_layout(args.size, args.size, 0.5, a.seed * 7919 + 1)
    model = experiment.make_model(args, native_bits, a.seed, stage)
    table = named_params(model.unet)
    with torch.no_grad():
        for name, entry in dump["weights"].items():
            target, convert = table.pop(name)
            value = tensor(entry)
            target.copy_(convert(value) if convert else value)
    assert not table, f"weights missing in the dump: {sorted(table)}"
    experiment.log = lambda msg: None  # quiet
    hist = experiment.train(model, data, pos, dump["epochs"], args, a.seed, False)
    dice = experiment.evaluate(model, data, pos["test"], args, None)
    first = abs(dump["history"][0]["loss"] - hist[0]["loss"]) / abs(dump["history"][0]["loss"])
    return {"setup": a.setup, "seed": a.seed, "epochs": dump["epochs"], "backend": dump["backend"],
            "ctquant": {"history": dump["history"], "dice": dump["dice"]["mean"]},
            "torch": {"history": hist, "dice": dice["mean"]}, "firstEpochRelDiff": first,
            "ok": first <= FIRST_EPOCH_RTOL}


def report(r: dict) -> str:
    lines = [f"{r['setup']} seed {r['seed']}, {r['epochs']} epochs from ctquant's initial weights (ctquant on "
             f"{r['backend']}):",
             f"{'epoch':>7} {'loss ctquant':>13} {'loss torch':>11} {'rel diff':>9} {'val ctquant':>12} {'val torch':>10}"]
    for e, (c, t) in enumerate(zip(r["ctquant"]["history"], r["torch"]["history"]), start=1):
        rel = abs(c["loss"] - t["loss"]) / abs(c["loss"])
        lines.append(f"{e:>7} {c['loss']:>13.6f} {t['loss']:>11.6f} {rel:>9.1e} "
                     f"{c.get('valDice', float('nan')):>12.4f} {t.get('valDice', float('nan')):>10.4f}")
    lines.append(f"  test Dice: ctquant {r['ctquant']['dice']:.4f}, torch {r['torch']['dice']:.4f}; first epoch's "
                 f"loss differs by {r['firstEpochRelDiff']:.1e} (limit {FIRST_EPOCH_RTOL:g}): "
                 f"{'ok' if r['ok'] else 'MISMATCH'}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="ctquant vs. the mirror from the same initial weights")
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--test-volumes", required=True, help="comma-separated volume ids")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--setup", choices=["baseline", "random"], default="baseline")
    ap.add_argument("--backend", default="wasm")
    torch.set_num_threads(1)
    r = compare(ap.parse_args(argv))
    print(report(r))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
