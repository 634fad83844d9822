"""Run configs x train sizes x seeds, one training process each, and tabulate validation accuracy (mean ± std).

    python -m hmtl_jax.tools.sweep --configs configs/synthetic_sl.py,configs/synthetic_hmtl.py \
        --train_sizes 6000:10,1200:50 --seeds 0,1,2 --root workdirs/results

Each run is `python -m hmtl_jax.main --config=C --workdir=<root>/<name>_n<size>_s<seed> --config.seed=S
--config.data.train_size=N [--config.num_epochs=E]` (a size is N or N:E; the seed sets initialisation, data order,
pretext draws and dropout; the faces stay the same). A run already finished is not repeated and an interrupted
one resumes, so rerunning the command after a crash completes the sweep. The table is printed and written to
<root>/summary.md, the figures to summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _run_dir(root: str, config: str, size: int, seed: int) -> str:
    return os.path.join(root, f"{os.path.basename(config)[:-3]}_n{size}_s{seed}")


def _final_accuracy(workdir: str) -> float | None:
    """Validation accuracy of a finished run (its last evaluation is at its last step), else None."""
    try:
        with open(os.path.join(workdir, "eval_latest.json")) as f:
            latest = json.load(f)
    except FileNotFoundError:
        return None
    return latest["accuracy"] if latest["step"] >= latest.get("total_steps", float("inf")) else None


def run_sweep(configs, sizes, seeds, root, extra, epochs: dict[int, int]) -> dict:
    results = {}
    for seed in seeds:  # seed-major: a partial sweep already has every variant for the first seeds
        for size in sizes:
            size_args = [f"--config.data.train_size={size}"]
            if size in epochs:
                size_args.append(f"--config.num_epochs={epochs[size]}")
            for config in configs:
                workdir = _run_dir(root, config, size, seed)
                accuracy = _final_accuracy(workdir)
                if accuracy is None:
                    command = [
                        sys.executable,
                        "-m",
                        "hmtl_jax.main",
                        f"--config={config}",
                        f"--workdir={workdir}",
                        f"--config.seed={seed}",
                        *size_args,
                        *extra,
                    ]
                    print(" ".join(command), flush=True)
                    started = time.perf_counter()
                    subprocess.run(command, check=True)
                    print(f"  finished in {time.perf_counter() - started:.0f} s", flush=True)
                    accuracy = _final_accuracy(workdir)
                results.setdefault(config, {}).setdefault(size, {})[seed] = accuracy
    return results


def summary_table(results: dict, sizes) -> str:
    header = "| config | " + " | ".join(f"train {size}" for size in sizes) + " |"
    lines = [header, "|---|" + "---|" * len(sizes)]
    for config, by_size in results.items():
        cells = []
        for size in sizes:
            values = 100 * np.array([v for v in by_size.get(size, {}).values() if v is not None])
            cells.append(
                f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f} (n={len(values)})"
                if len(values)
                else "–"
            )
        lines.append(f"| {os.path.basename(config)[:-3]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", required=True, help="comma-separated config files")
    parser.add_argument(
        "--train_sizes",
        required=True,
        help="comma-separated numbers of train records, each optionally :epochs (6000:10,1200:50)",
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--root", required=True, help="directory for one workdir per run")
    parser.add_argument("extra", nargs="*", help="more --config.key=value overrides for every run (after --)")
    args = parser.parse_args()
    configs = args.configs.split(",")
    sizes, epochs = [], {}
    for item in args.train_sizes.split(","):
        size, _, epoch_count = item.partition(":")
        sizes.append(int(size))
        if epoch_count:
            epochs[int(size)] = int(epoch_count)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = run_sweep(configs, sizes, seeds, args.root, args.extra, epochs)
    table = summary_table(results, sizes)
    print("\nvalidation accuracy (%), mean ± sample std over seeds " + ",".join(map(str, seeds)) + "\n" + table)
    with open(os.path.join(args.root, "summary.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.root, "summary.json"), "w") as f:
        json.dump({c: {str(n): v for n, v in by.items()} for c, by in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
