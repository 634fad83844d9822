"""The Grain pipeline over the synthetic-face source: determinism, resumable position, eval coverage, workers."""

import numpy as np
import pytest

from hmtl_jax.config.defaults import base_config
from hmtl_jax.data.augment import TrainAugment
from hmtl_jax.data.input_pipeline import create_train_iterator, iterate_eval_batches
from hmtl_jax.data.synthetic.faces import SyntheticFaces


def _config(seed=0, augment="weak", workers=0):
    config = base_config()
    config.seed = seed
    config.data.image_size = 32
    config.batch_size = 8
    config.input.augment = augment
    config.input.worker_count = workers
    return config


@pytest.fixture(scope="module")
def source():
    return SyntheticFaces("train", 40, image_size=32, seed=0)


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def _assert_same(batches_a, batches_b):
    for a, b in zip(batches_a, batches_b, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["label"], b["label"])


def test_batches_have_the_promised_shapes(source):
    batch = next(create_train_iterator(source, _config(), num_epochs=1))
    assert batch["image"].shape == (8, 32, 32, 3) and batch["image"].dtype == np.uint8
    assert batch["label"].shape == (8,) and batch["label"].dtype == np.int32


def test_same_seed_same_batches_other_seed_other_batches(source):
    first = _take(create_train_iterator(source, _config(seed=1), num_epochs=2), 6)
    again = _take(create_train_iterator(source, _config(seed=1), num_epochs=2), 6)
    other = _take(create_train_iterator(source, _config(seed=2), num_epochs=2), 6)
    _assert_same(first, again)
    assert any(not np.array_equal(a["image"], b["image"]) for a, b in zip(first, other, strict=True))


class IndexedRecords:
    """Record i is a uniform image of value i (label i % 8): every batch row says which record it came from."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        return {"image": np.full((32, 32, 3), index, np.uint8), "label": np.int32(index % 8)}

    def labels(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int32) % 8


def test_epochs_are_reshuffled_and_cover_every_record():
    config = _config(augment="none")
    config.input.flip = False
    records, epochs = IndexedRecords(40), 3
    batches = _take(create_train_iterator(records, config, num_epochs=epochs), epochs * 5)  # 40 records / 8 = 5
    images = np.concatenate([b["image"] for b in batches])
    indices = images[:, 0, 0, 0].astype(np.int64)
    assert (images == indices[:, None, None, None]).all(), "each row is one whole record"
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), indices % 8)
    orders = indices.reshape(epochs, len(records))
    for epoch, order in enumerate(orders):
        np.testing.assert_array_equal(np.sort(order), np.arange(len(records)), err_msg=f"epoch {epoch}")
    assert len({tuple(order) for order in orders}) == epochs, "every epoch must use a new order"


def test_restored_iterator_state_continues_with_the_next_batch(source):
    iterator = create_train_iterator(source, _config(), num_epochs=3)
    _take(iterator, 4)
    state = iterator.get_state()
    expected = _take(iterator, 3)
    fresh = create_train_iterator(source, _config(), num_epochs=3)
    fresh.set_state(state)
    _assert_same(expected, _take(fresh, 3))


def test_worker_processes_give_the_same_batches(source):
    in_process = _take(create_train_iterator(source, _config(workers=0), num_epochs=1), 4)
    with_workers = _take(create_train_iterator(source, _config(workers=2), num_epochs=1), 4)
    _assert_same(in_process, with_workers)


def test_eval_batches_cover_every_record_once_with_a_padding_mask():
    validation = SyntheticFaces("validation", 20, image_size=32, seed=0)
    batches = list(iterate_eval_batches(validation, _config()))
    assert len(batches) == 3  # 20 records in batches of 8
    masks = np.concatenate([b["mask"] for b in batches])
    assert masks.sum() == 20 and masks[:20].all()
    labels = np.concatenate([b["label"] for b in batches])[:20]
    np.testing.assert_array_equal(labels, validation.labels())
    np.testing.assert_array_equal(batches[0]["image"][0], validation[0]["image"])  # clean view, crop 1.0


@pytest.mark.parametrize("level", ["none", "weak", "strong"])
def test_augment_levels_keep_shape_and_dtype(source, level):
    out = TrainAugment(level, 48, flip=True).random_map(source[0], np.random.default_rng(0))
    assert out["image"].shape == (48, 48, 3) and out["image"].dtype == np.uint8
    assert set(out) == {"image", "label"}


def test_weak_augmentation_changes_the_image_and_is_seeded(source):
    augment = TrainAugment("weak", 32, flip=False)
    a = augment.random_map(source[0], np.random.default_rng(5))["image"]
    b = augment.random_map(source[0], np.random.default_rng(5))["image"]
    c = augment.random_map(source[0], np.random.default_rng(6))["image"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, source[0]["image"]) and not np.array_equal(a, c)


def test_unknown_augment_level_is_a_clear_error():
    with pytest.raises(ValueError, match="none.*weak.*strong"):
        TrainAugment("medium", 32, flip=False)
