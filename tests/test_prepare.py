"""Preparing every supported release from a miniature copy in its exact format, and reading it back for training.

Each fixture holds a few images per class plus the broken files and rows users meet; the tests check the records
written per class, every skipped file and its reason, the canonical labels, crops, landmarks, votes, and that a
wrong layout stops at once with a message naming what was expected.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from data_pipelines.label_maps import class_names_for
from data_pipelines.manual_builder import LayoutError
from data_pipelines.prepare import prepare
from data_pipelines.sample_release import TEMPLATE, write_sample_affectnet
from hmtl_jax.data.affectnet_labels import CLASS_NAMES
from hmtl_jax.data.prepared import PreparedSource, open_prepared, read_labels
from tests import data_fixtures as fx


def _prepared(tmp_path_factory, dataset, write, **options):
    root = tmp_path_factory.mktemp(dataset)
    manual = os.path.join(root, "manual")
    os.makedirs(manual)
    expected = write(manual)
    data_dir = os.path.join(root, "prepared")
    report, version_dir, name = prepare(dataset, manual, data_dir, threads=2, **options)
    return {
        "expected": expected,
        "report": report,
        "version_dir": version_dir,
        "name": name,
        "data_dir": data_dir,
        "manual": manual,
    }


def _check_report_and_records(prepared, code_to_name, counted_as=None):
    """Written counts per class, the exact set of skipped files with their reasons, and the records read back.
    `counted_as(label)`: the class a record's label is counted under (default: the data set's class of that index)."""
    report, expected = prepared["report"], prepared["expected"]
    builder = open_prepared(prepared["data_dir"], prepared["name"])
    for split, counts in expected["written"].items():
        want = {code_to_name(code): n for code, n in counts.items()}
        assert dict(report.written[split]) == want, split
        skipped = dict(report.skipped.get(split, []))
        assert set(skipped) == set(expected["skipped"][split]), split
        for item, fragment in expected["skipped"][split].items():
            assert fragment in skipped[item], (item, skipped[item])
        source = PreparedSource(builder, split)
        labels = source.labels()
        assert len(source) == len(labels) == sum(want.values())
        names = [counted_as(label) if counted_as else source.class_names[label] for label in labels]
        assert {n: names.count(n) for n in set(names)} == want
        np.testing.assert_array_equal(labels, read_labels(prepared["version_dir"], split))
        record = source[0]
        assert record["image"].dtype == np.uint8 and record["image"].ndim == 3 and record["image"].shape[2] == 3
        np.testing.assert_array_equal(record["label"], labels[0])
    return builder


@pytest.fixture(scope="module")
def affectnet(tmp_path_factory):
    def write(manual_dir):
        return fx.write_affectnet_official(manual_dir, {"train": 3, "validation": 2}, headerless_validation=True)

    return _prepared(tmp_path_factory, "affectnet", write)


def test_affectnet_counts_skips_and_labels(affectnet):
    builder = _check_report_and_records(affectnet, lambda code: CLASS_NAMES[code])
    assert affectnet["name"] == "affectnet/8class"
    assert builder.info.features["label"].names == list(CLASS_NAMES)


def test_affectnet_crop_is_the_face_box_and_landmarks_follow_it(affectnet):
    records = open_prepared(affectnet["data_dir"], affectnet["name"]).as_data_source("train")
    record = next(
        records[i]
        for i in range(len(records))
        if records[i]["file_name"] == b"train3/000.jpg" or records[i]["file_name"] == "train3/000.jpg"
    )
    image = record["image"].astype(int)
    x, y, w, h = fx.AFFECTNET_BOX
    assert image.shape == (h, w, 3)  # the box, no margin, no green around it
    left, right = image[:, : w // 2 - 2].mean((0, 1)), image[:, w // 2 + 2 :].mean((0, 1))
    assert left[0] > 180 and left[2] < 70 and right[2] > 180 and right[0] < 70
    np.testing.assert_allclose(record["landmarks"], fx.affectnet_landmarks() - [x, y], atol=0.01)
    assert record["valence"] == pytest.approx(0.25) and record["arousal"] == pytest.approx(-0.5)
    assert record["label"] == 3
    missing = next(records[i] for i in range(len(records)) if "no_valence" in str(records[i]["file_name"]))
    assert np.isnan(missing["valence"]) and np.isnan(missing["arousal"]) and missing["label"] == 0


def test_affectnet_margin_and_seven_classes_are_their_own_configs(tmp_path_factory):
    prepared = _prepared(
        tmp_path_factory,
        "affectnet",
        lambda d: fx.write_affectnet_official(d, {"train": 1, "validation": 1}),
        config="7class",
        crop_margin=0.2,
    )
    assert prepared["name"] == "affectnet/7class_margin0.2"
    skipped = dict(prepared["report"].skipped["train"])
    assert "not in the 7-class set" in skipped["train7/000.jpg"]
    builder = open_prepared(prepared["data_dir"], prepared["name"])
    assert builder.info.features["label"].names == list(CLASS_NAMES[:7])
    records = builder.as_data_source("train")
    record = next(r for r in (records[i] for i in range(len(records))) if r["label"] == 0)
    x, y, w, h = fx.AFFECTNET_BOX  # (20, 10, 60, 60) in a 120 x 100 photo: the margin of 12 px is clipped at the top
    assert record["image"].shape == (y + h + 12 - max(0, y - 12), w + 24, 3)
    assert record["image"][1, 1, 1] > 150  # the margin shows the green around the face


def test_affectnet_wrong_columns_stop_at_start_naming_them(tmp_path):
    fx.write_affectnet_official(str(tmp_path), {"train": 1, "validation": 1})
    path = tmp_path / "training.csv"
    path.write_text(path.read_text("latin-1").replace("expression", "emotion", 1), "latin-1")
    with pytest.raises(LayoutError, match=r"missing \['expression'\]"):
        prepare("affectnet", str(tmp_path), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    (tmp_path / "Manually_Annotated_Images").rename(tmp_path / "images")
    with pytest.raises(LayoutError, match="Manually_Annotated_Images"):
        prepare("affectnet", str(tmp_path), str(tmp_path / "out"))


def test_preparing_again_reuses_the_prepared_records(affectnet):
    shard = next(f for f in os.listdir(affectnet["version_dir"]) if "array_record" in f)
    stamp = os.path.getmtime(os.path.join(affectnet["version_dir"], shard))
    report, version_dir, _ = prepare("affectnet", affectnet["manual"], affectnet["data_dir"])
    assert version_dir == affectnet["version_dir"]
    assert os.path.getmtime(os.path.join(version_dir, shard)) == stamp
    assert report.summary() == affectnet["report"].summary()


def test_affectnet_224_shrunk_scales_its_landmarks(tmp_path_factory):
    prepared = _prepared(
        tmp_path_factory, "affectnet_224", lambda d: fx.write_affectnet_224(d, per_class=1), max_size=112
    )
    assert prepared["name"] == "affectnet_224/8class_max112"
    record = open_prepared(prepared["data_dir"], prepared["name"]).as_data_source("train")[0]
    assert record["image"].shape == (112, 112, 3)
    np.testing.assert_allclose(record["landmarks"], fx.affectnet_landmarks((0, 0, 224, 224)) / 2, atol=0.01)


def test_affectnet_224_release(tmp_path_factory):
    prepared = _prepared(tmp_path_factory, "affectnet_224", lambda d: fx.write_affectnet_224(d, per_class=2))
    builder = _check_report_and_records(prepared, lambda code: CLASS_NAMES[code])
    record = builder.as_data_source("validation")[0]
    assert record["image"].shape == (224, 224, 3)
    assert record["valence"] == pytest.approx(0.5) and record["arousal"] == pytest.approx(-0.25)
    np.testing.assert_allclose(record["landmarks"], fx.affectnet_landmarks((0, 0, 224, 224)), atol=0.01)
    # the grey level says which code the face was written for: the label must be that code
    grey = record["image"].mean()
    assert abs(grey - (20 * record["label"] + 10)) < 4


def test_rafdb_labels_map_to_the_canonical_order(tmp_path_factory):
    prepared = _prepared(tmp_path_factory, "rafdb_basic", lambda d: fx.write_rafdb(d, per_class=2))
    builder = _check_report_and_records(prepared, lambda canonical: CLASS_NAMES[canonical])
    assert builder.info.features["label"].names == list(CLASS_NAMES[:7])
    source = PreparedSource(builder, "test")
    to_rafdb = {canonical: code for code, canonical in fx.RAFDB_TO_CANONICAL.items()}
    for i in range(len(source)):  # each face's grey level is 30 x its RAF-DB code
        record = source[i]
        assert abs(record["image"].mean() - 30 * to_rafdb[int(record["label"])]) < 4


def test_celeba_gender_labels_partition_and_skips(tmp_path_factory):
    prepared = _prepared(tmp_path_factory, "celeba", lambda d: fx.write_celeba(d, per_split=2))
    builder = _check_report_and_records(prepared, lambda male: ("female", "male")[male])
    assert builder.info.features["label"].names == ["female", "male"]
    for split in ("train", "validation", "test"):
        source = PreparedSource(builder, split)
        for i in range(len(source)):  # the grey level of a fixture face says which gender it was written for
            record = source[i]
            assert abs(record["image"].mean() - fx.CELEBA_GREY[int(record["label"])]) < 4


def test_celeba_without_the_male_attribute_stops_at_start(tmp_path):
    fx.write_celeba(str(tmp_path), per_split=1)
    (tmp_path / "list_attr_celeba.txt").write_text("1\nSmiling Young\n000001.jpg 1 1\n")
    with pytest.raises(LayoutError, match="`Male` is not among them"):
        prepare("celeba", str(tmp_path), str(tmp_path / "out"))


@pytest.mark.parametrize("release", ["pose_300w_lp", "pose_aflw2000"])
def test_head_pose_angles_come_from_pose_para_in_degrees_and_beyond_99_are_excluded(tmp_path_factory, release):
    angles = {}

    def write(manual_dir):
        expected, written = fx.write_head_pose(manual_dir, release)
        angles.update(written)
        return expected

    prepared = _prepared(tmp_path_factory, release, write)
    builder = _check_report_and_records(prepared, lambda _: "faces", counted_as=lambda _: "faces")
    split = "train" if release == "pose_300w_lp" else "test"
    records = builder.as_data_source(split)
    assert {r["file_name"].decode() for r in records} == set(angles)  # the _Flip folder too; landmarks/ unread
    for record in records:
        # (yaw, pitch, roll) in degrees from Pose_Para's (pitch, yaw, roll) in radians
        np.testing.assert_allclose(record["label"], angles[record["file_name"].decode()], atol=1e-4)
        # The crop is the square around the landmarks (the bright box) grown by the margins, the face at its centre.
        image = record["image"]
        assert image.shape == (64, 64, 3), image.shape
        assert image[32, 32].mean() > 150 and image[:3, :3].mean() < 40 and image[-3:, -3:].mean() < 40
    source = PreparedSource(builder, split)
    assert source.class_names == () and source.labels().shape == (len(angles), 3)
    assert source[0]["label"].dtype == np.float32


def test_head_pose_release_without_its_folders_stops_at_start(tmp_path):
    (tmp_path / "300W_LP" / "AFW").mkdir(parents=True)
    with pytest.raises(LayoutError, match="lacks HELEN, IBUG, LFPW"):
        prepare("pose_300w_lp", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(LayoutError, match="not laid out as the release"):
        prepare("pose_aflw2000", str(tmp_path), str(tmp_path / "out"))


def test_fer2013_rows_and_splits(tmp_path_factory):
    prepared = _prepared(tmp_path_factory, "fer2013", lambda d: fx.write_fer2013(d, per_class=2)["fer2013"])
    builder = _check_report_and_records(prepared, lambda canonical: CLASS_NAMES[canonical])
    assert sorted(builder.info.splits) == ["private_test", "public_test", "train"]
    to_fer = {canonical: code for code, canonical in fx.FER_TO_CANONICAL.items()}
    records = builder.as_data_source("public_test")
    for i in range(len(records)):  # each face's grey level says which FER2013 code its row had
        record = records[i]
        assert record["image"].shape == (48, 48, 3)
        assert (record["image"] == fx.fer_grey(to_fer[int(record["label"])])).all()


def test_ferplus_needs_both_files_complete(tmp_path):
    fx.write_fer2013(str(tmp_path), per_class=1)
    lines = (tmp_path / "fer2013new.csv").read_text().splitlines()
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(LayoutError, match="rows"):
        prepare("ferplus", str(tmp_path), str(tmp_path / "out"))


def test_ferplus_majority_labels_and_votes(tmp_path_factory):
    holder = {}

    def write(d):
        holder.update(fx.write_fer2013(d, per_class=2))
        return holder["ferplus"]

    prepared = _prepared(tmp_path_factory, "ferplus", write)
    builder = _check_report_and_records(prepared, lambda canonical: CLASS_NAMES[canonical])
    records = builder.as_data_source("train")
    checked = 0
    for i in range(len(records)):
        record = records[i]
        name = record["file_name"].decode() if isinstance(record["file_name"], bytes) else record["file_name"]
        canonical, raw_votes = holder["ferplus"]["votes"][name]
        assert record["label"] == canonical
        assert record["votes"][canonical] == 7 and record["votes"].sum() == sum(raw_votes)
        checked += 1
    assert checked == len(records) > 0


@pytest.mark.parametrize(
    "folders,numbering",
    [
        ({"Happy": 40, "sad": 80, "ANGRY": 120, "neutral": 160}, ""),
        ({"0": 40, "1": 80, "6": 120}, "affectnet"),
    ],
)
def test_face_folder_classes_follow_the_canonical_order(tmp_path_factory, folders, numbering):
    prepared = _prepared(
        tmp_path_factory,
        "face_folder",
        lambda d: fx.write_face_folder(d, folders, per_class=3),
        config="mine",
        numbering=numbering,
    )
    aliases = {
        "Happy": "happy",
        "sad": "sad",
        "ANGRY": "anger",
        "neutral": "neutral",
        "0": "neutral",
        "1": "happy",
        "6": "anger",
    }
    builder = _check_report_and_records(prepared, lambda folder: aliases[folder])
    names = builder.info.features["label"].names
    assert names == sorted(names, key=CLASS_NAMES.index)  # canonical order among the classes present
    source = PreparedSource(builder, "val")
    grey_of = {aliases[f]: v for f, v in folders.items()}
    for i in range(len(source)):
        record = source[i]
        assert abs(record["image"].mean() - grey_of[names[record["label"]]]) < 4


def test_face_folder_numbers_need_a_numbering(tmp_path):
    fx.write_face_folder(str(tmp_path), {"1": 10, "2": 20}, per_class=1)
    with pytest.raises(LayoutError, match="--numbering"):
        prepare("face_folder", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(LayoutError, match=r"\['9'\]"):
        fx.write_face_folder(str(tmp_path), {"9": 30}, per_class=1)
        prepare("face_folder", str(tmp_path), str(tmp_path / "out"), numbering="affectnet")


def test_the_command_line_prints_the_summary_and_how_to_train(tmp_path):
    fx.write_rafdb(str(tmp_path / "raf"), per_class=1)
    command = [
        sys.executable,
        "-m",
        "data_pipelines.prepare",
        "rafdb_basic",
        "--manual_dir",
        str(tmp_path / "raf"),
        "--data_dir",
        str(tmp_path / "out"),
        "--threads",
        "2",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "train: 2 skipped" in done.stdout and "file listed but missing" in done.stdout
    assert f"--config.data.name=rafdb_basic --config.data.data_dir={tmp_path / 'out'}" in done.stdout
    assert "Generating" in done.stderr  # TFDS's progress bar
    wrong = subprocess.run([*command[:5], str(tmp_path), *command[6:]], capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2
    assert "list_patition_label.txt" in wrong.stderr and "Traceback" not in wrong.stderr


def test_missing_prepared_data_says_how_to_prepare_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m data_pipelines.prepare affectnet"):
        open_prepared(str(tmp_path), "affectnet/8class")


def test_class_names_for_rejects_other_sizes():
    assert class_names_for(7) == CLASS_NAMES[:7]
    with pytest.raises(ValueError, match="7 or 8 classes, not 5"):
        class_names_for(5)


def test_a_preparation_killed_half_way_is_prepared_again_in_full(tmp_path):
    write_sample_affectnet(str(tmp_path / "release"), train=600, validation=40)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "data_pipelines.prepare",
        "affectnet",
        "--manual_dir",
        str(tmp_path / "release"),
        "--data_dir",
        str(out),
        "--threads",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # TFDS generates into a temporary `incomplete.*` folder and renames it to 1.0.0 when every split is written
    # (about half a second of work for these 640 faces): kill while it exists, and check the kill landed there.
    deadline = time.monotonic() + 120
    while not list((out / "affectnet" / "8class").glob("incomplete.*")):
        assert process.poll() is None, "the preparation ended before it could be killed"
        if time.monotonic() > deadline:
            raise TimeoutError("the preparation never began writing")
        time.sleep(0.005)
    time.sleep(0.1)  # into the train split
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    version_dir = out / "affectnet" / "8class" / "1.0.0"
    assert not (version_dir / "preparation_report.json").exists()  # killed before the end: nothing counts as done
    assert list((out / "affectnet" / "8class").glob("incomplete.*")), "the kill came after TFDS finished"
    assert not version_dir.exists()

    report, _, name = prepare("affectnet", str(tmp_path / "release"), str(out), threads=2)
    assert sum(report.written["train"].values()) == 600 and sum(report.written["validation"].values()) == 40
    assert len(PreparedSource(open_prepared(str(out), name), "train")) == 600
    assert not list((out / "affectnet" / "8class").glob("incomplete.*"))


def test_records_without_a_report_are_generated_again(affectnet, tmp_path):
    manual = affectnet["manual"]
    report, version_dir, _ = prepare("affectnet", manual, str(tmp_path / "out"), threads=2)
    os.remove(os.path.join(version_dir, "preparation_report.json"))  # as if killed between the records and the report
    again, _, name = prepare("affectnet", manual, str(tmp_path / "out"), threads=2)
    assert again.summary() == report.summary() and sum(again.written["train"].values()) > 0

    source = PreparedSource(open_prepared(str(tmp_path / "out"), name), "train")
    indexed = source.labels()
    os.remove(os.path.join(version_dir, "labels_train.npy"))  # e.g. prepared by another tool: labels are read instead
    np.testing.assert_array_equal(source.labels(), indexed)


def test_landmarks_follow_the_crop_and_the_shrink(tmp_path):
    # The sample release puts template landmarks in each face box; boxes of 120-460 px, stored at <= 256 px.
    write_sample_affectnet(str(tmp_path / "release"), train=24, validation=8)
    _, _, name = prepare("affectnet", str(tmp_path / "release"), str(tmp_path / "out"), threads=2)
    records = open_prepared(str(tmp_path / "out"), name).as_data_source("train")
    shrunk = 0
    for i in range(len(records)):
        record = records[i]
        height, width = record["image"].shape[:2]
        assert max(height, width) <= 256
        shrunk += max(height, width) == 256
        np.testing.assert_allclose(record["landmarks"], TEMPLATE * [width, height], atol=1.5)
    assert shrunk > 0  # some boxes were larger than 256 px, so the scaling was exercised


def test_an_unexpected_error_in_one_record_is_a_skip_not_a_stop():
    from data_pipelines.manual_builder import Candidate, _read_in_order

    def broken():
        raise RuntimeError("something nobody foresaw")

    candidates = [Candidate("a", lambda: {"label": 0}), Candidate("b", broken), Candidate("c", lambda: {"label": 1})]
    outcomes = [(c.name, o) for c, o in _read_in_order(iter(candidates), threads=2)]
    assert [name for name, _ in outcomes] == ["a", "b", "c"]
    assert outcomes[0][1] == {"label": 0} and outcomes[2][1] == {"label": 1}
    assert "unexpected error: RuntimeError: something nobody foresaw" in str(outcomes[1][1])


def test_the_trainer_knows_exactly_the_data_sets_preparation_makes():
    from data_pipelines.prepare import BUILDERS
    from hmtl_jax.data.sources import PREPARED_DATASETS

    assert sorted(PREPARED_DATASETS) == sorted(BUILDERS)
