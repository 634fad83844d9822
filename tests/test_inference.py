"""Using a trained workdir: the Predictor gives what evaluation gives, `python -m hmtl_jax.predict` finds the faces
in photos and videos and reports every file it cannot use, `hmtl_jax.evaluate` scores a checkpoint on other data
with the classes matched by name, and `hmtl_jax.export` writes a model that runs without this project.

Real image files in awkward formats, real videos, real subprocesses; a tiny model trained at the start."""

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import f1_score

from data_pipelines.prepare import prepare
from hmtl_jax.data.synthetic.faces import SyntheticFaces
from hmtl_jax.errors import MissingFileError
from hmtl_jax.evaluate import classification_summary
from hmtl_jax.inference import Predictor
from hmtl_jax.inference.faces import HaarDetector
from hmtl_jax.inference.photos import list_inputs
from tests import data_fixtures as fx
from tests.helpers import REPO, one_device_env, write_config_file

FACE_SIDE = 160  # synthetic faces are pasted into photos at this size
PLACES = ((60, 100), (380, 140))  # top-left corners of the two faces in a 640 x 480 photo


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, cache_dir):
    """A tiny model trained for 8 steps on synthetic faces of 32 px, evaluated on their centred 7/8 (resized back to
    32 px, so that the preprocessing shows in every answer). Trained by the command, on one device."""
    path = tmp_path_factory.mktemp("trained")
    settings = {"checkpoint_every_steps": 4, "input.eval_crop_fraction": 0.875}
    config = write_config_file(tmp_path_factory.mktemp("config"), "tiny", cache_dir, **settings)
    command = [sys.executable, "-m", "hmtl_jax.main", f"--config={config}", f"--workdir={path}"]
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return str(path)


@pytest.fixture(scope="module")
def faces():
    """Two synthetic faces that OpenCV's Haar cascade finds in the photos below: it misses about half of these drawn
    faces, and a test of the pipeline around it needs faces it sees. Chosen with the detector, once."""
    source, detector = SyntheticFaces("validation", 40, image_size=FACE_SIDE, seed=0), HaarDetector()
    candidates = [source[index]["image"] for index in range(len(source))]
    alone = [face for face in candidates if len(detector(np.asarray(photo_of([face])))) == 1]
    for first, second in zip(alone, alone[1:], strict=False):
        if len(detector(np.asarray(photo_of([first, second])))) == 2:
            if len(detector(np.asarray(huge_photo_of(first).resize((1600, 1200))))) == 1:
                return [first, second]
    raise AssertionError("no two synthetic faces that Haar finds")


def photo_of(faces) -> Image.Image:
    rng = np.random.default_rng(0)
    background = np.clip(rng.normal(110, 20, (480, 640, 3)), 0, 255).astype(np.uint8)
    for face, (x, y) in zip(faces, PLACES, strict=False):
        background[y : y + FACE_SIDE, x : x + FACE_SIDE] = face
    return Image.fromarray(background)


def huge_photo_of(face) -> Image.Image:
    """6400 x 4800, the face 800 px wide with its centre at (2100, 1800)."""
    huge = Image.new("RGB", (6400, 4800), (90, 90, 90))
    huge.paste(photo_of([face]).resize((3200, 2400)), (1600, 1200))
    return huge


def _save(image: Image.Image, path, **kwargs) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, **kwargs)
    return str(path)


def _video(path, frames: list[np.ndarray], fps=5) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def _predict(*args, workdir) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hmtl_jax.predict", f"--workdir={workdir}", *map(str, args)]
    return subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)


