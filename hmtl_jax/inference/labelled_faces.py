"""Labelled faces to evaluate a model on: a prepared data set's split, or a folder `<class>/<image>`. Each yields
(name, RGB image or None, label, problem): the label is an index into the data set's class names (head pose: the
angles); an image that cannot be read comes as None with the reason."""

from __future__ import annotations

import os

from PIL import Image

from hmtl_jax.data.prepared import PreparedSource, open_prepared
from hmtl_jax.data.sources import prepared_task
from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.inference.photos import IMAGE_SUFFIXES, read_photo


def prepared_records(data_dir: str, dataset: str, split: str, task: str):
    """(records, how many, class names) of a split of a prepared data set whose labels serve `task`."""
    if prepared_task(dataset) != task:
        raise ConfigError(f"--dataset={dataset} is labelled for {prepared_task(dataset)}, the model predicts {task}")
    source = PreparedSource(open_prepared(data_dir, dataset), split)

    def records():
        for index in range(len(source)):
            record = source[index]
            yield f"{dataset}[{split}][{index}]", Image.fromarray(record["image"]), record["label"], ""

    return records(), len(source), source.class_names


def folder_records(folder: str):
    """(records, how many, class names) of the image files in `folder/<class>/`, classes in sorted order."""
    if not os.path.isdir(folder):
        raise MissingFileError(f"--folder={folder} is not a directory")
    names = tuple(sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)) and d[0] != "."))
    if not names:
        raise MissingFileError(f"--folder={folder} has no class folders (<class>/<image>, e.g. happy/0001.jpg)")
    files = [
        (os.path.join(folder, name, file), label)
        for label, name in enumerate(names)
        for file in sorted(os.listdir(os.path.join(folder, name)))
        if file.lower().endswith(IMAGE_SUFFIXES)
    ]

    def records():
        for path, label in files:
            photo = read_photo(path)
            yield path, photo.image, label, photo.problem

    return records(), len(files), names
