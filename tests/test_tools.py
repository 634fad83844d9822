"""The command-line tools around training: the seed sweep, the benchmarks, the in-memory source."""

import inspect
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from hmtl_jax.config.overrides import load_config
from hmtl_jax.data.in_memory import CHUNK, InMemorySource
from hmtl_jax.data.synthetic.faces import SyntheticFaces
from hmtl_jax.tools.results_tables import read_records, render, study_table
from tests.helpers import REPO, one_device_env, write_config_file


@pytest.mark.parametrize("processes", [1, 2])
def test_in_memory_source_returns_the_rendered_records_in_order(processes):
    # 1,001 records are three chunks for the worker processes, the last one short: records on both sides of each
    # chunk boundary must come back in their place.
    source = SyntheticFaces("train", 2 * CHUNK + 1, image_size=32, seed=3)
    cached = InMemorySource(source, processes=processes)
    assert len(cached) == len(source)
    np.testing.assert_array_equal(cached.labels(), source.labels())
    for index in (0, CHUNK - 1, CHUNK, 2 * CHUNK):
        for key, value in source[index].items():
            np.testing.assert_array_equal(cached[index][key], value, err_msg=f"{key} of record {index}")


def _record(config, overrides, seed, fraction, val, test):
    return {"study": "s", "config": config, "overrides": overrides, "seed": seed, "train_fraction": fraction,
            "val_accuracy": val, "test_accuracy": test}  # fmt: skip


def test_results_table_reports_mean_and_sample_std_per_variant_and_fraction():
    records = [
        _record("configs/a.py", [], 0, 1.0, 0.5, 0.4),
        _record("configs/a.py", [], 1, 1.0, 0.7, 0.6),
        _record("configs/a.py", [], 0, 0.2, 0.25, None),
        _record("configs/a.py", ["--config.inpaint.mask_ratio=0.1"], 0, 1.0, 0.3, 0.35),
    ]
    lines = study_table(records).splitlines()
    assert lines[0] == "| variant | 100% val | 100% test | 20% val | 20% test |"
    assert lines[2] == "| a | 60.0 ± 14.1 (2) | 50.0 ± 14.1 (2) | 25.0 (1) | – |"
    assert lines[3] == "| a inpaint.mask_ratio=0.1 | 30.0 (1) | 35.0 (1) | – | – |"
    # A study not evaluated on the test split (choosing settings) has no test columns.
    assert study_table(records[2:3]).splitlines() == ["| variant | 20% val |", "|---|---|", "| a | 25.0 (1) |"]


def test_results_tables_replace_only_their_marked_blocks(tmp_path):
    records = [_record("configs/a.py", [], 0, 1.0, 0.5, 0.4)]
    document = "# R\n\n<!-- results: s -->\nstale\n<!-- end of results -->\n\nprose stays\n"
    rendered = render(document, records)
    assert rendered == f"# R\n\n<!-- results: s -->\n{study_table(records)}\n<!-- end of results -->\n\nprose stays\n"
    assert render(rendered, records) == rendered
    validation_only = render(document.replace("results: s -->", "results: s (validation) -->"), records)
    assert f"\n{study_table(records, validation_only=True)}\n" in validation_only and "test |" not in validation_only
    with pytest.raises(ValueError, match="study 'other', which has no records"):
        render("<!-- results: other -->\n<!-- end of results -->", records)


