"""Every data set's own label codes, written down once, and their place in the canonical class order.

The canonical order is AffectNet's expression codes 0-7 (hmtl_jax.data.affectnet_labels.CLASS_NAMES). Data sets
without contempt (RAF-DB, FER2013) use its first seven classes, so a label index means the same emotion in every
prepared data set and a model trained on one can be evaluated on another.
"""

from __future__ import annotations

from hmtl_jax.data.affectnet_labels import CLASS_NAMES

SEVEN_CLASSES = CLASS_NAMES[:7]  # every class but contempt, which is last in AffectNet's order

# AffectNet (both releases): expression code -> name. 8-10 are not emotions and are never written.
AFFECTNET_CODES = {
    0: "neutral",
    1: "happy",
    2: "sad",
    3: "surprise",
    4: "fear",
    5: "disgust",
    6: "anger",
    7: "contempt",
}
AFFECTNET_NON_EMOTION_CODES = {8: "None", 9: "Uncertain", 10: "No-Face"}

# RAF-DB basic, EmoLabel/list_patition_label.txt: 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger,
# 7 Neutral.
RAFDB_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral"}

# FER2013, fer2013.csv `emotion`: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral.
FER2013_CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}

# FERPlus, fer2013new.csv: one vote-count column per emotion (then `unknown` and `NF`, not faces).
FERPLUS_EMOTION_COLUMNS = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "contempt": "contempt",
}
FERPLUS_OTHER_COLUMNS = ("unknown", "NF")

# Folder names a face_folder data set may use for its classes (lower-cased), beside the canonical names.
FOLDER_ALIASES = {
    "neutral": "neutral",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "fear": "fear",
    "afraid": "fear",
    "fearful": "fear",
    "disgust": "disgust",
    "disgusted": "disgust",
    "anger": "anger",
    "angry": "anger",
    "contempt": "contempt",
}
# Folders named by number: whose numbering they follow must be said (`--numbering`), never guessed, because
# AffectNet's 1 is happy, RAF-DB's 1 is surprise and FER2013's 1 is disgust.
NUMBERINGS = {"affectnet": AFFECTNET_CODES, "rafdb": RAFDB_CODES, "fer2013": FER2013_CODES}


def canonical_index(name: str) -> int:
    """The canonical label index of an emotion name (one of CLASS_NAMES)."""
    return CLASS_NAMES.index(name)


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """The canonical class names of an 8-class (with contempt) or 7-class data set."""
    if num_classes not in (7, 8):
        raise ValueError(f"expression data sets have 7 or 8 classes, not {num_classes}")
    return CLASS_NAMES[:num_classes]