def test_the_predictor_answers_what_the_evaluation_answered(workdir):
    # The run's last evaluation scored these 24 validation faces with this checkpoint; the Predictor, fed the same
    # images as arrays, must give the same answers: the same preprocessing and the same model.
    predictor = Predictor.from_workdir(workdir, detector="none", batch_size=7)  # batches of 7: padding is exercised
    with open(os.path.join(workdir, "eval_latest.json")) as f:
        evaluated = json.load(f)
    validation = SyntheticFaces("validation", 24, image_size=32, seed=0)
    images = [validation[i]["image"] for i in range(len(validation))]
    answers = predictor.predict(images)
    labels = [validation[i]["label"] for i in range(len(validation))]
    predicted = [predictor.names.index(a.label) for a in answers]
    confusion = np.zeros((8, 8), int)
    np.add.at(confusion, (labels, predicted), 1)
    np.testing.assert_array_equal(confusion, evaluated["confusion"])
    # And the same probabilities: the evaluation's loss is their mean cross-entropy.
    cross_entropy = -np.mean([np.log(a.probabilities[label]) for a, label in zip(answers, labels, strict=True)])
    assert cross_entropy == pytest.approx(evaluated["loss"], rel=1e-5)
    for answer in answers:
        assert answer.probabilities.shape == (8,) and abs(answer.probabilities.sum() - 1) < 1e-5
        assert answer.label == predictor.names[int(np.argmax(answer.probabilities))]
    assert predictor.card.step == evaluated["step"] and predictor.card.image_size == 32


