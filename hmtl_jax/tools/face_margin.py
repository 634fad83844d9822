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

from hmtl_jax.data.synthetic.faces import SyntheticFaces
from hmtl_jax.data.synthetic.photos import FACE_SIDE, synthetic_photos
from hmtl_jax.inference import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.tools.face_margin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="a run trained on synthetic faces")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--margins", default="0.1,0.2,0.3,0.4,0.5")
    args = parser.parse_args()
    photos = synthetic_photos(args.split, args.photos)
    # The same faces given whole (no detection, no margin), for comparison.
    faces = SyntheticFaces(args.split, 2 * args.photos, image_size=FACE_SIDE, seed=0)
    whole = Predictor.from_workdir(args.workdir, detector="none")
    answers = whole.predict([faces[i]["image"] for i in range(len(faces))])
    right = np.mean([a.label == whole.names[faces[i]["label"]] for i, a in enumerate(answers)])
    print(f"{args.split}: the {len(faces)} faces given whole: accuracy {right:.3f}", flush=True)
    for margin in (float(m) for m in args.margins.split(",")):
        predictor = Predictor.from_workdir(args.workdir, margin=margin)
        hits, found = 0, 0
        for photo, faces in photos:
            for answer in predictor.predict_faces(photo):
                centre = np.array([answer.box.x + answer.box.width / 2, answer.box.y + answer.box.height / 2])
                for face in faces:
                    if np.all(np.abs(centre - face.centre) < FACE_SIDE / 4):
                        found += 1
                        hits += answer.label == predictor.names[face.label]
        print(f"{args.split}: margin {margin:.2f}: {found} of {2 * len(photos)} faces found, accuracy "
              f"{hits / max(found, 1):.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
