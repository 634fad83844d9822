"""A trained model rebuilt from its workdir alone: the record the run left (`config.json`: model, image size,
tasks; `data.json`: the class names) and its newest readable checkpoint.

What a workdir must hold to be used, and what each part says, is in docs/INFERENCE.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from etils import epath

from hmtl_jax.config.resume import config_from_record
from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.models.from_config import compute_dtype, model_graphdef, supervised_outputs
from hmtl_jax.runtime import storage
from hmtl_jax.runtime.workdir import CONFIG_FILE, DATA_FILE
from hmtl_jax.supervised import head_pose
from hmtl_jax.supervised.tasks import is_regression, output_names, output_size
from hmtl_jax.training.optimizer import create_optimizer
from hmtl_jax.training.state import create_train_state

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a caller needs to know to feed the model and read its answers."""

    task: str  # emotion | gender | head_pose
    names: tuple[str, ...]  # the classes, in output order (head pose: yaw, pitch, roll)
    image_size: int  # faces are fed as image_size x image_size uint8 RGB
    crop_fraction: float  # the evaluation's centred crop of the face image before resizing
    model_name: str
    data_name: str  # what it was trained on
    step: int  # the checkpoint's step


def _read_json(workdir: epath.Path, name: str) -> dict:
    path = workdir / name
    if not path.exists():
        raise MissingFileError(
            f"{workdir} has no {name}: it is not a workdir of a training run, or one written before runs recorded "
            "their settings. Train into a workdir with python -m hmtl_jax.main (it writes config.json and data.json "
            "when training starts)"
        )
    return json.loads(path.read_text())


def _checkpoints(directory: epath.Path, workdir: epath.Path) -> ocp.CheckpointManager:
    manager = ocp.CheckpointManager(directory) if directory.is_dir() else None
    if manager is None or not manager.all_steps():
        raise MissingFileError(f"{workdir} has no checkpoint yet (checkpoints/<step>): train it first")
    return manager


class TrainedModel:
    """The model of a workdir's newest checkpoint (or of `step`), on one device, in eval mode. `scores(images)` maps
    uint8 faces (B, S, S, 3) to class probabilities (B, C) or head pose's angles in degrees (B, 3)."""

    def __init__(self, workdir: str, step: int | None = None):
        workdir = storage.location(workdir)  # a local folder or a gs:// one
        if not workdir.is_dir():
            raise MissingFileError(f"--workdir={workdir} does not exist")
        recorded, data = _read_json(workdir, CONFIG_FILE), _read_json(workdir, DATA_FILE)
        try:
            self.config = config = config_from_record(recorded)
        except KeyError as error:
            raise ConfigError(f"{workdir}/{CONFIG_FILE} has {error.args[0]}") from None
        names = output_names(config.task, tuple(data["class_names"]))
        width = output_size(config.task, names)
        manager = _checkpoints(workdir / "checkpoints", workdir)
        if step is not None and step not in manager.all_steps():
            raise MissingFileError(f"{workdir} has no checkpoint at step {step} (it has {manager.all_steps()})")
        # The checkpoint holds the whole train state: restore it laid out on this process's first device, keep the
        # parameters and BatchNorm statistics. The optimiser only gives the state its shape.
        tx, _ = create_optimizer(config, 1, 1)
        abstract = jax.eval_shape(lambda key: create_train_state(config, width, tx, key), jax.random.key(0))
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), abstract)
        state = None
        for candidate in [step] if step is not None else sorted(manager.all_steps(), reverse=True):
            try:
                restore = ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
                state, step = manager.restore(candidate, args=restore)["state"], candidate
                break
            except Exception as error:  # noqa: BLE001 - Orbax, TensorStore and JSON errors alike mean "unreadable"
                log.warning("The checkpoint at step %d in %s cannot be read (%s); trying the one before",
                            candidate, workdir, str(error).splitlines()[0][:200])  # fmt: skip
        manager.close()
        if state is None:
            raise ConfigError(f"no checkpoint in {workdir} can be read as this config's model (see the warnings)")
        self.graphdef = model_graphdef(config, width)
        self.params, self.batch_stats = state.params, state.batch_stats
        self.workdir = str(workdir)
        self.card = ModelCard(
            task=config.task,
            names=tuple(names),
            image_size=config.data.image_size,
            crop_fraction=config.input.eval_crop_fraction,
            model_name=config.model.name,
            data_name=config.data.name,
            step=int(step),
        )
        # The weights are arguments, not constants, so that XLA does not fold a large model's weights into the
        # program it compiles.
        self._scores = jax.jit(self._forward)

    def _forward(self, params, batch_stats, images: jax.Array) -> jax.Array:
        outputs = supervised_outputs(self.graphdef, params, batch_stats, images, compute_dtype(self.config))
        if is_regression(self.config.task):
            return head_pose.predicted_angles(outputs)
        return jax.nn.softmax(outputs, axis=-1)

    def scores_function(self):
        """A function of uint8 faces (B, S, S, 3) alone, this checkpoint's weights inside: what `hmtl_jax.export`
        serialises."""
        params, batch_stats = self.params, self.batch_stats
        return lambda images: self._forward(params, batch_stats, images)

    def scores(self, images) -> jax.Array:
        """Probabilities (B, C) or angles (B, 3) of uint8 faces (B, S, S, 3); compiled once per batch shape."""
        return self._scores(self.params, self.batch_stats, jnp.asarray(images, jnp.uint8))
