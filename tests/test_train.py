"""The trainer end to end on tiny synthetic faces: outputs, resumption, and clear errors for bad setups."""

import importlib.util
import json
import os
import struct
import subprocess
import sys

import numpy as np
import orbax.checkpoint as ocp
import pytest

from hmtl_jax.training.loop import train_and_evaluate
from tests.helpers import REPO, read_metrics, saved_state, tiny_config


@pytest.mark.slow
def test_a_run_writes_metrics_images_and_checkpoints(tmp_path, cache_dir):
    workdir = str(tmp_path / "run")
    summary = train_and_evaluate(tiny_config(cache_dir), workdir)
    assert 0.0 <= summary["accuracy"] <= 1.0 and "macro_f1" in summary and "accuracy_contempt" in summary
    records = read_metrics(workdir)
    assert records[-1]["step"] == 8  # 64 records / batch 16 = 4 steps per epoch, 2 epochs
    assert any("train/loss" in r for r in records) and any("val/macro_f1" in r for r in records)
    assert any("perf/steps_per_sec" in r for r in records)
    assert all(0.0 <= r["perf/input_wait_fraction"] <= 1.0 for r in read_metrics(workdir) if "perf/steps_per_sec" in r)
    assert os.path.exists(os.path.join(workdir, "confusion_matrix.png"))
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(os.path.join(workdir, "tensorboard")))
    latest = json.load(open(os.path.join(workdir, "eval_latest.json")))
    assert np.sum(latest["confusion"]) == 24  # every validation image counted once, padding excluded
    assert 8 in ocp.CheckpointManager(os.path.join(workdir, "checkpoints")).all_steps()


@pytest.mark.slow
def test_stopping_and_resuming_gives_the_same_state_as_not_stopping(tmp_path, cache_dir):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    final_straight = train_and_evaluate(tiny_config(cache_dir), straight)
    # Stop after step 3 (mid-epoch, not on the checkpoint interval), then rerun the same command to the end.
    train_and_evaluate(tiny_config(cache_dir, stop_at_step=3), resumed)
    assert 3 in ocp.CheckpointManager(os.path.join(resumed, "checkpoints")).all_steps()
    final_resumed = train_and_evaluate(tiny_config(cache_dir), resumed)

    a, b = saved_state(straight, 8), saved_state(resumed, 8)
    flat_a, flat_b = ocp.tree.to_flat_dict(a), ocp.tree.to_flat_dict(b)
    assert flat_a.keys() == flat_b.keys()
    for key in flat_a:
        np.testing.assert_array_equal(flat_a[key], flat_b[key], err_msg=str(key))
    assert final_straight == final_resumed
    # The train losses logged after the restart are those of the uninterrupted run: same batches, same state.
    losses = lambda workdir: {r["step"]: r["train/loss"] for r in read_metrics(workdir) if "train/loss" in r}  # noqa: E731
    assert losses(straight)[8] == losses(resumed)[8]


@pytest.mark.slow
def test_rerunning_a_finished_run_trains_no_further(tmp_path, cache_dir):
    workdir = str(tmp_path / "done")
    first = train_and_evaluate(tiny_config(cache_dir, num_epochs=1), workdir)
    lines = len(read_metrics(workdir))
    again = train_and_evaluate(tiny_config(cache_dir, num_epochs=1), workdir)
    assert again == first
    assert len(read_metrics(workdir)) == lines


def test_tensorboard_events_are_written_without_importing_pytorch(tmp_path):
    # tensorboardX imports torch whenever it is installed (it is, with the test extras); the writer keeps it out of
    # the training process (1.5 s and 600 MB each run), and torch stays importable afterwards.
    assert importlib.util.find_spec("torch") is not None, "the control needs PyTorch installed"
    script = (
        "import sys\n"
        "from etils import epath\n"
        "from hmtl_jax.reporting.metric_writer import MetricWriter\n"
        "writer = MetricWriter(epath.Path(sys.argv[1]), enabled=True)\n"
        "writer.write_scalars(3, {'train/loss': 0.5})\n"
        "writer.close()\n"
        "print('torch' in sys.modules)\n"
        "import torch\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.split() == ["False"], result.stderr[-2000:]
    (events,) = (tmp_path / "tensorboard").iterdir()
    assert [(step, tag, value) for step, tag, value in _event_scalars(events.read_bytes())] == [(3, "train/loss", 0.5)]


def _event_scalars(data: bytes):
    """(step, tag, value) of every scalar in a TensorBoard event file: TFRecord framing (length, its CRC, the
    serialised Event, its CRC) around Event protos."""
    from tensorboardX.proto.event_pb2 import Event

    offset = 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        event = Event.FromString(data[offset + 12 : offset + 12 + length])
        offset += 12 + length + 4
        for value in event.summary.value:
            yield event.step, value.tag, value.simple_value


def test_batch_size_not_divisible_by_devices_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"batch_size=12 must be a positive multiple of the number of devices \(8\)"):
        train_and_evaluate(tiny_config(batch_size=12), str(tmp_path))


def test_unwritable_workdir_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(PermissionError, match="cannot be written"):
        train_and_evaluate(tiny_config(), str(blocker / "workdir"))


def test_unknown_model_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="model.name='resnet_huge'"):
        train_and_evaluate(tiny_config(**{"model.name": "resnet_huge"}), str(tmp_path))


def test_affectnet_config_without_data_says_what_it_needs(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "configs"))
    try:
        import affectnet_sl
    finally:
        sys.path.pop(0)
    config = affectnet_sl.get_config()
    config.batch_size = 32
    config.data.data_dir = str(tmp_path / "nothing_here")
    with pytest.raises(
        FileNotFoundError, match=r"(?s)'affectnet/8class'.*nothing_here.*data_pipelines\.prepare affectnet"
    ):
        train_and_evaluate(config, str(tmp_path / "workdir"))


def test_command_line_rejects_an_unknown_config_key(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmtl_jax.main",
            "--config=configs/demo.py",
            f"--workdir={tmp_path}",
            "--config.optimizer.learnig_rate=0.1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "learnig_rate" in result.stderr
