"""Run configs x train fractions x seeds, one training process each, and record every run as one line of JSON.

    python -m hmtl_jax.tools.sweep --configs configs/synthetic_sl.py,configs/synthetic_hmtl.py \
        --fractions 1:10,0.2:50 --seeds 0,1,2 --test_size 2000 --root workdirs/final --study final \
        --results docs/results.jsonl

Each run is `python -m hmtl_jax.main --config=C --workdir=<root>/<name>_f<fraction>_s<seed> --config.seed=S
--config.data.train_fraction=F [--config.num_epochs=E] [--config.data.test_size=T] [overrides after --]` (a
fraction is F or F:E; the seed sets initialisation, data order, pretext draws and dropout; the faces and the
stratified subset stay the same). `{seed}` in an override stands for the run's seed, e.g. to fine-tune each seed
from the pre-training of the same seed: `-- --config.init_from=workdirs/ssl/synthetic_pretrain_puzzle_f1_s{seed}`.
With `--test_size` each run is also evaluated once, after its last step, on held-out test faces: choose settings by
the validation figures, report the test figures. A run already finished is not repeated and an interrupted one
resumes, so rerunning the command after a crash completes the sweep. Each finished run appends one record to
`--results` (default `<root>/results.jsonl`): its study, config, overrides (as given), seed, fraction, steps,
validation and test figures, wall time and the command that reproduces it. The sweep ends with its table
(`hmtl_jax.tools.results_tables`, which also renders the committed tables).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from hmtl_jax.runtime.workdir import CONFIG_FILE
from hmtl_jax.tools.results_tables import read_records, study_table
from hmtl_jax.training.evaluation import SPLIT_RECORDS

VALIDATION_FILE, TEST_FILE = SPLIT_RECORDS["validation"][1], SPLIT_RECORDS["test"][1]
# The figures a record keeps of each split, those the run's task has (hmtl_jax/training/evaluation.py).
RECORDED_METRICS = ("accuracy", "macro_f1", "roc_auc", "mean_mae", "yaw_mae", "pitch_mae", "roll_mae")


def _run_dir(root: str, config: str, fraction: float, seed: int) -> str:
    return os.path.join(root, f"{os.path.basename(config)[:-3]}_f{fraction:g}_s{seed}")


def _finished(workdir: str, name: str) -> dict | None:
    """The figures in `name` (VALIDATION_FILE or TEST_FILE) if the run at `workdir` finished, else None."""
    try:
        with open(os.path.join(workdir, name)) as f:
            latest = json.load(f)
    except FileNotFoundError:
        return None
    return latest if latest["step"] >= latest.get("total_steps", float("inf")) else None


def _commit() -> str | None:
    """The checkout's commit, or None outside a git checkout (or without git)."""
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return result.stdout.strip() or None


def _record(study, config, extra, seed, fraction, epochs, workdir, command, wall_s, commit) -> dict:
    val = _finished(workdir, VALIDATION_FILE)
    test = _finished(workdir, TEST_FILE) or {}
    with open(os.path.join(workdir, CONFIG_FILE)) as f:
        task = json.load(f).get("task", "emotion")  # workdirs of older versions trained emotion
    record = {
        "study": study,
        "config": config,
        "overrides": list(extra),
        "seed": seed,
        "train_fraction": fraction,
        "num_epochs": epochs,
        "steps": val["step"],
    }
    metrics = [metric for metric in RECORDED_METRICS if metric in val]
    record.update({f"val_{metric}": val[metric] for metric in metrics})
    record.update({f"test_{metric}": test.get(metric) for metric in metrics})
    record.update(
        task=task,
        wall_s=wall_s,  # None: the run finished before this sweep (and no record says how long it took)
        commit=commit,
        command=shlex.join(["python", *command[1:]]),
    )
    return record


def run_sweep(configs, fractions, seeds, root, extra, epochs: dict[float, int], study, results, test_size) -> list:
    # A run belongs to a study once; a study may reuse another's finished run (same command, same workdir).
    earlier = read_records(results) if os.path.exists(results) else []
    recorded = {(r["study"], r["command"]) for r in earlier}
    wall_times = {r["command"]: r["wall_s"] for r in earlier if r["wall_s"] is not None}
    records, commit = [], _commit()
    for seed in seeds:  # seed-major: a partial sweep already has every variant for the first seeds
        for fraction in fractions:
            fraction_args = [f"--config.data.train_fraction={fraction:g}"]
            if fraction in epochs:
                fraction_args.append(f"--config.num_epochs={epochs[fraction]}")
            if test_size:
                fraction_args.append(f"--config.data.test_size={test_size}")
            for config in configs:
                workdir = _run_dir(root, config, fraction, seed)
                command = [
                    sys.executable,
                    "-m",
                    "hmtl_jax.main",
                    f"--config={config}",
                    f"--workdir={workdir}",
                    f"--config.seed={seed}",
                    *fraction_args,
                    *(override.replace("{seed}", str(seed)) for override in extra),
                ]
                wall_s = None
                if _finished(workdir, VALIDATION_FILE) is None:
                    print(shlex.join(command), flush=True)
                    started = time.perf_counter()
                    subprocess.run(command, check=True)
                    wall_s = round(time.perf_counter() - started, 1)
                    if _finished(workdir, VALIDATION_FILE) is None:  # a stop request ends a run early, exit code 0
                        sys.exit(f"{workdir} stopped before its last step: rerun the sweep to resume it")
                    print(f"  finished in {wall_s:.0f} s", flush=True)
                record = _record(
                    study, config, extra, seed, fraction, epochs.get(fraction), workdir, command, wall_s, commit
                )
                if record["wall_s"] is None:
                    record["wall_s"] = wall_times.get(record["command"])
                records.append(record)
                if (study, record["command"]) not in recorded:
                    with open(results, "a") as f:
                        f.write(json.dumps(record) + "\n")
                    recorded.add((study, record["command"]))
    return records


def _fractions(text: str) -> tuple[list[float], dict[float, int]]:
    fractions, epochs = [], {}
    for item in text.split(","):
        fraction, _, epoch_count = item.partition(":")
        fractions.append(float(fraction))
        if epoch_count:
            epochs[float(fraction)] = int(epoch_count)
    return fractions, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", required=True, help="comma-separated config files")
    parser.add_argument(
        "--fractions",
        default="1",
        help="comma-separated fractions of the train split (stratified), each optionally :epochs (1:10,0.2:50)",
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--root", required=True, help="directory for one workdir per run")
    parser.add_argument("--test_size", type=int, default=0, help="held-out synthetic test faces per run (0: none)")
    parser.add_argument("--study", default="sweep", help="the name that groups these runs' records into one table")
    parser.add_argument("--results", default="", help="the JSON Lines file to append records to")
    parser.add_argument("extra", nargs="*", help="more --config.key=value overrides for every run (after --)")
    args = parser.parse_args()
    fractions, epochs = _fractions(args.fractions)
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.root, exist_ok=True)
    results = args.results or os.path.join(args.root, "results.jsonl")
    records = run_sweep(
        args.configs.split(","), fractions, seeds, args.root, args.extra, epochs, args.study, results, args.test_size
    )
    print(
        f"\n{args.study}: mean ± sample std over seeds (accuracy and AUC in %, MAE in degrees); records in {results}\n"
    )
    print(study_table(records))


if __name__ == "__main__":
    main()
