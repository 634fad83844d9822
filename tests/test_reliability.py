"""What survives what: SIGTERM, kill -9 (also during checkpoint writes), a damaged checkpoint, a non-finite loss,
a bad config, and training as several JAX processes. Real subprocesses, real signals, real files damaged on disk."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import orbax.checkpoint as ocp
import pytest

from hmtl_jax.config.validation import check_config
from hmtl_jax.training.loop import train_and_evaluate
from hmtl_jax.training.nonfinite import NonFiniteLoss
from tests.helpers import (
    REPO,
    one_device_env,
    read_metrics,
    saved_state,
    tiny_config,
    write_config_file,
)

# 40 steps of 16 faces (64 train faces, 4 steps an epoch), evaluated only at the end: long enough to interrupt.
LONG = {"num_epochs": 10, "log_every_steps": 1, "eval_every_epochs": 1000, "checkpoint_every_steps": 1000}
TOTAL = 40


def _command(config_path, workdir):
    return [sys.executable, "-m", "hmtl_jax.main", f"--config={config_path}", f"--workdir={workdir}"]


def _wait_for_step(workdir, step, process, timeout=240):
    """Block until the run at `workdir` has logged `step` (it logs every step)."""
    deadline = time.monotonic() + timeout
    path = os.path.join(workdir, "metrics.jsonl")
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        if os.path.exists(path) and any(r.get("step", 0) >= step for r in read_metrics(workdir) if "train/loss" in r):
            return
        time.sleep(0.02)
    raise TimeoutError(f"step {step} not reached")


def _assert_same_state(workdir_a, workdir_b, step):
    flat_a = ocp.tree.to_flat_dict(saved_state(workdir_a, step))
    flat_b = ocp.tree.to_flat_dict(saved_state(workdir_b, step))
    assert flat_a.keys() == flat_b.keys()
    for key in flat_a:
        np.testing.assert_array_equal(flat_a[key], flat_b[key], err_msg=str(key))


def _losses(workdir):
    return {r["step"]: r["train/loss"] for r in read_metrics(workdir) if "train/loss" in r}


def _run(config_path, workdir, **kwargs):
    """`python -m hmtl_jax.main` on one CPU device: what these tests stop, kill and resume is the run, not its
    sharding (the resume tests of tests/test_train.py and tests/test_hmtl_train.py restore onto eight devices)."""
    return subprocess.Popen(_command(config_path, workdir), cwd=REPO, env=one_device_env(), **kwargs)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, cache_dir):
    """The uninterrupted run every interrupted one must match bit for bit."""
    workdir = str(tmp_path_factory.mktemp("straight"))
    config = write_config_file(tmp_path_factory.mktemp("config"), "long", cache_dir, **LONG)
    process = _run(config, workdir, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    return workdir


@pytest.mark.slow
def test_sigterm_saves_at_the_next_step_and_the_same_command_resumes_exactly(tmp_path, cache_dir, straight):
    config = write_config_file(tmp_path, "long", cache_dir, **LONG)
    workdir = str(tmp_path / "run")
    process = _run(config, workdir, stderr=subprocess.PIPE, text=True)
    _wait_for_step(workdir, 5, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "rerun the same command to continue" in stderr
    saved = ocp.CheckpointManager(os.path.join(workdir, "checkpoints")).all_steps()
    assert len(saved) == 1 and 5 <= saved[0] < TOTAL  # saved where it stopped, not at a checkpoint interval

    resumed = _run(config, workdir, stderr=subprocess.PIPE, text=True)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"Resumed from checkpoint at step {saved[0]}" in stderr
    _assert_same_state(straight, workdir, TOTAL)
    assert _losses(workdir)[TOTAL] == _losses(straight)[TOTAL]


def _stat(path) -> list[str] | None:
    """The fields of a /proc `stat` file after the command name (state first, then the parent's pid), or None when
    the process or thread has ended."""
    try:
        with open(path) as f:
            return f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def _children(pid) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    stats = {int(entry): _stat(f"/proc/{entry}/stat") for entry in filter(str.isdigit, os.listdir("/proc"))}
    return [child for child, fields in stats.items() if fields and int(fields[1]) == pid]


def _running(pid) -> bool:
    fields = _stat(f"/proc/{pid}/stat")
    return fields is not None and fields[0] != "Z"  # a zombie has exited


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_the_faces_are_rendered_leaves_no_process_behind(tmp_path, signal_number):
    # Enough faces that rendering them takes the worker processes tens of seconds: the signal lands mid-way.
    config = write_config_file(tmp_path, "render", "", **{"data.in_memory": True, "data.train_size": 40_000})
    log = tmp_path / "stderr"
    with open(log, "w") as stderr:  # a file, not a pipe: processes left behind would hold a pipe open
        # Ctrl-C's default action, as in a terminal: pytest-xdist's workers ignore SIGINT and children inherit that,
        # so the trainer is exec'd (same process) from a Python that restored it first.
        restore = (
            "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
        )
        command = [sys.executable, "-c", restore, *_command(config, str(tmp_path / "run"))]
        process = subprocess.Popen(command, cwd=REPO, stderr=stderr)
    deadline, children = time.monotonic() + 120, []
    while len(children) < 3 and time.monotonic() < deadline:  # two rendering workers and the resource tracker
        assert process.poll() is None, log.read_text()
        children = _children(process.pid)
        time.sleep(0.05)
    try:
        assert len(children) >= 3, f"the rendering workers never started: {children}"
        time.sleep(1)  # rendering
        process.send_signal(signal_number)
        process.wait(timeout=60)
        if signal_number == signal.SIGINT:  # Ctrl-C: a line saying so, not a traceback
            assert process.returncode == 130 and "Traceback" not in log.read_text(), log.read_text()[-2000:]
            assert "Ctrl-C outside the train steps: stopped" in log.read_text()
        deadline = time.monotonic() + 10
        while (alive := [pid for pid in children if _running(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"left behind: {alive}"
    finally:
        for pid in [process.pid, *children]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def _half_written(checkpoints):
    """The temporary directories of checkpoint writes in progress (Orbax renames each to `<step>` when complete)."""
    if not os.path.isdir(checkpoints):
        return []
    return sorted(name for name in os.listdir(checkpoints) if ".orbax-checkpoint-tmp" in name)


def _frozen(pid) -> bool:
    """Whether every thread of process `pid` is stopped (SIGSTOP takes effect asynchronously)."""
    states = [_stat(f"/proc/{pid}/task/{task}/stat") for task in os.listdir(f"/proc/{pid}/task")]
    return all(fields[0] in "tT" for fields in states if fields)  # (None: a thread that ended meanwhile)


def _kill_during_a_checkpoint_write(checkpoints, process, timeout=240):
    """SIGKILL `process` while a checkpoint's temporary directory exists: when one appears, the process is frozen
    (SIGSTOP, every thread, the background writer included), and killed if the directory is still there; otherwise
    it continues (SIGCONT) until the next write. Returns the temporary directories left behind by the kill."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "the run ended before a checkpoint write could be interrupted"
        if time.monotonic() > deadline:
            raise TimeoutError("no checkpoint write could be interrupted")
        if _half_written(checkpoints):
            process.send_signal(signal.SIGSTOP)
            while not _frozen(process.pid):
                time.sleep(0.001)
            if _half_written(checkpoints):
                break
            process.send_signal(signal.SIGCONT)  # the write finished between the two looks
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    return _half_written(checkpoints)


@pytest.mark.slow
def test_kill_9_during_steps_and_checkpoint_writes_loses_nothing(tmp_path, cache_dir, straight):
    # A checkpoint every step, written in the background while the next steps run. Killed twice, each time while a
    # checkpoint is half written (its temporary directory exists; the test checks it did): after step 3, and, in the
    # resumed run, after step 12, once older checkpoints are being deleted too.
    config = write_config_file(tmp_path, "every_step", cache_dir, **{**LONG, "checkpoint_every_steps": 1})
    workdir = str(tmp_path / "run")
    checkpoints = os.path.join(workdir, "checkpoints")
    latest = None
    for kill_after in (3, 12):
        log = tmp_path / f"stderr_{kill_after}"
        with open(log, "w") as stderr:
            process = _run(config, workdir, stderr=stderr)
        _wait_for_step(workdir, kill_after, process)
        left = _kill_during_a_checkpoint_write(checkpoints, process)
        if latest is not None:
            assert f"Resumed from checkpoint at step {latest}" in log.read_text()
        assert left, f"the kill after step {kill_after} did not land during a checkpoint write"
        interrupted = max(int(name.split(".")[0]) for name in left)
        latest = ocp.CheckpointManager(checkpoints).latest_step()
        assert latest is not None and latest < interrupted < TOTAL  # the half-written one does not count

    # The rerun may checkpoint less often (a setting that does not change the run): the rest is a plain resume.
    config = write_config_file(tmp_path, "long", cache_dir, **LONG)
    resumed = _run(config, workdir, stderr=subprocess.PIPE, text=True)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"Resumed from checkpoint at step {latest}" in stderr
    _assert_same_state(straight, workdir, TOTAL)


def _largest_file(directory):
    files = [os.path.join(root, name) for root, _, names in os.walk(directory) for name in names]
    return max(files, key=os.path.getsize)


@pytest.mark.slow
def test_a_truncated_latest_checkpoint_is_reported_and_the_previous_one_used(tmp_path, cache_dir):
    config = write_config_file(
        tmp_path, "every_4", cache_dir, **{**LONG, "checkpoint_every_steps": 4, "stop_at_step": 12}
    )
    workdir = str(tmp_path / "run")

    def run() -> str:
        process = _run(config, workdir, stderr=subprocess.PIPE, text=True)
        stderr = process.communicate(timeout=300)[1]
        assert process.returncode == 0, stderr[-2000:]
        return stderr

    run()
    damaged = _largest_file(os.path.join(workdir, "checkpoints", "12"))
    with open(damaged, "r+b") as f:
        f.truncate(os.path.getsize(damaged) // 2)
    stderr = run()
    assert "Checkpoint at step 12 cannot be read" in stderr
    assert "Resumed from checkpoint at step 8" in stderr
    assert os.path.isdir(os.path.join(workdir, "corrupt_checkpoints", "12"))  # kept aside for a look, never reused
    # Steps 9 to 12 ran twice, before the damage and after resuming from step 8: with the same losses, bit for bit.
    logged = [(r["step"], r["train/loss"]) for r in read_metrics(workdir) if "train/loss" in r]
    assert [step for step, _ in logged] == [*range(1, 13), *range(9, 13)]
    assert logged[8:12] == logged[12:]


@pytest.mark.slow
def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, cache_dir):
    diverging = {
        "optimizer.name": "sgd",
        "optimizer.learning_rate": 1e30,
        "checkpoint_every_steps": 1,
        "log_every_steps": 1,
    }
    config = write_config_file(tmp_path, "diverging", cache_dir, **diverging)
    workdir = str(tmp_path / "run")
    result = subprocess.run(_command(config, workdir), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Non-finite loss at step 2 (emotion_loss=nan, loss=nan)" in result.stderr
    assert "Traceback" not in result.stderr
    manager = ocp.CheckpointManager(os.path.join(workdir, "checkpoints"))
    assert manager.all_steps() == [1]  # the step before the divergence, nothing after it
    state = saved_state(workdir, 1)
    assert all(np.isfinite(leaf).all() for leaf in ocp.tree.to_flat_dict(state["params"]).values())

    with pytest.raises(NonFiniteLoss, match="more than config.max_skipped_steps=3"):
        train_and_evaluate(
            tiny_config(cache_dir, **diverging, nonfinite="skip", max_skipped_steps=3), str(tmp_path / "skipping")
        )


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"optimizer.learning_rate": -0.1}, "config.optimizer.learning_rate=-0.1 must be > 0"),
        ({"loss.label_smoothing": 1.0}, "config.loss.label_smoothing=1.0 must be in [0, 1)"),
        ({"keep_checkpoints": 0}, "config.keep_checkpoints=0 must be >= 1"),
        ({"schedule.warmup_epochs": 3.0}, "warmup_epochs=3.0 must be less than config.num_epochs=2"),
        ({"nonfinite": "ignore"}, "config.nonfinite='ignore' is not one of"),
    ],
)
def test_impossible_values_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        check_config(tiny_config(**overrides))


