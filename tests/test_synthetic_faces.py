"""The synthetic-face source: determinism, shapes, label distributions, pickling, argument checks, Grain."""

import pickle

import grain
import numpy as np
import pytest

from hmtl_jax.data.synthetic.faces import (
    AFFECTNET8_TRAIN_COUNTS,
    CLASS_NAMES,
    DIFFICULTY,
    SyntheticFaces,
)

LATENTS = {
    "yaw": np.float32,
    "pitch": np.float32,
    "roll": np.float32,
    "intensity": np.float32,
    "male": np.int32,
    "skin_tone": np.float32,
    "has_glasses": np.int32,
    "occluded": np.int32,
}


def test_class_names_follow_affectnet8():
    assert CLASS_NAMES == ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
    assert len(AFFECTNET8_TRAIN_COUNTS) == 8 and AFFECTNET8_TRAIN_COUNTS[1] == max(AFFECTNET8_TRAIN_COUNTS)


def test_same_index_gives_identical_bytes():
    source = SyntheticFaces("train", 16, image_size=48, seed=3)
    again = SyntheticFaces("train", 16, image_size=48, seed=3)
    for index in (0, 7, 15):
        first, second = source[index], again[index]
        assert first["image"].tobytes() == source[index]["image"].tobytes() == second["image"].tobytes()
        assert all(first[key] == second[key] for key in LATENTS)


def test_other_seed_and_other_split_give_other_faces():
    base = SyntheticFaces("train", 8, image_size=32, seed=0)
    other_seed = SyntheticFaces("train", 8, image_size=32, seed=1)
    validation = SyntheticFaces("validation", 8, image_size=32, seed=0)
    test = SyntheticFaces("test", 8, image_size=32, seed=0)  # held out from the faces settings are chosen on
    for index in range(8):
        assert not np.array_equal(base[index]["image"], other_seed[index]["image"])
        assert not np.array_equal(base[index]["image"], validation[index]["image"])
        assert not np.array_equal(validation[index]["image"], test[index]["image"])


def test_smaller_set_is_a_prefix_of_a_larger_one():
    small, large = SyntheticFaces("validation", 12, image_size=32), SyntheticFaces("validation", 80, image_size=32)
    np.testing.assert_array_equal(small.labels(), large.labels()[:12])
    np.testing.assert_array_equal(small[11]["image"], large[11]["image"])


@pytest.mark.parametrize("size", [32, 64, 112, 224])
def test_shapes_and_dtypes(size):
    element = SyntheticFaces("train", 4, image_size=size, seed=0)[1]
    assert element["image"].shape == (size, size, 3) and element["image"].dtype == np.uint8
    assert element["label"].dtype == np.int32 and 0 <= element["label"] < 8
    for key, dtype in LATENTS.items():
        assert np.asarray(element[key]).dtype == dtype, key
    assert element["image"].std() > 10, "an image should not be flat"


def test_latent_factors_are_in_their_ranges():
    source = SyntheticFaces("validation", 48, image_size=32, seed=5)
    elements = [source[i] for i in range(len(source))]
    for e in elements:
        limits = (DIFFICULTY.roll[1], DIFFICULTY.yaw[1], DIFFICULTY.pitch[1])
        assert all(abs(e[k]) <= limit for k, limit in zip(("roll", "yaw", "pitch"), limits, strict=True))
        assert 0.0 <= e["intensity"] <= 1.0 and (e["intensity"] == 0) == (e["label"] == 0)
        assert e["male"] in (0, 1) and e["has_glasses"] in (0, 1) and e["occluded"] in (0, 1)
        assert 0.0 <= e["skin_tone"] <= 1.0
    assert len({int(e["male"]) for e in elements}) == 2


def test_validation_and_test_are_exactly_balanced():
    assert np.bincount(SyntheticFaces("validation", 800).labels(), minlength=8).tolist() == [100] * 8
    assert np.bincount(SyntheticFaces("test", 800).labels(), minlength=8).tolist() == [100] * 8
    counts = np.bincount(SyntheticFaces("validation", 803).labels(), minlength=8)
    assert counts.sum() == 803 and counts.max() - counts.min() <= 1
    assert np.bincount(SyntheticFaces("train", 160).labels(), minlength=8).tolist() == [20] * 8


def test_long_tailed_train_follows_affectnet_proportions():
    labels = SyntheticFaces("train", 20_000, long_tailed=True).labels()
    target = np.asarray(AFFECTNET8_TRAIN_COUNTS) / sum(AFFECTNET8_TRAIN_COUNTS)
    observed = np.bincount(labels, minlength=8) / len(labels)
    np.testing.assert_allclose(observed, target, atol=0.002)
    # Not a sorted or periodic-looking list: classes are spread through the index range.
    assert set(labels[:200].tolist()) >= {0, 1, 2, 6}


def test_labels_agree_with_elements():
    for source in (SyntheticFaces("train", 24, image_size=32, long_tailed=True), SyntheticFaces("validation", 24, 32)):
        labels = source.labels()
        assert labels.dtype == np.int32 and labels.shape == (24,)
        assert [int(source[i]["label"]) for i in range(24)] == labels.tolist()


def test_pickles_to_an_equal_behaving_source():
    source = SyntheticFaces("train", 40, image_size=32, seed=2, long_tailed=True)
    copy = pickle.loads(pickle.dumps(source))
    assert len(copy) == 40 and repr(copy) == repr(source)
    np.testing.assert_array_equal(copy.labels(), source.labels())
    for index in (0, 39):
        np.testing.assert_array_equal(copy[index]["image"], source[index]["image"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="holdout", num_records=8), "split"),
        (dict(split="train", num_records=0), "num_records"),
        (dict(split="train", num_records=8, image_size=31), "image_size"),
        (dict(split="train", num_records=8, seed=-1), "seed"),
        (dict(split="validation", num_records=8, long_tailed=True), "long_tailed"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticFaces(**kwargs)


@pytest.mark.parametrize("index", [-1, 8, 100])
def test_index_out_of_range(index):
    with pytest.raises(IndexError, match=f"index {index} out of range for 8 records"):
        SyntheticFaces("train", 8, image_size=32)[index]


def test_works_in_a_grain_pipeline():
    source = SyntheticFaces("train", 16, image_size=32, seed=0)
    batches = list(grain.MapDataset.source(source).shuffle(seed=0).batch(4))
    assert len(batches) == 4
    for batch in batches:
        assert batch["image"].shape == (4, 32, 32, 3) and batch["image"].dtype == np.uint8
        assert batch["label"].shape == (4,) and batch["yaw"].shape == (4,)
    seen = np.sort(np.concatenate([b["label"] for b in batches]))
    np.testing.assert_array_equal(seen, np.sort(source.labels()))
