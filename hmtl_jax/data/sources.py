"""Pick the data sources a config names. One place that knows every data set the trainer can read."""

from __future__ import annotations

import logging

import ml_collections
import numpy as np

from hmtl_jax.data.affectnet_labels import CLASS_NAMES
from hmtl_jax.data.sampling import SubsetSource, stratified_subset
from hmtl_jax.data.task_labels import TaskLabels
from hmtl_jax.supervised.tasks import output_names

SYNTHETIC = "synthetic_faces"
# The data sets `python -m data_pipelines.prepare` makes, by the first part of config.data.name (the trainer does not
# import data_pipelines; a test checks the two lists agree).
PREPARED_DATASETS = (
    "affectnet", "affectnet_224", "rafdb_basic", "fer2013", "ferplus", "face_folder",
    "celeba", "pose_300w_lp", "pose_aflw2000",
)  # fmt: skip
# The supervised task a prepared data set's labels serve, where it is not emotion. The synthetic faces serve them all.
PREPARED_TASKS = {"celeba": "gender", "pose_300w_lp": "head_pose", "pose_aflw2000": "head_pose"}

log = logging.getLogger(__name__)


def prepared_task(name: str) -> str:
    """The supervised task the labels of the prepared data set `name` ('celeba', 'affectnet/8class') serve."""
    return PREPARED_TASKS.get(name.split("/")[0], "emotion")


def create_sources(data: ml_collections.ConfigDict, task: str = "emotion"):
    """(train_source, validation_source, output_names) for `config.data` and the supervised `task`.

    Sources are Grain random-access sources: `len()`, `[index] -> {'image': uint8 HxWx3, 'label': int, ...}`,
    and `labels()` (all labels without decoding images, for class weights and sampling). With
    `data.train_fraction` < 1 the train source is a stratified subset (the same for every training seed). For gender
    and head pose on the synthetic faces the label is the face's gender or (yaw, pitch, roll); the subset is still
    stratified by expression, so every task trains on the same faces. A prepared data set's label is its own task's
    (`prepared_task`).
    """
    if data.name == SYNTHETIC:
        from hmtl_jax.data.synthetic.faces import SyntheticFaces

        kwargs = dict(image_size=data.image_size, seed=data.seed)
        train = SyntheticFaces("train", data.train_size, long_tailed=data.long_tailed, **kwargs)
        validation = SyntheticFaces("validation", data.validation_size, **kwargs)
        class_names = CLASS_NAMES
    else:
        from hmtl_jax.data.prepared import PreparedSource, open_prepared

        builder = open_prepared(data.data_dir, data.name)
        evaluated = open_prepared(data.data_dir, data.eval_name) if data.eval_name else builder
        train, validation = PreparedSource(builder, data.train_split), PreparedSource(evaluated, data.eval_split)
        class_names = train.class_names
    if data.train_fraction < 1.0:
        train = SubsetSource(train, stratified_subset(train.labels(), data.train_fraction, data.subset_seed))
    if task != "emotion" and data.name == SYNTHETIC:
        train, validation = TaskLabels(train, task), TaskLabels(validation, task)
    if data.in_memory:
        from hmtl_jax.data.in_memory import InMemorySource

        train, validation = InMemorySource(train), InMemorySource(validation)
    return train, validation, output_names(task, class_names)


def create_test_source(data: ml_collections.ConfigDict, task: str = "emotion"):
    """The held-out test split evaluated once at the end of training, or None (`data.test_size` 0, or a prepared data
    set, whose `eval_split` is already its test set)."""
    if data.name != SYNTHETIC or data.test_size <= 0:
        return None
    from hmtl_jax.data.in_memory import InMemorySource
    from hmtl_jax.data.synthetic.faces import SyntheticFaces

    test = SyntheticFaces("test", data.test_size, image_size=data.image_size, seed=data.seed)
    if task != "emotion":
        test = TaskLabels(test, task)
    return InMemorySource(test) if data.in_memory else test


def warn_about_classes_missing_in_train(train_labels, validation_labels, class_names: tuple[str, ...]) -> list[str]:
    """Log once, naming them, the classes the validation split has and the train split lacks: the model can never
    predict them right, which no figure would otherwise explain. Returns their names."""
    missing = sorted(set(np.unique(validation_labels).tolist()) - set(np.unique(train_labels).tolist()))
    names = [class_names[c] for c in missing]
    if names:
        log.warning("The validation split has %s, which the train split lacks: those images are always wrong",
                    ", ".join(names))  # fmt: skip
    return names