# With JAX_LOG_COMPILES=1 JAX logs every compilation ("Compiling jit(f) ...", "Finished XLA compilation of ...").
LOG_COMPILES = {**os.environ, "JAX_LOG_COMPILES": "1"}
COMPILATION_LOGGED = re.compile(r"Compiling |XLA compilation")


def test_bad_values_on_the_command_line_fail_before_compiling(tmp_path):
    # The log is seen where the trainer's logging setup would show it (absl's app, the jax logger at WARNING).
    control = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, jax; from absl import app\n"
            "def main(argv):\n"
            "    logging.getLogger('jax').setLevel(logging.WARNING)\n"
            "    jax.jit(lambda x: x + 1)(1)\n"
            "app.run(main)",
        ],
        env=LOG_COMPILES,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert control.returncode == 0 and COMPILATION_LOGGED.search(control.stderr), control.stderr[-2000:]
    for flag, expected in (
        ("--config.optimizer.learning_rate=-1.0", "config.optimizer.learning_rate=-1.0 must be"),
        ("--config.batch_size=abc", "config.batch_size"),
    ):
        started = time.monotonic()
        result = subprocess.run(
            [*_command("configs/demo.py", str(tmp_path / "w")), flag],
            cwd=REPO,
            env=LOG_COMPILES,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode != 0 and expected in result.stderr, result.stderr[-2000:]
        assert not COMPILATION_LOGGED.search(result.stderr), result.stderr[-2000:]  # nothing was compiled
        assert not os.path.exists(tmp_path / "w" / "checkpoints")
        assert time.monotonic() - started < 60


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start_processes(config, workdir, port, cluster):
    """Two processes of one CPU device each, joined as the launchers join them: `slurm` is what
    launch/slurm_gpu.sh's srun gives every process (SLURM's environment, `--distributed`: JAX's own detection),
    `explicit` the coordinator address and process id of docs/CLOUD.md's other clusters."""
    env = {**os.environ, "XLA_FLAGS": ""}
    if cluster == "slurm":
        env.update(
            SLURM_JOB_ID="4242", SLURM_STEP_NODELIST="localhost", SLURM_NTASKS="2", JAX_COORDINATOR_PORT=str(port)
        )
        per_process = [{"SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)} for i in range(2)]
        command = [*_command(config, workdir), "--distributed"]
    else:
        env.update(HMTL_COORDINATOR_ADDRESS=f"localhost:{port}", HMTL_NUM_PROCESSES="2")
        per_process = [{"HMTL_PROCESS_ID": str(i)} for i in range(2)]
        command = _command(config, workdir)
    return [
        subprocess.Popen(
            command, cwd=REPO, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for extra in per_process
    ]


def _finish(processes):
    outputs = [p.communicate(timeout=500)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    return outputs


@pytest.mark.slow
def test_two_processes_train_as_one_stop_together_on_sigterm_and_resume_exactly(tmp_path):
    # 12 steps of SGD, checkpointed every 2, evaluated at step 8 and at the end. SGD: two processes sum the same
    # numbers in a different order (collectives across processes), and Adam would magnify those last-bit differences
    # in near-zero gradients.
    settings = {
        **LONG,
        "num_epochs": 3,
        "eval_every_epochs": 2,
        "checkpoint_every_steps": 2,
        "optimizer.name": "sgd",
        "optimizer.learning_rate": 0.05,
    }
    # The first run fills this test's compilation cache for the second (JAX: only process 0 writes it).
    config = write_config_file(tmp_path, "two", str(tmp_path / "cache"), **settings)
    two, one = str(tmp_path / "two"), str(tmp_path / "one")

    # Started as on a SLURM cluster and stopped by SIGTERM, as a TPU pod's maintenance event reaches every host: both
    # stop at the same step and save.
    processes = _start_processes(config, two, _free_port(), cluster="slurm")
    _wait_for_step(two, 5, processes[0])
    for process in processes:
        process.send_signal(signal.SIGTERM)
    outputs = _finish(processes)
    assert "Process 1 of 2, 1 local of 2 devices" in outputs[1]
    where = [line.split("Stopped at ")[1] for out in outputs for line in out.splitlines() if "Stopped at step" in line]
    assert len(where) == 2 and where[0] == where[1]
    stopped_at = int(where[0].split()[1])
    checkpoints = os.path.join(two, "checkpoints")
    assert ocp.CheckpointManager(checkpoints).latest_step() == stopped_at < 12
    first_losses = _losses(two)
    # The same run again, joined by an explicit coordinator, resumes to the end. Without the stop's own checkpoint,
    # so that it resumes from the one before and recomputes the steps up to the stop: their losses must be the first
    # run's, bit for bit.
    shutil.rmtree(os.path.join(checkpoints, str(stopped_at)))
    _finish(_start_processes(config, two, _free_port(), cluster="explicit"))
    logged = [(r["step"], r["train/loss"]) for r in read_metrics(two) if "train/loss" in r]
    again = [(step, loss) for step, loss in logged[stopped_at:] if step <= stopped_at]
    assert again and all(first_losses[step] == loss for step, loss in again), (again, first_losses)
    assert [step for step, _ in logged[stopped_at + len(again) :]] == list(range(stopped_at + 1, 13))

    # Two processes of one device train as one process of two devices. Over many steps any last-bit difference
    # grows (training is chaotic): the comparison is over the first 8 steps and the evaluation after them.
    two_devices = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    single = subprocess.run(_command(config, one), cwd=REPO, env=two_devices, capture_output=True, text=True)
    assert single.returncode == 0 and "global batch 16 on 2 devices" in single.stderr, single.stderr[-2000:]
    losses_one, losses_two = _losses(one), _losses(two)
    assert sorted(losses_one) == sorted(losses_two) == list(range(1, 13))
    np.testing.assert_allclose([losses_two[s] for s in range(1, 9)], [losses_one[s] for s in range(1, 9)], rtol=1e-5)
    at_8 = [[r for r in read_metrics(w) if r.get("step") == 8 and "val/accuracy" in r][-1] for w in (one, two)]
    assert at_8[0]["val/accuracy"] == at_8[1]["val/accuracy"]
