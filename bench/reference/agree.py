#!/usr/bin/env python3
"""Agreement of ctquant with its PyTorch reference (issue 7): one command, exit 1 on a disagreement.

  /usr/bin/python3 bench/reference/agree.py            # from the project root; about 4 minutes on 2 cores

1. Builds ctquant (npm run build) and writes a small synthetic dataset with `ctquant data synth`.
2. Writes one experiment config: ctquant's DEFAULT_CONFIG (read from dist/) with a tiny model and image size, and
   gives the same file, data, test volumes and seeds to `ctquant sweep` and to experiment.py (torch on 1 thread).
   Both run at the same time. The split is the same by construction (experiment.py copies ctquant's volume split,
   batch order, random layout and logit init; only the U-Net init and the mask noise come from different streams).
3. Prints, per setup (baseline, learned with the hardware layout, random), test Dice mean +- sd over seeds for both
   tools, and whether the difference of means lies within the seed spread: |delta| <= 2 sqrt(sd_a^2/n_a + sd_b^2/n_b).
   Collapsed runs are counted in (both tools flag them by the same rule; ctquant's tables leave them out).

4. Trains baseline and random control (no sampling noise) once more in both from ctquant's initial weights
   (trajectory.py): the per-epoch losses must follow the same path, the first epoch's within float round-off.

Also checks that experiment.py's defaults are ctquant's DEFAULT_CONFIG. Outputs (data, config, both tools' results
and logs, agreement.json) go to --out.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

PROFILE = "detector-profiles/study-8bit-1bit.json"
SETUPS = ("baseline", "learned", "random")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> str:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def default_config() -> dict:
    """ctquant's DEFAULT_CONFIG, from the built dist/."""
    js = "import('./dist/config/experiment-config.js').then((m) => console.log(JSON.stringify(m.DEFAULT_CONFIG)))"
    return json.loads(run(["node", "-e", js]))


def reference_defaults_differ(defaults: dict) -> list[str]:
    """Keys where experiment.py's own defaults (no flags, no config) differ from ctquant's DEFAULT_CONFIG."""
    import experiment

    ours = experiment.config_of(experiment.parse_args(["--data", "-"]))
    out = []
    for key, value in ours.items():
        theirs = defaults.get(key)
        if isinstance(value, dict):
            out += [f"{key}.{k}: reference {v!r}, ctquant {(theirs or {}).get(k)!r}" for k, v in value.items()
                    if (theirs or {}).get(k) != v]
        elif theirs != value:
            out.append(f"{key}: reference {value!r}, ctquant {theirs!r}")
    return out


def stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, sd


