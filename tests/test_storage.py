"""Where a run's files go: local folders and gs:// buckets through one path type. The bucket is a real GCS JSON API
server (gcp-storage-emulator, in a subprocess) reached through gcsfs and google-cloud-storage, as on Google Cloud.

Orbax's checkpoints are not written here: TensorStore's GCS driver rejects the emulator's object generations
("Malformed StorageGeneration"), so they are the one part of a gs:// workdir these tests do not reach.
"""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from hmtl_jax.config.defaults import base_config
from hmtl_jax.errors import ConfigError
from hmtl_jax.pretext.permutation_set import workdir_permutation_set
from hmtl_jax.reporting.metric_writer import MetricWriter
from hmtl_jax.runtime import storage
from hmtl_jax.runtime.workdir import RunRecord, prepare_workdir
from hmtl_jax.training.evaluation import latest_eval_summary

BUCKET = "hmtl-test"


def test_local_paths_become_absolute_and_bucket_paths_stay_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert str(storage.location("runs/a")) == str(tmp_path / "runs" / "a")
    assert str(storage.location("~/runs")) == str(tmp_path / "home" / "runs")
    assert str(storage.location("gs://bucket/runs/a")) == "gs://bucket/runs/a"
    assert storage.is_bucket("gs://b/x") and not storage.is_bucket(tmp_path)


def test_local_records_are_replaced_whole_and_metrics_appended_across_runs(tmp_path):
    path = tmp_path / "config.json"
    storage.write_whole(storage.location(path), '{"a": 1}')
    storage.write_whole(storage.location(path), '{"a": 2}')
    assert json.loads(path.read_text()) == {"a": 2} and os.listdir(tmp_path) == ["config.json"]
    for step in (1, 2):  # a run, then its resumed run
        writer = MetricWriter(storage.location(tmp_path), enabled=True)
        writer.write_scalars(step, {"train/loss": 1.0 / step})
        writer.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture
def bucket(monkeypatch):
    """A GCS server with one bucket; gcsfs and google-cloud-storage in this process talk to it."""
    port = _free_port()
    emulator = os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
    start = f"'{emulator}' start --port={port} --in-memory --default-bucket={BUCKET} -q"
    # The server lives as long as this test process: it stops when the process's end closes its stdin. tensorboardX
    # uploads its events once more whenever its writer is collected, which may be as late as the interpreter's exit,
    # and an upload to a server that is gone is retried for two minutes.
    server = subprocess.Popen(["sh", "-c", f"{start} & trap 'kill $!' EXIT; read -r _"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b/{BUCKET}", timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "the GCS emulator did not start"
            time.sleep(0.2)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    import gcsfs

    gcsfs.GCSFileSystem.clear_instance_cache()  # a filesystem made for another server must not be reused
    yield f"gs://{BUCKET}"


def test_a_runs_records_and_reports_go_to_a_bucket(bucket):
    workdir = prepare_workdir(f"{bucket}/runs/a")
    assert str(workdir) == f"{bucket}/runs/a" and not list(workdir.glob(".write_test*"))  # the probe is gone

    config = base_config()
    record = RunRecord(workdir, config)
    record.check_config()
    record.check_data(100, 20, ("calm", "angry"))
    record.write()
    assert json.loads((workdir / "data.json").read_text())["class_names"] == ["calm", "angry"]
    # A deliberate change: the old record is kept beside the new one, in the bucket too.
    config.num_epochs, config.resume_policy = 7, "changed"
    changed = RunRecord(workdir, config)
    changed.check_config()
    changed.write()
    assert json.loads((workdir / "config.json").read_text())["num_epochs"] == 7
    assert json.loads((workdir / "config.1.json").read_text())["num_epochs"] == base_config().num_epochs

    # Objects cannot be appended to: metrics.jsonl is uploaded again, at each flush and when lines have waited long.
    writer = MetricWriter(workdir, enabled=True)
    writer._jsonl.upload_seconds = 0.0  # every line uploads at once, as after a minute of training
    writer.write_scalars(1, {"train/loss": 2.0})
    assert (workdir / "metrics.jsonl").read_text() == '{"step": 1, "train/loss": 2.0}\n'
    writer.write_image(1, "val/confusion_matrix", np.zeros((8, 8, 3), np.uint8))
    writer.close()
    resumed = MetricWriter(workdir, enabled=True)  # a resumed run continues the file
    resumed.write_scalars(2, {"train/loss": 1.0})
    resumed.close()
    steps = [json.loads(line)["step"] for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    events = list((workdir / "tensorboard").iterdir())  # one file per run, neither replacing the other
    assert len(events) == 2 and all(event.name.startswith("events.out.tfevents") for event in events)
    assert all(event.stat().length > 0 for event in events)

    picture = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    storage.write_png(workdir / "confusion_matrix.png", picture)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO((workdir / "confusion_matrix.png").read_bytes()))),
                                  picture)  # fmt: skip
    storage.write_whole(workdir / "eval_latest.json", json.dumps({"step": 3, "total_steps": 3, "accuracy": 0.5}))
    assert latest_eval_summary(workdir) == {"accuracy": 0.5}

    # An unreadable checkpoint is set aside whole (a bucket has folders only in its object names).
    for name in ("8/state/manifest.ocdbt", "8/data/process_0.json"):
        storage.write_whole(workdir / "checkpoints" / name, name)
    storage.move(workdir / "checkpoints" / "8", workdir / "corrupt_checkpoints" / "8")
    moved = workdir / "corrupt_checkpoints" / "8"
    assert sorted(f"{folder.name}/{file.name}" for folder in moved.iterdir() for file in folder.iterdir()) == [
        "data/process_0.json",
        "state/manifest.ocdbt",
    ]
    assert (moved / "state/manifest.ocdbt").read_text() == "8/state/manifest.ocdbt"
    assert not list((workdir / "checkpoints").glob("8*"))

    jigsaw = base_config()
    jigsaw.jigsaw.weight = 1.0
    perms = workdir_permutation_set(jigsaw, workdir)
    np.testing.assert_array_equal(workdir_permutation_set(jigsaw, workdir), perms)  # read back from the bucket
    jigsaw.jigsaw.permutation_seed += 1
    with pytest.raises(ConfigError, match="another permutation set"):
        workdir_permutation_set(jigsaw, workdir)
