"""Command line: python -m hmtl_jax.predict --workdir=W [--output=faces.csv] [--annotate=DIR] PATH...

Finds the faces in every image (PATH: image files, folders, searched recursively, and videos) and writes, per face,
the box, the detector's score, the label and the probability of every class (head pose: yaw, pitch and roll in
degrees): CSV, or JSON Lines when --output ends in .jsonl; to stdout without --output. A file that cannot be read
or holds no face is one row with the reason in `problem`, and the run goes on; the summary on stderr counts them.
Exit status 0 when the run finished (whatever the problems), 2 with one line on stderr for a mistake in the command.
Docs: docs/INFERENCE.md.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import sys

from PIL import ImageDraw, ImageFont
from tqdm import tqdm

from hmtl_jax.errors import ConfigError, UserError
from hmtl_jax.inference.faces import DEFAULT_MARGIN, FaceBox
from hmtl_jax.inference.photos import Photo, is_video, list_inputs, read_photo, read_video, video_frame_count
from hmtl_jax.inference.predictor import Predictor, scaled

FIXED_COLUMNS = ["source", "frame", "seconds", "face", "x", "y", "width", "height", "detector_score", "label"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.predict", description=__doc__.split("\n\n")[1])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images, folders (recursively) and videos")
    parser.add_argument("--workdir", required=True, help="a training run's workdir (its newest checkpoint is used)")
    parser.add_argument("--step", type=int, default=None, help="use the checkpoint of this step instead")
    parser.add_argument("--output", default="-", help="CSV file, or JSON Lines if it ends in .jsonl (default: stdout)")
    parser.add_argument("--annotate", default="", help="write copies of the images with boxes and labels here")
    parser.add_argument("--detector", default="haar", help="haar (default), none (images are faces), or a YuNet .onnx")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="grow the face box by this fraction of "
                        f"its side on every side before the square crop (default {DEFAULT_MARGIN})")  # fmt: skip
    parser.add_argument("--batch_size", type=int, default=32, help="faces per call of the model")
    parser.add_argument("--every_seconds", type=float, default=1.0, help="video: one frame per this many seconds")
    return parser.parse_args(argv)


class Report:
    """The rows, written as they come (CSV or JSON Lines), and the counts for the summary."""

    def __init__(self, output: str, names: tuple[str, ...]):
        try:
            self.stream = sys.stdout if output == "-" else open(output, "w", newline="")
        except OSError as error:
            raise ConfigError(f"--output={output} cannot be written ({error.strerror})") from None
        self.jsonl = output.endswith(".jsonl")
        self.names = list(names)
        self.columns = FIXED_COLUMNS + self.names + ["problem"]
        self.writer = None if self.jsonl else csv.DictWriter(self.stream, self.columns)
        if self.writer:
            self.writer.writeheader()
        self.faces, self.photos, self.problems = 0, 0, collections.Counter()

    def write(self, photo: Photo, face: int | None = None, box: FaceBox | None = None, label="", scores=(), problem=""):
        row = {"source": photo.source, "frame": photo.frame, "seconds": photo.seconds, "face": face, "label": label}
        if box is not None:  # in the file's pixels (a huge photo was looked at scaled down)
            box = scaled(box, photo.scale)
            row |= {"x": box.x, "y": box.y, "width": box.width, "height": box.height,
                    "detector_score": round(box.score, 4)}  # fmt: skip
        row |= {name: round(float(value), 6) for name, value in zip(self.names, scores, strict=False)}
        row["problem"] = problem
        if problem:
            self.problems[problem.split(" (")[0]] += 1
        if self.jsonl:
            self.stream.write(json.dumps({k: v for k, v in row.items() if v not in (None, "")}) + "\n")
        else:
            self.writer.writerow(row)

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()

    def summary(self) -> str:
        text = f"{self.photos} images and frames read, {self.faces} faces"
        if self.problems:
            text += f"; {sum(self.problems.values())} with a problem: " + ", ".join(
                f"{reason} {count}" for reason, count in self.problems.most_common()
            )
        return text


def annotate(photo: Photo, faces, directory: str, roots: list[str]) -> None:
    """A copy of the photo with each face's box and label, under `directory` at the photo's path relative to the
    folder it was found in (a video's frames as `<video>_frame<N>.jpg`)."""
    image = photo.image.copy()
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(image.size) / 40)))
    for face in faces:
        box = face.box
        draw.rectangle((box.x, box.y, box.x + box.width, box.y + box.height), outline=(255, 40, 40), width=width)
        text = (
            f"{face.label} {max(face.probabilities):.2f}"
            if face.label
            else ", ".join(f"{v:.0f}" for v in face.probabilities)
        )
        draw.text((box.x, max(0, box.y - font.size - width)), text, fill=(255, 40, 40), font=font)
    relative = _relative(photo.source, roots)
    stem, ext = os.path.splitext(relative)
    if photo.frame is not None:
        stem, ext = f"{stem}_frame{photo.frame:06d}", ".jpg"
    path = os.path.join(directory, stem + (ext if ext.lower() in (".jpg", ".jpeg", ".png") else ".png"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path)


def _relative(source: str, roots: list[str]) -> str:
    for root in roots:
        if os.path.isdir(root) and os.path.abspath(source).startswith(os.path.abspath(root) + os.sep):
            return os.path.relpath(source, root)
    return os.path.basename(source)


def run(args: argparse.Namespace) -> Report:
    predictor = Predictor.from_workdir(
        args.workdir, step=args.step, detector=args.detector, margin=args.margin, batch_size=args.batch_size
    )
    files, missing = list_inputs(args.paths)
    report = Report(args.output, predictor.names)
    for photo in missing:
        report.write(photo, problem=photo.problem)
    # Photos in the order read, with their boxes and crops (or their problem), until the model has their faces'.
    pending: list[tuple[Photo, list, str]] = []

    def flush():
        crops = [crop for _, found, _ in pending for _, crop in found]
        scores = iter(predictor.scores(crops))
        for photo, found, problem in pending:
            if problem:
                report.write(photo, problem=problem)
                continue
            faces = predictor.faces_of([box for box, _ in found], [next(scores) for _ in found])
            for index, face in enumerate(faces):
                report.write(photo, index, face.box, face.label, face.probabilities)
            report.faces += len(faces)
            if args.annotate:
                annotate(photo, faces, args.annotate, args.paths)
        pending.clear()

    # The bar counts image files and video frames (a video's frames count as read whether or not they are looked at).
    frames = {path: video_frame_count(path) for path in files if is_video(path)}
    with tqdm(total=len(files) - len(frames) + sum(frames.values()), unit="img", desc="predict", file=sys.stderr,
              mininterval=1.0) as bar:  # fmt: skip
        for path in files:
            photos = read_video(path, args.every_seconds) if is_video(path) else [read_photo(path)]
            counted = 0
            for photo in photos:
                seen = 1 if photo.frame is None else photo.frame + 1
                bar.update(max(0, seen - counted))
                counted = max(counted, seen)
                if photo.image is None:
                    pending.append((photo, [], photo.problem))
                    continue
                report.photos += 1
                boxes = predictor.detect(photo.image)
                found = [(box, predictor.crop(photo.image, box)) for box in boxes]
                pending.append((photo, found, "" if boxes else "no face found"))
                if sum(len(found) for _, found, _ in pending) >= args.batch_size:
                    flush()
            bar.update(max(0, frames.get(path, 1) - counted))
        flush()
    report.close()
    return report


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        report = run(args)
    except UserError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    print(report.summary(), file=sys.stderr)


if __name__ == "__main__":
    main()
