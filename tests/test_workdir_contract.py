"""A workdir holds one run: rerunning its command resumes it, a rerun that would make another run is refused with
one line and touches nothing, a deliberate change is an explicit setting, and a mistake in a command is one line on
stderr. Real workdirs, real checkpoints, real subprocesses (on one device: none of this depends on sharding, and a
subprocess on the suite's eight simulated devices compiles and steps several times slower)."""

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from hmtl_jax.config.resume import as_recorded, run_differences
from hmtl_jax.data.affectnet_labels import CLASS_NAMES
from hmtl_jax.data.synthetic.faces import SyntheticFaces
from hmtl_jax.runtime.checkpointing import initialise_from
from hmtl_jax.training.loop import train_and_evaluate
from tests.helpers import REPO, jitted_for, one_device_env, read_metrics, saved_state, tiny_config, write_config_file

# 8 steps (64 faces, batch 16, 2 epochs), a checkpoint every 2: the run every rerun below is compared with.
FIRST_STEPS = 4


def _files(directory) -> dict[str, str]:
    """{relative path: sha256} of every file under `directory`."""
    digests = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def _run(config_path, workdir, *overrides, timeout=300):
    command = [sys.executable, "-m", "hmtl_jax.main", f"--config={config_path}", f"--workdir={workdir}", *overrides]
    return subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=timeout)


