"""What several test files share: tiny configs (tiny images and a tiny model, so a run takes seconds on CPU), config
files for subprocess runs, and readers of what a run leaves in its workdir. On-disk data set fixtures live in
data_fixtures.py."""

import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from hmtl_jax.config.defaults import base_config
from hmtl_jax.config.overrides import apply_overrides
from hmtl_jax.pretext.permutation_set import permutation_set
from hmtl_jax.runtime import sharding
from hmtl_jax.training.jitted import jit_training
from hmtl_jax.training.multitask_loss import loss_and_grads

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG_FILE = """
from tests.helpers import tiny_config

def get_config():
    return tiny_config({cache!r}, **{overrides!r})
"""


def one_device_env() -> dict[str, str]:
    """The environment for a subprocess that runs on one CPU device instead of the suite's eight simulated ones: for
    runs whose subject is not sharding (the sweep's bookkeeping, the benchmarks' tables, which measure one device's
    step, the workdir contract) and that are not compared with a run on the eight. Eight simulated
    devices on two cores make every compile and step several times dearer: the sweep test took 50 s with them and
    30 s without."""
    return {**os.environ, "PYTHONPATH": REPO, "XLA_FLAGS": ""}


def tiny_config(cache_dir: str = "", **overrides):
    config = base_config()
    config.data.image_size = 32
    config.data.train_size = 64
    config.data.validation_size = 24
    config.model.name = "resnet_tiny"
    config.model.dropout_rate = 0.1
    config.optimizer.name = "adamw"
    config.optimizer.learning_rate = 1e-3
    config.batch_size = 16
    config.num_epochs = 2
    config.log_every_steps = 2
    config.checkpoint_every_steps = 2
    config.compilation_cache_dir = cache_dir
    apply_overrides(config, overrides)
    config.lock()
    return config


def write_config_file(tmp_path, name, cache, **overrides) -> str:
    """A config file holding `tiny_config(cache, **overrides)`, for runs of `python -m hmtl_jax.main`."""
    path = tmp_path / f"{name}.py"
    path.write_text(CONFIG_FILE.format(cache=cache, overrides=overrides))
    return str(path)


def read_metrics(workdir) -> list[dict]:
    """The records of `<workdir>/metrics.jsonl`, in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def saved_state(workdir, step):
    """The train state of the checkpoint at `step`, as plain arrays."""
    manager = ocp.CheckpointManager(os.path.join(workdir, "checkpoints"))
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
    manager.close()
    return restored["state"]


def random_batch(seed=0, n=16, size=48) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        "label": rng.integers(0, 8, n).astype(np.int32),
    }


def jitted_for(config, devices=None):
    """(mesh, jit_training(config)) on `devices` (default: all), 8 classes, 4 steps per epoch."""
    mesh = sharding.create_mesh(devices)
    jitted = jit_training(
        config, mesh, 8, steps_per_epoch=4, class_weights=None, permutation_set=permutation_set(config)
    )
    return mesh, jitted


# XLA's backend optimisations (LLVM's, after the HLO passes that partition a program over the devices) cost 15-41 %
# of a compile and save time only over many runs of the program (docs/PERFORMANCE.md).
FEW_RUNS = {"xla_backend_optimization_level": 0}


def evaluate_once(fn, *args, **jit_kwargs):
    """`fn(*args)`, jitted (with `jit_kwargs`) and compiled without XLA's backend optimisations: for programs a test
    evaluates once, where compiling is nearly all the cost (docs/PERFORMANCE.md: the eight such tests of
    tests/test_hmtl_step.py took 76 s instead of 102 s)."""
    return jax.jit(fn, **jit_kwargs).lower(*args).compile(FEW_RUNS)(*args)


def for_a_few_steps(jitted_step, *args):
    """`jitted_step` (the trainer's own jitted function: its shardings, its donation, its partitioned program)
    compiled for `args` without XLA's backend optimisations, for tests that run it a few times: compiling took
    15-41 % less time and each step 1.3-1.6x longer (docs/PERFORMANCE.md). Both sides of a comparison use it: the
    values differ from the default's in the last bits."""
    return jitted_step.lower(*args).compile(FEW_RUNS)


def run_steps(config, count=2, devices=None):
    """(the state on the host, [metrics of each step]) after `count` train steps of a fresh model on `devices`
    (default: all), one random batch of the config's image size each, with the trainer's own step."""
    mesh, jitted = jitted_for(config, devices)
    state = jitted.init(jax.random.key(0))
    size = config.data.image_size
    batches = [sharding.make_global_batch(random_batch(i, size=size), mesh) for i in range(count)]
    step = for_a_few_steps(jitted.train_step, state, batches[0], jitted.perceptual_params)
    history = []
    for batch in batches:
        state, metrics, _ = step(state, batch, jitted.perceptual_params)
        history.append({k: float(v) for k, v in metrics.compute().items()})
    return jax.device_get(state), history


def one_loss_and_grads(jitted, state, batch, rng):
    """`loss_and_grads` of `jitted`'s model and tasks on one batch, as its train step computes them:
    ((loss, (logits, task scalars, new batch statistics)), gradients)."""
    return evaluate_once(
        lambda s, b: loss_and_grads(
            jitted.graphdef, s.params, s.batch_stats, b, rng, jitted.perceptual_params, jitted.spec
        ),
        state,
        batch,
    )


def backbone_grad_norm(config, batch_seed=0):
    """(norm of the backbone's gradient, {task scalar: value}, gradients) of one fresh model on one random batch."""
    mesh, jitted = jitted_for(config, jax.devices()[:1])
    state = jitted.init(jax.random.key(0))
    batch = sharding.make_global_batch(random_batch(batch_seed), mesh)
    (_, (_, scalars, _)), grads = one_loss_and_grads(jitted, state, batch, jax.random.key(1))
    grads = jax.device_get(grads)  # NumPy from here: each eager jnp operation on a new shape compiles a program
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(grads["backbone"]))))
    return norm, {k: float(v) for k, v in scalars.items()}, grads