def test_a_workdir_that_cannot_be_used_says_why(tmp_path, workdir):
    with pytest.raises(MissingFileError, match="no config.json: it is not a workdir of a training run"):
        Predictor.from_workdir(str(tmp_path))
    with pytest.raises(MissingFileError, match="does not exist"):
        Predictor.from_workdir(str(tmp_path / "nowhere"))
    with pytest.raises(MissingFileError, match="no checkpoint at step 3"):
        Predictor.from_workdir(workdir, step=3)
    # A damaged newest checkpoint: the one before is used, as a resumed run would.
    copy = shutil.copytree(workdir, tmp_path / "copy")
    state = copy / "checkpoints" / "8" / "state"
    damaged = max((p for p in state.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    assert Predictor.from_workdir(str(copy)).card.step == 4


def test_predict_finds_every_face_and_reports_every_file_it_cannot_use(tmp_path, workdir, faces):
    photos = tmp_path / "photos"
    upright = photo_of(faces)
    _save(upright, photos / "two_faces.jpg", quality=95)
    _save(upright.convert("L"), photos / "grey" / "two_faces_grey.png")
    _save(upright.convert("CMYK"), photos / "two_faces_cmyk.jpg")
    _save(Image.fromarray(np.asarray(upright.convert("L"), np.uint16) * 257), photos / "two_faces_16bit.png")
    _save(upright.convert("RGBA"), photos / "two_faces_alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the pixels are stored lying on their side
    _save(upright.transpose(Image.Transpose.ROTATE_90), photos / "sideways.jpg", exif=exif, quality=95)
    _save(huge_photo_of(faces[0]), photos / "huge.jpg", quality=80)
    _save(Image.new("RGB", (320, 240), (120, 120, 120)), photos / "nobody.png")
    (photos / "notes.jpg").write_text("not a photo\n")
    (photos / "empty.png").write_bytes(b"")
    good = (photos / "two_faces.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(good[: len(good) // 3])
    frames = [np.asarray(upright)] * 5 + [np.asarray(photo_of(faces[:1]))] * 5
    video = _video(tmp_path / "clip.avi", frames)

    output, annotated = tmp_path / "faces.csv", tmp_path / "annotated"
    result = _predict(photos, video, tmp_path / "missing.jpg", f"--output={output}", f"--annotate={annotated}",
                      workdir=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with open(output) as f:
        rows = list(csv.DictReader(f))
    # One block of rows per file, in the order the files were listed (a missing path first).
    order = [
        source
        for index, source in enumerate(r["source"] for r in rows)
        if index == 0 or rows[index - 1]["source"] != source
    ]
    files, _ = list_inputs([str(photos), video])
    assert order == [str(tmp_path / "missing.jpg"), *files]
    by_file = {}
    for row in rows:
        by_file.setdefault(os.path.relpath(row["source"], tmp_path), []).append(row)

    problems = {name: found[0]["problem"] for name, found in by_file.items() if found[0]["problem"]}
    assert problems == {
        "missing.jpg": "no such file or directory",
        "photos/nobody.png": "no face found",
        "photos/notes.jpg": "not an image (unrecognised file format)",
        "photos/empty.png": "empty file (0 bytes)",
        "photos/truncated.jpg": problems.get("photos/truncated.jpg", "damaged image"),
    }
    assert problems["photos/truncated.jpg"].startswith("damaged image")

    def centres(name):
        return sorted((int(r["x"]) + int(r["width"]) / 2, int(r["y"]) + int(r["height"]) / 2) for r in by_file[name])

    pasted = sorted((x + FACE_SIDE / 2, y + FACE_SIDE / 2) for x, y in PLACES)
    names = _class_names(workdir)
    for name in ("two_faces.jpg", "grey/two_faces_grey.png", "two_faces_cmyk.jpg", "two_faces_16bit.png",
                 "two_faces_alpha.png", "sideways.jpg"):  # fmt: skip
        found = centres(f"photos/{name}")
        assert len(found) == 2, (name, by_file[f"photos/{name}"])
        np.testing.assert_allclose(found, pasted, atol=FACE_SIDE * 0.15, err_msg=name)  # in the upright photo
        for row in by_file[f"photos/{name}"]:
            probabilities = [float(row[c]) for c in row if c in names]
            assert abs(sum(probabilities) - 1) < 1e-4 and row["label"] in names
            assert float(row["detector_score"]) > 0
    # The huge photo was looked at scaled down; its box is in the file's pixels.
    (centre,) = centres("photos/huge.jpg")
    np.testing.assert_allclose(centre, (1600 + 5 * (PLACES[0][0] + 80), 1200 + 5 * (PLACES[0][1] + 80)), atol=150)
    (face,) = Predictor.from_workdir(workdir).predict_faces(photos / "huge.jpg")  # the API's box is the command's
    (row,) = by_file["photos/huge.jpg"]
    assert (face.box.x, face.box.y, face.box.width, face.box.height) == tuple(
        int(row[k]) for k in ("x", "y", "width", "height")
    )
    # The video, a frame a second at 5 frames a second: two faces at 0 s, one at 1 s.
    video_rows = by_file["clip.avi"]
    assert sorted((int(r["frame"]), float(r["seconds"])) for r in video_rows) == [(0, 0.0), (0, 0.0), (5, 1.0)]

    assert "10 images and frames read, 16 faces" in result.stderr.splitlines()[-1], result.stderr[-500:]
    assert "with a problem: " in result.stderr and "no face found 1" in result.stderr
    drawn = sorted(os.path.relpath(os.path.join(r, n), annotated) for r, _, ns in os.walk(annotated) for n in ns)
    assert "two_faces.jpg" in drawn and "grey/two_faces_grey.png" in drawn and "clip_frame000005.jpg" in drawn
    marked = np.asarray(Image.open(annotated / "two_faces.jpg"), int) - np.asarray(upright, int)
    assert (np.abs(marked).max(axis=-1) > 100).sum() > 500  # the boxes are drawn


def _class_names(workdir) -> list[str]:
    with open(os.path.join(workdir, "data.json")) as f:
        return json.load(f)["class_names"]


def test_predict_writes_json_lines_and_takes_cropped_faces_as_they_are(tmp_path, workdir, faces):
    crops = tmp_path / "crops"
    for index, face in enumerate(faces):
        _save(Image.fromarray(face), crops / f"face{index}.png")
    result = _predict(crops, "--detector=none", f"--output={tmp_path / 'faces.jsonl'}", workdir=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    assert [(r["x"], r["y"], r["width"], r["height"], r["detector_score"]) for r in rows] == [(0, 0, 160, 160, 1.0)] * 2
    predictor = Predictor.from_workdir(workdir, detector="none")
    expected = predictor.predict(faces)
    for row, answer in zip(rows, expected, strict=True):
        assert row["label"] == answer.label
        np.testing.assert_allclose([row[n] for n in predictor.names], answer.probabilities, atol=1e-6)


def test_predict_refuses_a_bad_command_in_one_line(tmp_path, workdir):
    for args, message in (
        ([f"--workdir={tmp_path}", "x.jpg"], "has no config.json"),
        ([f"--workdir={workdir}", "--detector=mtcnn", "x.jpg"], "--detector=mtcnn: use haar, none"),
        ([f"--workdir={workdir}", f"--detector={tmp_path / 'yunet.onnx'}", "x.jpg"], "no such file"),
    ):
        command = [sys.executable, "-m", "hmtl_jax.predict", *args]
        result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_evaluate_matches_classes_by_name_on_another_data_set(tmp_path, workdir):
    # RAF-DB has 7 of the model's 8 classes (no contempt): prepared from a fixture in RAF-DB's own layout.
    fx.write_rafdb(str(tmp_path / "rafdb"), per_class=2)
    prepare("rafdb_basic", str(tmp_path / "rafdb"), str(tmp_path / "prepared"), threads=2)
    command = [sys.executable, "-m", "hmtl_jax.evaluate", f"--workdir={workdir}", "--dataset=rafdb_basic",
               f"--data_dir={tmp_path / 'prepared'}", f"--output_dir={tmp_path / 'eval'}"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "eval" / "metrics.json") as f:
        metrics = json.load(f)
    confusion = np.array(metrics["confusion"])
    names = metrics["names"]
    assert confusion.sum() == metrics["summary"]["images"] == 14
    assert confusion[names.index("contempt")].sum() == 0 and all(confusion[names.index(c)].sum() == 2 for c in
                                                                 names if c != "contempt")  # fmt: skip
    assert "the data set has no images of contempt: macro-F1 averages over the other 7" in metrics["notes"][0]
    assert metrics["summary"]["accuracy"] == pytest.approx(np.trace(confusion) / 14)
    assert os.path.exists(tmp_path / "eval" / "confusion_matrix.png")


def test_evaluate_on_a_folder_leaves_out_classes_the_model_does_not_know(tmp_path, workdir):
    validation = SyntheticFaces("validation", 24, image_size=32, seed=0)
    names = _class_names(workdir)
    for index in range(len(validation)):  # the contempt faces left out: a class the model has and the folder lacks
        record = validation[index]
        if names[record["label"]] != "contempt":
            folder = tmp_path / "faces" / names[record["label"]].upper()
            _save(Image.fromarray(record["image"]), folder / f"{index}.png")
    _save(Image.new("RGB", (32, 32)), tmp_path / "faces" / "yawning" / "0.png")
    (tmp_path / "faces" / "HAPPY" / "broken.png").write_bytes(b"\x89PNG broken")
    command = [sys.executable, "-m", "hmtl_jax.evaluate", f"--workdir={workdir}", f"--folder={tmp_path / 'faces'}"]
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(os.path.join(workdir, "evaluations", "faces_folder", "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(workdir, "eval_latest.json")) as f:
        evaluated = json.load(f)
    # The run's validation faces, read back from PNG files: the run's matrix, without its contempt row.
    expected = np.array(evaluated["confusion"])
    expected[names.index("contempt")] = 0
    np.testing.assert_array_equal(metrics["confusion"], expected)
    assert metrics["notes"][0] == "left out 1 images of classes the model does not know: yawning"
    assert metrics["notes"][1].startswith("the data set has no images of contempt: macro-F1 averages over the other 7")
    assert list(metrics["unreadable"]) == [str(tmp_path / "faces" / "HAPPY" / "broken.png")]
    assert "1 files could not be read" in result.stdout


def test_macro_f1_averages_over_the_classes_the_data_has():
    # The tiny model above answers one class for every face, so its F1s are all 0: a known matrix instead. Three
    # classes, the third absent from the data but predicted twice (two errors).
    confusion = np.array([[5, 1, 2], [2, 4, 0], [0, 0, 0]])
    summary, absent = classification_summary(confusion, ("a", "b", "c"))
    truth, predicted = zip(*[(t, p) for t in range(3) for p in range(3) for _ in range(confusion[t, p])], strict=True)
    assert absent == ["c"] and summary["accuracy"] == pytest.approx(9 / 14)
    assert summary["macro_f1"] == pytest.approx(f1_score(truth, predicted, labels=[0, 1], average="macro"))
    assert summary["macro_f1"] != pytest.approx(f1_score(truth, predicted, labels=[0, 1, 2], average="macro"))


def test_the_exported_model_runs_without_this_project(tmp_path, workdir, faces):
    output = tmp_path / "model.stablehlo"
    command = [sys.executable, "-m", "hmtl_jax.export", f"--workdir={workdir}", f"--output={output}"]
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    predictor = Predictor.from_workdir(workdir, detector="none")
    inputs = np.stack([predictor.preprocess.view(Image.fromarray(f)) for f in [*faces, *faces, faces[0]]])
    np.save(tmp_path / "faces.npy", inputs)
    # A fresh interpreter that imports JAX only, outside the repository: any batch size.
    script = (
        "import sys, numpy as np\n"
        "from jax import export\n"
        f"model = export.deserialize(bytearray(open({str(output)!r}, 'rb').read()))\n"
        f"faces = np.load({str(tmp_path / 'faces.npy')!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.concatenate([model.call(faces[:2]), model.call(faces[2:])]))\n"
        "assert not any(name.startswith(('hmtl_jax', 'data_pipelines')) for name in sys.modules)\n"
    )
    fresh = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={**one_device_env(), "PYTHONPATH": ""},
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), predictor.scores([Image.fromarray(f) for f in
                               [*faces, *faces, faces[0]]]), atol=1e-5)  # fmt: skip
    with open(f"{output}.json") as f:
        described = json.load(f)
    assert described["names"] == list(predictor.names) and described["image_size"] == 32


def test_arrays_pil_images_and_paths_are_the_same_face(tmp_path, workdir, faces):
    predictor = Predictor.from_workdir(workdir, detector="none")
    path = _save(Image.fromarray(faces[0]), tmp_path / "face.png")
    answers = predictor.predict([faces[0], Image.fromarray(faces[0]), path])
    assert len({a.label for a in answers}) == 1
    for answer in answers[1:]:
        np.testing.assert_array_equal(answer.probabilities, answers[0].probabilities)
    with pytest.raises(ValueError, match="must be uint8"):
        predictor.predict([faces[0].astype(np.float32)])


@pytest.mark.slow
def test_the_predict_benchmark_times_detection_and_classification_apart():
    command = [sys.executable, "-m", "hmtl_jax.tools.benchmark", "predict", "--photos=4", "--models=resnet_tiny:32",
               "--batch_size=4"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = [line.split() for line in result.stdout.splitlines() if line.startswith("resnet_tiny")]
    detect, classify, photos = (float(v) for v in row[2:5])
    shares = [float(v.rstrip("%")) for v in row[5:9]]
    assert detect > 0 and classify > 0 and photos > 0  # no speed comparison: these shared machines drift
    assert 97 <= sum(shares) <= 101  # read, detect, crop and classify are nearly all of the wall time


def test_onnx_export_without_its_converter_says_how_to_install_it(tmp_path, workdir):
    if importlib.util.find_spec("jax2onnx") is not None:
        pytest.skip("jax2onnx is installed here")
    command = [sys.executable, "-m", "hmtl_jax.export", f"--workdir={workdir}", f"--output={tmp_path / 'm.onnx'}",
               "--format=onnx"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "python3 -m venv .venv-onnx" in result.stderr, result.stderr[-2000:]
    assert not os.path.exists(tmp_path / "m.onnx")


def test_the_onnx_export_answers_what_the_predictor_answers(tmp_path, workdir, faces):
    # Runs where jax2onnx is installed: its own environment (docs/INFERENCE.md, "ONNX"), not the test command's.
    pytest.importorskip("jax2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    output = tmp_path / "model.onnx"
    command = [sys.executable, "-m", "hmtl_jax.export", f"--workdir={workdir}", f"--output={output}", "--format=onnx"]
    result = subprocess.run(command, cwd=REPO, env=one_device_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    predictor = Predictor.from_workdir(workdir, detector="none")
    images = [Image.fromarray(face) for face in faces] + [photo_of(faces).crop((60, 100, 220, 260))]
    inputs = np.stack([predictor.preprocess.view(image) for image in images])
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"faces": inputs})[0], predictor.scores(images), atol=1e-4)
