"""Pick the data sources a config names. One place that knows every data set the trainer can read."""

from __future__ import annotations

import os

import ml_collections

from hmtl_jax.data.affectnet_labels import CLASS_NAMES

DATASETS = ("synthetic_faces", "affectnet")


def create_sources(data: ml_collections.ConfigDict):
    """(train_source, validation_source, class_names) for `config.data`.

    Sources are Grain random-access sources: `len()`, `[index] -> {'image': uint8 HxWx3, 'label': int, ...}`,
    and `labels()` (all labels without decoding images, for class weights).
    """
    if data.name == "synthetic_faces":
        from hmtl_jax.data.synthetic_faces import SyntheticFaces

        kwargs = dict(image_size=data.image_size, seed=data.seed)
        train = SyntheticFaces("train", data.train_size, long_tailed=data.long_tailed, **kwargs)
        validation = SyntheticFaces("validation", data.validation_size, **kwargs)
        if data.in_memory:
            from hmtl_jax.data.in_memory import InMemorySource

            train, validation = InMemorySource(train), InMemorySource(validation)
        return train, validation, CLASS_NAMES
    if data.name == "affectnet":
        raise FileNotFoundError(_missing_affectnet_message(data.data_dir))
    raise ValueError(f"config.data.name must be one of {DATASETS}, got {data.name!r}")


def _missing_affectnet_message(data_dir: str | None) -> str:
    where = os.path.abspath(os.path.expanduser(data_dir)) if data_dir else "(config.data.data_dir is not set)"
    return (
        "This config trains on AffectNet, which cannot be shipped and must be prepared first.\n"
        "It needs the official AffectNet release (Manually_Annotated_Images/<subdir>/<name>.jpg with training.csv "
        "and validation.csv; 8 classes, expression codes 0-7) converted to ArrayRecord files under "
        f"config.data.data_dir = {where}.\n"
        "This version of hmtl_jax does not include the AffectNet preparation step yet "
        "(`python -m data_pipelines.prepare affectnet ...`), so no AffectNet data set can be found. "
        "Train on the embedded synthetic faces meanwhile: --config=configs/demo.py"
    )