def _one_line_error(result) -> str:
    """The run failed as a user error should: status 2, no traceback, one `error:` line last on stderr."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr[-2000:]
    return last


@pytest.fixture(scope="module")
def started(tmp_path_factory, cache_dir):
    """A run stopped at step 4 of 8 with checkpoints at 2 and 4, made by the command line."""
    root = tmp_path_factory.mktemp("contract")
    config = write_config_file(root, "tiny", cache_dir)
    workdir = str(root / "run")
    result = _run(config, workdir, f"--config.stop_at_step={FIRST_STEPS}")
    assert result.returncode == 0, result.stderr[-2000:]
    return config, workdir


@pytest.mark.slow
def test_reruns_that_would_make_another_run_are_refused_and_touch_nothing(started):
    config, workdir = started
    before = _files(workdir)
    refused = {
        "--config.inpaint.weight=1.0": "inpaint.weight 0.0 -> 1.0",
        "--config.model.name=resnet18": "model.name 'resnet_tiny' -> 'resnet18'",
        "--config.batch_size=8": "batch_size 16 -> 8",
        "--config.data.image_size=48": "data.image_size 32 -> 48",
        "--config.data.train_size=128": "data.train_size 64 -> 128",
        "--config.seed=1": "seed 0 -> 1",
    }
    # Concurrently: each refusal happens before anything is compiled, and none writes to the workdir.
    processes = {
        flag: subprocess.Popen(
            [sys.executable, "-m", "hmtl_jax.main", f"--config={config}", f"--workdir={workdir}", flag],
            cwd=REPO,
            env=one_device_env(),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        for flag in refused
    }
    for flag, process in processes.items():
        _, stderr = process.communicate(timeout=300)
        line = _one_line_error(subprocess.CompletedProcess([], process.returncode, "", stderr))
        assert refused[flag] in line and "--config.resume_policy=changed" in line and "new --workdir" in line, line
    assert _files(workdir) == before  # every checkpoint file, the record and the metrics byte for byte
    # Switching back to the run's own command resumes it where it stopped.
    result = _run(config, workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    steps = [r["step"] for r in read_metrics(workdir) if "train/loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 8 and FIRST_STEPS in steps
    assert not os.path.exists(os.path.join(workdir, "corrupt_checkpoints"))


@pytest.mark.slow
def test_a_deliberate_change_continues_the_checkpoint_and_keeps_the_old_record(tmp_path, cache_dir):
    config = write_config_file(tmp_path, "tiny", cache_dir)
    workdir = str(tmp_path / "run")
    assert _run(config, workdir).returncode == 0  # 8 steps
    longer = _run(config, workdir, "--config.resume_policy=changed", "--config.num_epochs=3")
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert "num_epochs 2 -> 3" in longer.stderr
    steps = [r["step"] for r in read_metrics(workdir) if "train/loss" in r]
    assert steps[-1] == 12 and steps.count(8) == 1  # continued from step 8, not started again
    with open(os.path.join(workdir, "config.json")) as f, open(os.path.join(workdir, "config.1.json")) as g:
        assert (json.load(f)["num_epochs"], json.load(g)["num_epochs"]) == (3, 2)
    # A change the saved state cannot take (another task set) is refused even so, naming what does not fit.
    before = _files(workdir)
    line = _one_line_error(_run(config, workdir, "--config.resume_policy=changed", "--config.inpaint.weight=1.0"))
    assert "does not fit this config's model" in line and "params/decoder" in line, line
    assert _files(workdir) == before or set(before) <= set(_files(workdir))
    assert {k: v for k, v in _files(workdir).items() if k.startswith("checkpoints")} == {
        k: v for k, v in before.items() if k.startswith("checkpoints")
    }
    assert not os.path.exists(os.path.join(workdir, "corrupt_checkpoints"))


@pytest.mark.slow
def test_other_data_behind_the_same_settings_is_refused(tmp_path, cache_dir):
    workdir = str(tmp_path / "run")
    train_and_evaluate(tiny_config(cache_dir, stop_at_step=2), workdir)
    # As if the data set had been prepared again with other files: the record says 100 train records, not 64.
    record = os.path.join(workdir, "data.json")
    with open(record) as f:
        data = json.load(f)
    with open(record, "w") as f:
        json.dump({**data, "train_records": 100}, f)
    with pytest.raises(ValueError, match="holds a run with other data: train_records 100 -> 64"):
        train_and_evaluate(tiny_config(cache_dir), workdir)


@pytest.mark.slow
def test_an_unreadable_checkpoint_is_set_aside_without_deleting_an_earlier_one(tmp_path, cache_dir):
    workdir = str(tmp_path / "run")
    config = tiny_config(cache_dir, stop_at_step=4)
    for attempt in range(2):  # the same step made and damaged twice: both damaged copies must survive
        train_and_evaluate(config, workdir)
        state_dir = os.path.join(workdir, "checkpoints", "4", "state")
        damaged = max((os.path.join(d, n) for d, _, ns in os.walk(state_dir) for n in ns), key=os.path.getsize)
        with open(damaged, "r+b") as f:
            f.truncate(os.path.getsize(damaged) // 2)
        train_and_evaluate(tiny_config(cache_dir, stop_at_step=2 + attempt), workdir)  # restores step 2
    set_aside = sorted(os.listdir(os.path.join(workdir, "corrupt_checkpoints")))
    assert set_aside == ["4", "4.1"]


@pytest.mark.slow
def test_init_from_loads_the_matching_parameters_and_says_which(tmp_path, cache_dir, caplog):
    source = str(tmp_path / "source")
    train_and_evaluate(tiny_config(cache_dir, **{"data.image_size": 48}), source)  # 8 steps, emotion only
    config = tiny_config(cache_dir, stop_at_step=1, init_from=source, **{"data.image_size": 48, "jigsaw.weight": 1.0})
    _, jitted = jitted_for(config)
    fresh = jitted.init(jax.random.key(0))
    state, loaded, initialised = initialise_from(source, fresh)
    trained = ocp.tree.to_flat_dict(saved_state(source, 8))
    for name, value in ocp.tree.to_flat_dict(jax.device_get(state.params)).items():
        before = ocp.tree.to_flat_dict(jax.device_get(fresh.params))[name]
        if "jigsaw" in name:  # the new head keeps its initialisation
            np.testing.assert_array_equal(value, before)
        else:  # everything else is the trained run's
            np.testing.assert_array_equal(value, trained[("params", *name)], err_msg=str(name))
    assert sorted(initialised) == ["params/jigsaw/dense/bias", "params/jigsaw/dense/kernel"]
    assert len(loaded) == len(trained) - sum(1 for k in trained if k[0] in ("opt_state", "step", "rng"))
    assert int(state.step) == 0  # a new run: step and optimiser start afresh
    # Through the trainer: the run says what it loaded and what it initialised.
    caplog.set_level(logging.INFO)
    train_and_evaluate(config, str(tmp_path / "target"))
    message = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Initialised from"))
    assert f"{len(loaded)} arrays loaded, 2 initialised afresh" in message and "params/jigsaw/dense/kernel" in message


def test_a_mistake_in_the_command_is_one_line(tmp_path, cache_dir):
    config = write_config_file(tmp_path, "tiny", cache_dir)
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    cases = {
        (f"--config={config}", "--config.no_such_key=1"): "the config has no key",
        (f"--config={tmp_path / 'missing.py'}",): "could not be loaded",
        (f"--config={broken}",): "could not be loaded: SyntaxError",
        (f"--config={config}", "--config.batch_size=-16"): "config.batch_size=-16",
        (f"--config={config}", "--config.jigsaw.weight=-1.0"): "config.jigsaw.weight=-1.0 must be >= 0",
        (f"--config={config}", "--config.data.name=afectnet/8class"): "is no data set",
        (f"--config={config}", "--config.inpaint.face_lines=abc"): "config.inpaint.face_lines",
        (f"--config={config}", "--config.inpaint.weight=1.0", "--config.inpaint.perceptual_network=vgg16",
         f"--config.inpaint.perceptual_weights={tmp_path / 'vgg16.pth'}"): "vgg16.pth",
        # 16 faces in AffectNet's proportions: the rare classes (fear, disgust, contempt) get none.
        (f"--config={config}", "--config.loss.class_weights=True", "--config.data.train_size=16",
         "--config.data.long_tailed=True"): "has no example: train on data with every class",
    }  # fmt: skip
    processes = {
        args: subprocess.Popen(
            [sys.executable, "-m", "hmtl_jax.main", f"--workdir={tmp_path / str(i)}", *args],
            cwd=REPO,
            env=one_device_env(),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        for i, args in enumerate(cases)
    }
    for args, process in processes.items():
        _, stderr = process.communicate(timeout=300)
        line = _one_line_error(subprocess.CompletedProcess([], process.returncode, "", stderr))
        assert cases[args] in line, (args, line)
    verbose = _run(config, tmp_path / "v", "--config.batch_size=-16", "--verbose")
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr


def test_a_class_only_the_validation_split_has_is_named_once(tmp_path, cache_dir, caplog):
    config = tiny_config(cache_dir, **{"data.train_size": 4, "batch_size": 8, "data.validation_size": 16})
    train = set(SyntheticFaces("train", 4, image_size=32).labels().tolist())  # 4 classes of the 8
    lacking = [name for index, name in enumerate(CLASS_NAMES) if index not in train]
    caplog.set_level(logging.WARNING)
    with pytest.raises(ValueError, match="do not fill one batch"):  # the run stops later; the warning came first
        train_and_evaluate(config, str(tmp_path))
    warnings = [r.getMessage() for r in caplog.records if "the train split lacks" in r.getMessage()]
    assert warnings == [f"The validation split has {', '.join(lacking)}, which the train split lacks: those images "
                        "are always wrong"]  # fmt: skip


@pytest.mark.slow
def test_a_second_ctrl_c_during_compilation_leaves_at_once(tmp_path, cache_dir):
    config = write_config_file(tmp_path, "tiny", "")  # no compilation cache: the first step really compiles
    command = [sys.executable, "-m", "hmtl_jax.main", f"--config={config}", f"--workdir={tmp_path / 'run'}"]
    env = {
        name: value for name, value in one_device_env().items() if name != "JAX_COMPILATION_CACHE_DIR"
    }  # the session's
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # the last line before the first step, which compiles it
        if "Training resnet_tiny" in line:
            break
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 130, rest[-2000:]  # not a crash (a negative status) and not a hang
    assert "Second Ctrl-C: leaving now" in rest


def test_a_run_recorded_before_a_key_existed_resumes_while_that_key_keeps_its_default():
    current = as_recorded(tiny_config())
    recorded = json.loads(json.dumps(current))
    del recorded["task"], recorded["data"]["eval_name"]  # keys this version added, absent from an older record
    assert run_differences(recorded, current) == {}
    # Off their default they make another run, as does a key only the record has (removed since).
    changed = as_recorded(tiny_config(task="gender"))
    assert run_differences(recorded, changed) == {"task": (None, "gender")}
    recorded["data"]["old_key"] = 1
    assert run_differences(recorded, current) == {"data.old_key": (1, None)}
