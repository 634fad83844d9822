"""Config validation, run before anything expensive, so a bad config fails in a second naming the key. No side
effects: nothing is created, no JAX setting changed."""

from __future__ import annotations

import jax
import ml_collections
from flax import nnx

from hmtl_jax.config.resume import RESUME_POLICIES
from hmtl_jax.config.tasks import task_on
from hmtl_jax.data.augment import AUGMENT_LEVELS
from hmtl_jax.data.input_pipeline import SAMPLINGS
from hmtl_jax.data.sources import PREPARED_DATASETS, SYNTHETIC, prepared_task
from hmtl_jax.errors import ConfigError
from hmtl_jax.models import MODEL_NAMES, create_model, vgg16
from hmtl_jax.models.imagenet_weights import IMAGENET_MODELS, check_imagenet_weights, imagenet_leaves
from hmtl_jax.pretext import jigsaw, masks
from hmtl_jax.pretext.losses import LOSS_REGIONS, PIXEL_LOSSES
from hmtl_jax.pretext.views import BATCH_NORMS, COMBINES, EMOTION_VIEWS
from hmtl_jax.runtime import storage
from hmtl_jax.supervised.tasks import SUPERVISED_TASKS, is_regression
from hmtl_jax.training.nonfinite import MODES as NONFINITE_MODES
from hmtl_jax.training.optimizer import OPTIMIZERS, SCHEDULES


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the first config value that cannot work."""
    choices = {
        "task": (config.task, SUPERVISED_TASKS),
        "data.sampling": (config.data.sampling, SAMPLINGS),
        "model.name": (config.model.name, MODEL_NAMES),
        "input.augment": (config.input.augment, AUGMENT_LEVELS),
        "optimizer.name": (config.optimizer.name, OPTIMIZERS),
        "schedule.name": (config.schedule.name, SCHEDULES),
        "sharding.strategy": (config.sharding.strategy, ("data", "fsdp")),
        "pretext.emotion_view": (config.pretext.emotion_view, EMOTION_VIEWS),
        "pretext.combine": (config.pretext.combine, COMBINES),
        "pretext.batch_norm": (config.pretext.batch_norm, BATCH_NORMS),
        "jigsaw.target": (config.jigsaw.target, jigsaw.TARGETS),
        "jigsaw.permutations": (config.jigsaw.permutations, jigsaw.PERMUTATION_SOURCES),
        "inpaint.fill": (config.inpaint.fill, masks.FILLS),
        "inpaint.pixel_loss": (config.inpaint.pixel_loss, PIXEL_LOSSES),
        "inpaint.loss_region": (config.inpaint.loss_region, LOSS_REGIONS),
        "inpaint.perceptual_network": (config.inpaint.perceptual_network, ("none", "vgg16")),
        "nonfinite": (config.nonfinite, NONFINITE_MODES),
        "resume_policy": (config.resume_policy, RESUME_POLICIES),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"config.{key}={value!r} is not one of {allowed}")
    devices = jax.device_count()
    if config.batch_size <= 0 or config.batch_size % devices:
        raise ConfigError(
            f"config.batch_size={config.batch_size} must be a positive multiple of the number of devices ({devices}): "
            f"each device takes an equal share of the global batch. Try --config.batch_size="
            f"{max(devices, (config.batch_size // devices) * devices)}"
        )
    for key, allowed, requirement in VALUE_RANGES:
        value = _value(config, key)
        if not allowed(value):
            raise ConfigError(f"config.{key}={value!r} {requirement}")
    for key, allowed, requirement in SEQUENCES:
        value = _value(config, key)
        if not isinstance(value, (tuple, list)) or not allowed(value):
            raise ConfigError(f"config.{key}={value!r} {requirement}")
    if config.schedule.warmup_epochs >= config.num_epochs:
        raise ConfigError(
            f"config.schedule.warmup_epochs={config.schedule.warmup_epochs} must be less than "
            f"config.num_epochs={config.num_epochs}"
        )
    if config.data.image_size < 32:
        raise ConfigError(f"config.data.image_size={config.data.image_size} is too small (at least 32)")
    if config.num_epochs <= 0:
        raise ConfigError(f"config.num_epochs={config.num_epochs} must be positive")
    if not 0.0 < config.input.eval_crop_fraction <= 1.0:
        raise ConfigError(f"config.input.eval_crop_fraction={config.input.eval_crop_fraction} must be in (0, 1]")
    if config.init_from and not storage.location(config.init_from).exists():
        raise ConfigError(
            f"config.init_from={config.init_from} does not exist: give the workdir of the run to start from"
        )
    if config.model.imagenet_weights:
        check_imagenet_config(config)
    check_data_config(config)
    check_supervised_config(config)
    check_task_config(config)


def check_supervised_config(config: ml_collections.ConfigDict) -> None:
    """Settings of the supervised task that its labels cannot use."""
    if config.data.name != SYNTHETIC and config.task != prepared_task(config.data.name):
        raise ConfigError(
            f"config.data.name={config.data.name!r} is labelled for {prepared_task(config.data.name)}, not "
            f"config.task={config.task!r}: set --config.task={prepared_task(config.data.name)}, or use "
            f"{SYNTHETIC!r}, which has every task's labels"
        )
    data = config.data
    if data.eval_name and (data.name == SYNTHETIC or data.eval_name.split("/")[0] not in PREPARED_DATASETS):
        raise ConfigError(
            f"config.data.eval_name={data.eval_name!r} must name a prepared data set ({', '.join(PREPARED_DATASETS)}) "
            f"to evaluate a prepared config.data.name on"
        )
    if data.eval_name and prepared_task(data.eval_name) != prepared_task(data.name):
        raise ConfigError(
            f"config.data.eval_name={data.eval_name!r} is labelled for {prepared_task(data.eval_name)}, "
            f"config.data.name={data.name!r} for {prepared_task(data.name)}: evaluate on a data set of the same task"
        )
    if is_regression(config.task):
        if config.input.augment != "none":
            raise ConfigError(
                f"config.input.augment={config.input.augment!r} rotates the image, which changes its roll: use "
                f"'none' for config.task={config.task!r} (flips are fine: they mirror the angles too)"
            )
        for key, value, why in (
            ("loss.class_weights", config.loss.class_weights, "weights classes"),
            ("loss.label_smoothing", config.loss.label_smoothing, "smooths class labels"),
            ("data.sampling", config.data.sampling == "balanced", "balances classes"),
        ):
            if value:
                raise ConfigError(
                    f"config.{key} {why}, and config.task={config.task!r} has none: leave it at its default"
                )


def check_imagenet_config(config: ml_collections.ConfigDict) -> None:
    if config.model.name not in IMAGENET_MODELS:
        raise ConfigError(
            f"config.model.imagenet_weights needs a model timm and torchvision publish ImageNet weights for: one of "
            f"{', '.join(IMAGENET_MODELS)}, not config.model.name={config.model.name!r}"
        )
    if config.init_from:
        raise ConfigError("set config.init_from or config.model.imagenet_weights, not both: each gives the start")
    # Read now, so that a file of another model fails before anything is compiled (the run reads it again to load
    # it: a second read of a file this size costs well under a second). Any class count: the head may misfit.
    model = nnx.eval_shape(
        lambda: create_model(config.model.name, num_classes=2, for_imagenet_weights=True, rngs=nnx.Rngs(0))
    )
    imagenet_leaves(model, check_imagenet_weights(config.model.imagenet_weights))


def check_data_config(config: ml_collections.ConfigDict) -> None:
    data = config.data
    if not data.name:
        raise ConfigError(f"config.data.name is empty: {SYNTHETIC!r} or a prepared data set such as 'affectnet/8class'")
    if data.name != SYNTHETIC and data.name.split("/")[0] not in PREPARED_DATASETS:
        raise ConfigError(
            f"config.data.name={data.name!r} is no data set: {SYNTHETIC!r}, or a prepared one named after "
            f"{', '.join(PREPARED_DATASETS)} (e.g. 'affectnet/8class', 'rafdb_basic', 'face_folder/<your name>')"
        )
    if data.name != SYNTHETIC and not data.data_dir:
        raise ConfigError(
            f"config.data.data_dir is not set: where `python -m data_pipelines.prepare` wrote "
            f"{data.name!r} (its --data_dir)"
        )
    if data.test_size < 0 or (data.test_size > 0 and data.name != SYNTHETIC):
        raise ConfigError(
            f"config.data.test_size={data.test_size} must be 0, or positive for {SYNTHETIC!r} (a prepared data set's "
            "test split is its config.data.eval_split)"
        )
    if data.in_memory and data.name != SYNTHETIC:
        raise ConfigError("config.data.in_memory is for synthetic_faces only (prepared images differ in size)")
    if not 0.0 < data.train_fraction <= 1.0:
        raise ConfigError(f"config.data.train_fraction={data.train_fraction} must be in (0, 1]")
    if data.sampling == "balanced" and config.loss.class_weights:
        raise ConfigError(
            "config.data.sampling='balanced' and config.loss.class_weights=True both correct the class imbalance, "
            "and together over-correct it: choose one (the paper's code uses class weights)"
        )


def _value(config: ml_collections.ConfigDict, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def _at_least(low):
    return lambda v: v >= low


def _in_unit_interval(v):
    return 0.0 <= v < 1.0


# Values no run can use, each with what it must be. Choices and data settings are checked above and below.
VALUE_RANGES = (
    ("optimizer.learning_rate", lambda v: v > 0, "must be > 0"),
    ("optimizer.weight_decay", _at_least(0), "must be >= 0"),
    ("optimizer.b1", _in_unit_interval, "must be in [0, 1)"),
    ("optimizer.b2", _in_unit_interval, "must be in [0, 1)"),
    ("optimizer.momentum", _in_unit_interval, "must be in [0, 1)"),
    ("optimizer.grad_clip_norm", _at_least(0), "must be >= 0 (0 = no clipping)"),
    ("schedule.warmup_epochs", _at_least(0), "must be >= 0"),
    ("schedule.decay_factor", lambda v: 0 < v <= 1, "must be in (0, 1]"),
    ("loss.label_smoothing", _in_unit_interval, "must be in [0, 1)"),
    ("model.dropout_rate", _in_unit_interval, "must be in [0, 1)"),
    ("jigsaw.dropout_rate", _in_unit_interval, "must be in [0, 1)"),
    ("input.worker_count", _at_least(0), "must be >= 0 (0 = read in threads)"),
    ("input.read_threads", _at_least(1), "must be >= 1"),
    ("input.prefetch_batches", _at_least(1), "must be >= 1"),
    ("log_every_steps", _at_least(1), "must be >= 1"),
    ("eval_every_epochs", lambda v: v > 0, "must be > 0"),
    ("checkpoint_every_steps", _at_least(1), "must be >= 1"),
    ("keep_checkpoints", _at_least(1), "must be >= 1"),
    ("stop_at_step", _at_least(0), "must be >= 0 (0 = train to the end)"),
    ("max_skipped_steps", _at_least(0), "must be >= 0"),
)


def _numbers(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# Tuple-valued settings: an override such as --config.inpaint.face_lines=abc would otherwise fail only when the step
# is traced, long after the start.
SEQUENCES = (
    (
        "inpaint.face_lines",
        lambda v: len(v) == 2 and _numbers(v) and all(0 < x < 1 for x in v),
        "must be two heights in (0, 1), eyes then mouth, e.g. --config.inpaint.face_lines='(0.40, 0.68)'",
    ),
    (
        "schedule.decay_epochs",
        lambda v: _numbers(v) and all(x >= 0 for x in v),
        "must be epochs >= 0, e.g. --config.schedule.decay_epochs='(15, 40)'",
    ),
    (
        "inpaint.perceptual_layers",
        lambda v: len(v) > 0 and all(isinstance(x, str) for x in v),
        'must be VGG-16 layer names, e.g. --config.inpaint.perceptual_layers=\'("relu1_2", "relu2_2")\'',
    ),
)


def check_task_config(config: ml_collections.ConfigDict) -> None:
    """The loss weights and the settings of each pretext task that is on."""
    weights = {
        "loss.emotion_weight": config.loss.emotion_weight,
        "jigsaw.weight": config.jigsaw.weight,
        "inpaint.weight": config.inpaint.weight,
    }
    for key, value in weights.items():
        if value < 0:
            raise ConfigError(f"config.{key}={value} must be >= 0")
    if not any(weights.values()):
        raise ConfigError("every loss weight is 0: set config.loss.emotion_weight, jigsaw.weight or inpaint.weight")
    if task_on(config, "jigsaw"):
        jigsaw.check_grid(config.data.image_size, config.jigsaw.grid)
        if config.jigsaw.permutations == "uniform" and config.jigsaw.target == "permutation":
            raise ConfigError(
                "config.jigsaw.permutations='uniform' draws from all permutations, which have no index to predict: "
                "use it with config.jigsaw.target='per_tile', or keep permutations='hamming'"
            )
        if config.jigsaw.permutations == "hamming":
            jigsaw.check_set_size(config.jigsaw.grid, config.jigsaw.num_permutations)
    if task_on(config, "inpaint"):
        inpaint = config.inpaint
        masks.check_mask_config(inpaint.mask_shape, inpaint.mask_ratio, inpaint.mask_count, inpaint.face_lines)
        if inpaint.perceptual_network == "vgg16":
            vgg16.check_layers(inpaint.perceptual_layers)
            vgg16.check_weights_file(inpaint.perceptual_weights)
