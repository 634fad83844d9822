"""How much face around the detector's box the model wants: accuracy of a trained model on faces found in photos,
by crop margin.

    python -m hmtl_jax.tools.face_margin --workdir=W [--split=validation] [--photos=200] [--margins=0.1,0.2,0.3]

Photos of synthetic faces (hmtl_jax/data/synthetic/photos.py, two faces each); a face counts when the detector's
box centre lies within a quarter face of where it was pasted. Choose on validation, report on test. The default
margin of `python -m hmtl_jax.predict` was chosen this way (hmtl_jax/inference/faces.py).
"""

from __future__ import annotations

import argparse

import numpy as np

from hmtl_jax.data.synthetic.photos import FACE_SIDE, synthetic_photos
from hmtl_jax.inference import Predictor
from hmtl_jax.inference.faces import square_crop
from hmtl_jax.inference.trained_model import TrainedModel


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.tools.face_margin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="a run trained on synthetic faces")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--margins", default="0.1,0.2,0.3,0.4,0.5")
    args = parser.parse_args()
    photos = synthetic_photos(args.split, args.photos)
    model = TrainedModel(args.workdir)
    predictor = Predictor(model)
    # The same faces given whole (no detection, no margin), for comparison.
    faces = [face for _, placed in photos for face in placed]
    answers = Predictor(model, detector="none").predict([face.image for face in faces])
    right = np.mean([a.label == predictor.names[face.label] for a, face in zip(answers, faces, strict=True)])
    print(f"{args.split}: the {len(faces)} faces given whole: accuracy {right:.3f}", flush=True)
    # Detected once: a face counts when the box's centre is within a quarter face of where it was pasted.
    found = [
        (photo, box, face.label)
        for photo, placed in photos
        for box in predictor.detect(photo)
        for face in placed
        if abs(box.x + box.width / 2 - face.centre[0]) < FACE_SIDE / 4
        and abs(box.y + box.height / 2 - face.centre[1]) < FACE_SIDE / 4
    ]
    labels = np.array([label for _, _, label in found])
    for margin in (float(m) for m in args.margins.split(",")):
        scores = predictor.scores([square_crop(photo, box, margin) for photo, box, _ in found])
        accuracy = np.mean(np.argmax(scores, axis=-1) == labels) if found else 0.0
        print(f"{args.split}: margin {margin:.2f}: {len(found)} of {len(faces)} faces found, accuracy "
              f"{accuracy:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