@pytest.mark.slow
def test_sweep_runs_every_combination_once_and_records_each_run(tmp_path):
    config = write_config_file(tmp_path, "tiny", str(tmp_path / "cache"), **{"data.image_size": 32})
    root, results = str(tmp_path / "sweep"), str(tmp_path / "results.jsonl")

    def sweep(fractions, seeds):
        command = [sys.executable, "-m", "hmtl_jax.tools.sweep", f"--configs={config}", f"--fractions={fractions}",
                   f"--seeds={seeds}", "--test_size=16", f"--root={root}", "--study=tiny", f"--results={results}",
                   "--", "--config.batch_size=8", "--config.data.subset_seed={seed}"]  # fmt: skip
        result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    sweep("0.5:3", "1")
    assert os.listdir(tmp_path / "cache"), "the runs' compiled steps should land in their config's compilation cache"
    # Another sweep over the same root runs only what is not there yet: of two fractions, the whole train split
    # (the finished half is neither trained nor recorded again: two records below, not three).
    second = sweep("1,0.5:3", "1")
    assert "tiny_f1_s1" in second.stdout and "tiny_f0.5_s1" not in second.stdout
    assert sorted(os.listdir(root)) == ["tiny_f0.5_s1", "tiny_f1_s1"]
    saved = [
        json.loads((tmp_path / "sweep" / run / "config.json").read_text()) for run in ("tiny_f0.5_s1", "tiny_f1_s1")
    ]
    epochs = load_config(config).num_epochs  # a fraction without :E keeps the config's epochs
    assert [(c["seed"], c["data"]["train_fraction"], c["num_epochs"], c["batch_size"]) for c in saved] == [
        (1, 0.5, 3, 8),
        (1, 1.0, epochs, 8),
    ]
    assert saved[0]["data"]["subset_seed"] == 1  # "{seed}" in an override is the run's seed
    records = read_records(results)
    assert [(r["seed"], r["train_fraction"]) for r in records] == [(1, 0.5), (1, 1.0)]
    for record in records:  # each run's figures are the ones its workdir holds, and its command reproduces it
        workdir = record["command"].split("--workdir=")[1].split()[0]
        with open(os.path.join(workdir, "eval_latest.json")) as f:
            latest = json.load(f)
        assert record["val_accuracy"] == latest["accuracy"]
        assert record["steps"] == latest["step"] == latest["total_steps"]
        with open(os.path.join(workdir, "test_latest.json")) as f:
            assert record["test_accuracy"] == json.load(f)["accuracy"]
        # The overrides as given (so that the seeds of one variant share a row), the command as run.
        assert record["overrides"] == ["--config.batch_size=8", "--config.data.subset_seed={seed}"]
        assert record["study"] == "tiny" and record["wall_s"] > 0
        assert f"--config.seed={record['seed']}" in record["command"]
        assert f"--config.data.subset_seed={record['seed']} " in record["command"] + " "
    # The second sweep's table: the variant's row, over the records of both sweeps.
    assert "| tiny batch_size=8 data.subset_seed={seed} |" in second.stdout


def _quotient(numerator, numerator_half_unit, denominator, denominator_half_unit):
    """The range of numerator / denominator when both are known to within a half unit of their printed digits."""
    return (
        (numerator - numerator_half_unit) / (denominator + denominator_half_unit),
        (numerator + numerator_half_unit) / (denominator - denominator_half_unit),
    )


def _agrees(printed: float, decimals: int, value_range) -> bool:
    """Whether `printed` (rounded to `decimals`) is a rounding of some value in `value_range`."""
    half = 0.5 * 10.0**-decimals + 1e-9
    return value_range[0] - half <= printed <= value_range[1] + half


@pytest.mark.slow
def test_step_time_benchmark_prints_ratios_to_the_first_config(tmp_path):
    cache = str(tmp_path / "cache")
    sl = write_config_file(tmp_path, "sl", cache, **{"data.image_size": 48})
    # The second config is the first with overrides of its own: one pretext task is enough to compare two configs
    # (the in-painting decoder only adds compile time), and its batch of 8 shows in its img/s.
    puzzle = f"{sl}:jigsaw.weight=1.0:batch_size=8"
    result = subprocess.run(
        [sys.executable, "-m", "hmtl_jax.tools.benchmark", "step_time", sl, puzzle, "--steps=2", "--rounds=2"],
        cwd=REPO,
        env=one_device_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(str(tmp_path))]
    assert [row[0] for row in rows] == [sl, puzzle]
    # No timing claim here (this machine is shared): the table is complete and the reference's ratio is 1.
    assert rows[0][3] == "1.00x" and float(rows[1][1]) > 0 and float(rows[1][3][:-1]) > 0
    # The figures agree with each other: the ratio is the printed step times' ratio and img/s each batch (16, 8)
    # over the step time, up to the rounding of what is printed (ms/step to 0.1, img/s to 1, the ratio to 0.01).
    (sl_ms, puzzle_ms), ratio = (float(row[1]) for row in rows), float(rows[1][3][:-1])
    assert _agrees(ratio, 2, _quotient(puzzle_ms, 0.05, sl_ms, 0.05)), (ratio, puzzle_ms, sl_ms)
    for row, batch in zip(rows, (16, 8), strict=True):
        assert _agrees(float(row[2]), 0, _quotient(1_000 * batch, 0, float(row[1]), 0.05)), row


