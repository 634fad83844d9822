"""Any folder of face images laid out `<split>/<class>/<image>`: a user's own data, or a re-packaged AffectNet.

Class folders named after emotions (any of label_maps.FOLDER_ALIASES, any case) are numbered in the canonical order
among the classes present: all 8 classes, or the 7 without contempt, get exactly the canonical indices; a subset is
numbered 0..k-1 in that order (the label names written with the data set say which). Folders named by number must
say whose numbering they use (`numbering`), because the same number means different emotions in different data
sets. Any other folder names are classes of their own, in sorted order (a non-emotion task).
"""

from __future__ import annotations

import dataclasses
import functools
import os

import tensorflow_datasets as tfds

from data_pipelines import image_files
from data_pipelines.label_maps import FOLDER_ALIASES, NUMBERINGS, canonical_index
from data_pipelines.manual_builder import Candidate, LayoutError, ManualBuilder

LAYOUT = """  <manual_dir>/<split>/<class>/<image>   e.g. train/happy/0001.jpg, val/sad/0420.png
      class folders: emotion names (neutral, happy, sad, surprise, fear, disgust, anger, contempt, or aliases),
      numbers with --numbering affectnet|rafdb|fer2013, or any names (then classes are sorted by name)"""


@dataclasses.dataclass(eq=False)
class FaceFolderConfig(tfds.core.BuilderConfig):
    """Which folder is which class; made by `face_folder_config` from the folder itself."""

    class_names: tuple[str, ...] = ()
    folder_labels: tuple[tuple[str, int], ...] = ()  # (class folder name, label index)
    max_size: int = 0


def _split_folders(manual_dir: str) -> list[str]:
    if not os.path.isdir(manual_dir):
        raise LayoutError(f"--manual_dir {manual_dir} is not a directory. Expected:\n{LAYOUT}")
    splits = sorted(
        d for d in os.listdir(manual_dir) if os.path.isdir(os.path.join(manual_dir, d)) and not d.startswith(".")
    )
    if not splits:
        raise LayoutError(f"{manual_dir} has no split folders (train/, val/, ...). Expected:\n{LAYOUT}")
    for split in splits:
        if not _class_folders(os.path.join(manual_dir, split)):
            raise LayoutError(f"{os.path.join(manual_dir, split)} has no class folders. Expected:\n{LAYOUT}")
    return splits


def _class_folders(split_dir: str) -> list[str]:
    return sorted(
        d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)) and not d.startswith(".")
    )


def folder_classes(folders: list[str], numbering: str = "") -> tuple[tuple[str, ...], dict[str, int]]:
    """(class names in label order, class folder -> label) for these class folder names."""
    if all(f.isdigit() for f in folders):
        if numbering not in NUMBERINGS:
            raise LayoutError(
                f"class folders are numbers {folders}: say whose numbering they follow with --numbering "
                f"{'|'.join(NUMBERINGS)} (AffectNet's 1 is happy, RAF-DB's 1 is surprise, FER2013's 1 is disgust)"
            )
        codes = NUMBERINGS[numbering]
        unknown = [f for f in folders if int(f) not in codes]
        if unknown:
            raise LayoutError(f"class folders {unknown} are not {numbering} emotion codes {sorted(codes)}")
        emotions = {f: codes[int(f)] for f in folders}
    elif all(f.lower() in FOLDER_ALIASES for f in folders):
        emotions = {f: FOLDER_ALIASES[f.lower()] for f in folders}
    else:
        return tuple(folders), {f: i for i, f in enumerate(folders)}
    names = tuple(sorted(set(emotions.values()), key=canonical_index))
    if len(names) != len(folders):
        raise LayoutError(f"class folders {folders} name some emotion twice")
    return names, {f: names.index(e) for f, e in emotions.items()}


def face_folder_config(manual_dir: str, name: str = "default", numbering: str = "", max_size: int = 0):
    """A builder config for the folder as it is on disk (raises LayoutError naming what is wrong)."""
    splits = _split_folders(manual_dir)
    folders = sorted({c for s in splits for c in _class_folders(os.path.join(manual_dir, s))})
    class_names, labels = folder_classes(folders, numbering)
    return FaceFolderConfig(
        name=name,
        class_names=class_names,
        folder_labels=tuple(sorted(labels.items())),
        max_size=max_size,
        description=f"image folder {manual_dir}",
    )


class FaceFolder(ManualBuilder):
    """Face images in `<split>/<class>/` folders; the config (from `face_folder_config`) says which class is which."""

    name = "face_folder"
    BUILDER_CONFIGS = [FaceFolderConfig(name="default")]  # a placeholder: preparation passes the scanned config
    EXPECTED_LAYOUT = LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Pass the folder that holds the split folders:\n" + LAYOUT

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.builder_config.class_names

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        _split_folders(manual_dir)

    def _candidates(self, manual_dir: str) -> dict:
        labels = dict(self.builder_config.folder_labels)
        unexpected = sorted(
            {c for s in _split_folders(manual_dir) for c in _class_folders(os.path.join(manual_dir, s))} - set(labels)
        )
        if unexpected:
            raise LayoutError(f"class folders {unexpected} were not there when this config was made; prepare again")
        return {split: self._files(manual_dir, split, labels) for split in _split_folders(manual_dir)}

    def _files(self, manual_dir: str, split: str, labels: dict[str, int]):
        for folder in _class_folders(os.path.join(manual_dir, split)):
            class_dir = os.path.join(manual_dir, split, folder)
            for file_name in sorted(os.listdir(class_dir)):
                if file_name.startswith("."):
                    continue
                read = functools.partial(self._read, manual_dir, os.path.join(split, folder, file_name), labels[folder])
                yield Candidate(f"{split}/{folder}/{file_name}", read)

    def _read(self, manual_dir: str, relative: str, label: int) -> dict:
        jpeg, _ = image_files.load_rgb_jpeg(image_files.read_bytes(manual_dir, relative), self.builder_config.max_size)
        return {"image": jpeg, "label": label}