def setup_of(run_id: str) -> str:
    return run_id.split("-")[0]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="ctquant vs. its PyTorch reference: Dice side by side with the seed spread")
    ap.add_argument("--out", default="out/agree", help="working folder (default out/agree)")
    ap.add_argument("--seeds", type=int, default=5,
                    help="seeds per setup and tool (default 5: with 3, the three 2-SE tests (t, ~4 degrees of "
                         "freedom) raise a false alarm about one run in three; with 5 about one in five)")
    ap.add_argument("--epochs", type=int, default=16, help="epochs of learned and random (default: DEFAULT_CONFIG's)")
    ap.add_argument("--baseline-epochs", type=int, default=8, help="epochs of the baseline (default: DEFAULT_CONFIG's)")
    ap.add_argument("--n", type=int, default=96, help="synthetic slices")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--data-seed", type=int, default=3)
    ap.add_argument("--test-volumes", default="synth-v000,synth-v004,synth-v008,synth-v012,synth-v016,synth-v020",
                    help="held-out volume ids, the same for both tools")
    ap.add_argument("--backend", default="wasm", help="ctquant backend (default wasm)")
    ap.add_argument("--no-build", action="store_true", help="skip npm run build (dist/ is current)")
    args = ap.parse_args(argv)
    t0 = time.time()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if not args.no_build:
        run(["npm", "run", "build", "--silent"])

    data = os.path.join(out, "data")
    run(["node", "bin/ctquant.js", "data", "synth", "--out", data, "-n", str(args.n), "--size", str(args.size),
         "--seed", str(args.data_seed), "--profile", PROFILE, "--force"], stderr=subprocess.DEVNULL)

    defaults = default_config()
    differ = reference_defaults_differ(defaults)
    config = {**defaults, "size": args.size, "epochs": args.epochs, "baselineEpochs": args.baseline_epochs,
              "seeds": args.seeds, "unet": {**defaults["unet"], "depth": 2, "baseFilters": 8}}
    config_path = os.path.join(out, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f, indent=1)

    volumes = [v.strip() for v in args.test_volumes.split(",") if v.strip()]
    ct_out = os.path.join(out, "ctquant")
    torch_json = os.path.join(out, "torch.json")
    for stale in glob.glob(os.path.join(ct_out, "runs", "*.json")):
        os.remove(stale)
    ct_cmd = ["node", "bin/ctquant.js", "sweep", "--profile", PROFILE, "--data", data, "--budgets", "0.5",
              "--seeds", str(args.seeds), "--size", str(args.size), "--config", config_path, "--backend", args.backend,
              "--test-volumes", *volumes, "--out", ct_out, "--json"]
    torch_cmd = ["/usr/bin/python3", os.path.join(HERE, "experiment.py"), "--data", data, "--config", config_path,
                 "--profile", PROFILE, "--setups", "baseline,random,learned", "--budgets", "0.5",
                 "--seeds", str(args.seeds), "--test-volumes", ",".join(volumes), "--threads", "1", "--out", torch_json]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    procs = []
    for name, cmd in (("ctquant", ct_cmd), ("torch", torch_cmd)):
        log("$ " + " ".join(cmd) + f"   (log: {os.path.join(out, name + '.log')})")
        with open(os.path.join(out, name + ".log"), "w") as logf:
            procs.append((name, subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=logf, env=env)))
    seconds = {}
    while len(seconds) < len(procs):
        for name, p in procs:
            if name not in seconds and p.poll() is not None:
                if p.returncode != 0:
                    log(f"{name} failed (exit {p.returncode}); see {os.path.join(out, name + '.log')}")
                    return 2
                seconds[name] = round(time.time() - t0)
        time.sleep(0.5)

    ct_runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(ct_out, "runs", "*.json")))]
    with open(torch_json) as f:
        torch_doc = json.load(f)
    results = {"ctquant": ct_runs, "torch": torch_doc["runs"]}

    print(f"data: {args.n} synthetic slices {args.size}x{args.size} (seed {args.data_seed}), test volumes "
          f"{' '.join(volumes)}; train {torch_doc['data']['train']} / val {torch_doc['data']['val']} / "
          f"test {torch_doc['data']['test']} slices")
    print(f"recipe: DEFAULT_CONFIG with U-Net depth 2 base 8, epochs {args.epochs} (learned, random), "
          f"baseline {args.baseline_epochs}; {args.seeds} seeds; ctquant {args.backend}, torch "
          f"{torch_doc['version']} cpu 1 thread")
    if differ:
        print("experiment.py defaults differ from DEFAULT_CONFIG: " + "; ".join(differ))
    print()
    header = (f"{'setup':<10} {'ctquant Dice':>16} {'torch Dice':>16} {'delta':>8} {'2*SE':>7}  {'agree':<5}  "
              "per seed (ctquant | torch), c = collapsed")
    print(header)
    print("-" * len(header))
    rows, ok = [], True
    for setup in SETUPS:
        row = {"setup": setup}
        for tool, runs in results.items():
            mine = sorted((r for r in runs if setup_of(r["id"]) == setup), key=lambda r: r["seed"])
            vals = [r["dice"]["mean"] for r in mine]
            mean, sd = stats(vals) if vals else (float("nan"), float("nan"))
            row[tool] = {"n": len(vals), "mean": mean, "sd": sd, "values": vals, "seeds": [r["seed"] for r in mine],
                         "collapsed": [r["seed"] for r in mine if r["collapsed"]]}
        a, b = row["ctquant"], row["torch"]
        delta = a["mean"] - b["mean"]
        bound = 2 * math.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"]) if a["n"] and b["n"] else float("nan")
        row["delta"], row["bound"] = delta, bound
        row["agree"] = bool(abs(delta) <= bound) and a["n"] == b["n"] == args.seeds
        ok = ok and row["agree"]
        rows.append(row)

        def fmt_seeds(t):
            col = set(t["collapsed"])
            return " ".join(f"{v:.3f}{'c' if s in col else ''}" for s, v in zip(t["seeds"], t["values"]))

        print(f"{setup:<10} {a['mean']:>7.3f} +- {a['sd']:.3f} {b['mean']:>7.3f} +- {b['sd']:.3f} {delta:>+8.3f} "
              f"{bound:>7.3f}  {'yes' if row['agree'] else 'NO':<5}  {fmt_seeds(a)} | {fmt_seeds(b)}")
    print()
    print("AGREE: every difference of means within 2 standard errors of the seed spread" if ok else
          "DISAGREE: a difference of means exceeds 2 standard errors of the seed spread")

    # Same initial weights, same batches: the setups without sampling noise must follow the same trajectory.
    import trajectory

    traj = []
    for setup in ("baseline", "random"):
        r = trajectory.compare(argparse.Namespace(data=data, config=config_path, test_volumes=",".join(volumes),
                                                  seed=1, setup=setup, backend=args.backend))
        traj.append(r)
        print()
        print(trajectory.report(r))
    same_path = all(r["ok"] for r in traj)
    total = round(time.time() - t0)
    print(f"time: {total} s in all (ctquant done at {seconds['ctquant']} s, torch at {seconds['torch']} s)")
    with open(os.path.join(out, "agreement.json"), "w") as f:
        json.dump({"agree": ok, "rows": rows, "trajectories": traj, "config": config, "defaultsDiffer": differ,
                   "seconds": total}, f, indent=1)
    return 0 if ok and same_path and not differ else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