def test_data_pipeline_benchmark_prepares_a_sample_release_and_reads_it(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmtl_jax.tools.benchmark",
            "data_pipeline",
            "--photos",
            "40",
            "--batches",
            "2",
            "--batch_size",
            "8",
            "--image_size",
            "64",
            "--workers",
            "0",
            "--dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("images/s")[-1].strip().splitlines()
    assert [line.split()[0] for line in table] == ["prepare", "read"]
    assert all(float(line.split()[-1].replace(",", "")) > 0 for line in table)
    with open(tmp_path / "prepared" / "affectnet" / "8class" / "1.0.0" / "preparation_report.json") as f:
        report = json.load(f)
    assert sum(report["written"]["train"].values()) == 40 and not report["skipped"]


def test_flop_count_is_two_multiply_adds_per_conv_and_matmul_output():
    import jax
    import jax.numpy as jnp

    from hmtl_jax.tools.benchmark.flops import count_flops

    def forward(x, w):
        y = jax.lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(y.reshape(2, -1) @ jnp.ones((4 * 4 * 6, 5)))

    x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 6))
    conv = 2 * (2 * 4 * 4 * 6) * (3 * 3 * 3)  # outputs x (kernel window x input channels)
    matmul = 2 * (2 * 5) * (4 * 4 * 6)
    assert count_flops(forward, x, w) == conv + matmul
    assert count_flops(jax.jit(forward), x, w) == conv + matmul  # inside a jit, too
    # The gradient for the weights is one more convolution of the same size, and one more matmul.
    assert count_flops(jax.grad(forward, argnums=1), x, w) == 2 * conv + 2 * matmul


@pytest.mark.slow
def test_throughput_benchmark_prints_every_task_with_compile_memory_floor_and_pytorch(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmtl_jax.tools.benchmark",
            "throughput",
            "--models",
            "resnet18",
            "--tasks",
            "sl,inpaint",
            "--image_size",
            "32",
            "--batch_size",
            "8",
            "--dtype",
            "fp32",
            "--steps",
            "2",
            "--rounds",
            "1",
            "--no_perceptual",  # VGG-16 only adds compile time here; tests/test_perceptual.py covers it
        ],
        cwd=REPO,
        env=one_device_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split()[1]: line.split() for line in result.stdout.splitlines() if line.startswith("resnet18 ")}
    assert set(rows) == {"sl", "inpaint"}
    sl, inpaint = rows["sl"], rows["inpaint"]
    assert sl[5] == "1.00x"
    # The figures agree with each other, up to the rounding of what is printed: in-painting's "vs SL" is the
    # printed step times' ratio, img/s the batch of 8 over the step time, "ours / PyTorch" our SL img/s over
    # PyTorch's.
    (sl_ms, inpaint_ms), vs_sl = (float(row[4]) for row in (sl, inpaint)), float(inpaint[5][:-1])
    assert _agrees(vs_sl, 2, _quotient(inpaint_ms, 0.05, sl_ms, 0.05)), (vs_sl, inpaint_ms, sl_ms)
    for row in (sl, inpaint):
        assert _agrees(float(row[3]), 0, _quotient(8_000, 0, float(row[4]), 0.05)), row
    torch_line = re.search(r"SL \(\w+ eager\): (\d+) img/s; ours / PyTorch = ([\d.]+)x", result.stdout)
    torch_rate, ours_over_torch = map(float, torch_line.groups())
    ours = _quotient(8_000, 0, sl_ms, 0.05)  # our SL img/s, from the more precise ms/step
    ours_over_torch_range = (ours[0] / (torch_rate + 0.5), ours[1] / (torch_rate - 0.5))
    assert _agrees(ours_over_torch, 2, ours_over_torch_range), (ours_over_torch, sl_ms, torch_rate)
    cold, warm = float(sl[6]), float(sl[7])
    assert cold > warm  # the second compile came from the persistent cache
    assert float(inpaint[9]) > float(sl[9]) > 0  # GFLOP: the decoder adds work
    assert float(sl[8]) > 0 and sl[11] in ("compute", "memory")
    assert any(f"PyTorch resnet18 SL ({source} eager)" in result.stdout for source in ("timm", "torchvision"))


def _sl_config(batch):
    from hmtl_jax.tools.benchmark import throughput

    return throughput.task_config("resnet_tiny", "sl", 32, batch, False, "", [])


def test_largest_batch_search_stays_within_the_memory_limit():
    import jax

    from hmtl_jax.runtime import sharding
    from hmtl_jax.tools.benchmark import throughput

    mesh = sharding.create_mesh()
    # The command line's search measures XLA's memory analysis of the compiled step; here the same, compiled once.
    assert (
        inspect.signature(throughput.largest_batch).parameters["peak_bytes"].default is throughput.compiled_peak_bytes
    )
    compiled = {}  # batch -> XLA's peak bytes: each batch size is compiled once, by the test or by the search

    def peak(config, mesh=mesh):
        if config.batch_size not in compiled:
            compiled[config.batch_size] = throughput.compiled_peak_bytes(config, mesh)
        return compiled[config.batch_size]

    limit = (peak(_sl_config(16)) + peak(_sl_config(32))) / 2  # 16 fits, 32 does not
    largest = throughput.largest_batch(_sl_config, mesh, 16, limit, peak_bytes=peak)
    assert largest % jax.device_count() == 0 and 16 <= largest < 32
    assert peak(_sl_config(largest)) < limit
    assert peak(_sl_config(largest + jax.device_count())) >= limit  # and the next multiple would not fit
    assert sorted(compiled) == [16, 24, 32]  # the search compiled no batch twice nor any it did not need


# The search's answer on memory laws known in advance (a stub peak-memory function: the search is under test):
# (start batch, bytes a step needs for a batch, limit, the largest multiple of 8 devices below the limit).
SEARCHES = [
    (8, lambda b: 1000 * b, 9_000, 8),
    (8, lambda b: 1000 * b, 40_500, 40),  # found by bisecting between 32 (fits) and 64 (does not)
    (16, lambda b: 1000 * b, 1_000_001, 1000),
    (256, lambda b: 1000 * b, 100_000, 96),  # the start does not fit: bisecting down from it
    (64, lambda b: 5e6 + 300 * b**2, 8e6, 96),  # memory growing faster than the batch
    (8, lambda b: 1000 * b, 7_000, 0),  # not even one row per device fits
]


@pytest.mark.parametrize("start,need,limit,expected", SEARCHES)
def test_largest_batch_search_finds_the_largest_multiple_of_the_device_count_that_fits(start, need, limit, expected):
    import jax

    from hmtl_jax.tools.benchmark import throughput

    assert jax.device_count() == 8
    probed = []

    def peak(config, mesh):
        probed.append(config.batch_size)
        return need(config.batch_size)

    assert throughput.largest_batch(_sl_config, None, start, limit, peak_bytes=peak) == expected
    assert len(probed) == len(set(probed)) and len(probed) <= 2 * max(expected, start).bit_length()


def test_largest_batch_search_counts_a_batch_that_does_not_compile_as_not_fitting():
    from hmtl_jax.tools.benchmark import throughput

    def peak(config, mesh):
        if config.batch_size > 48:
            raise RuntimeError("RESOURCE_EXHAUSTED: XLA could not allocate the step's buffers")
        return 1.0

    assert throughput.largest_batch(_sl_config, None, 8, 100.0, peak_bytes=peak) == 48


def test_the_committed_results_tables_are_rendered_from_the_committed_records():
    with open(os.path.join(REPO, "docs", "RESULTS.md")) as f:
        document = f.read()
    assert "<!-- results: " in document, "RESULTS.md should hold tables rendered from docs/results.jsonl"
    records = read_records(os.path.join(REPO, "docs", "results.jsonl"))
    assert render(document, records) == document, (
        "run: python -m hmtl_jax.tools.results_tables docs/results.jsonl docs/RESULTS.md"
    )


@pytest.mark.slow
def test_init_benchmark_compares_the_default_and_the_trainers_initialisation():
    result = subprocess.run(
        [sys.executable, "-m", "hmtl_jax.tools.benchmark", "init", "--models", "resnet_tiny", "--image_size", "32"],
        cwd=REPO,
        env=one_device_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the trainer's options: {'xla_backend_optimization_level': 0}" in result.stdout  # on CPU
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("resnet_tiny ")]
    assert [row[1] for row in rows] == ["default", "trainer"]
    for _, _, compile_s, run_s, total_s, _ in rows:
        assert float(compile_s) > 0 and float(run_s) > 0
        assert abs(float(compile_s) + float(run_s) - float(total_s)) <= 0.011  # up to the printed rounding
    # The same parameters up to float rounding: a change of the initialisation itself would show here.
    assert float(rows[0][5]) == 0 and float(rows[1][5]) < 1e-5
