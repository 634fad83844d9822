"""Which records a run trains on: stratified fractions, class-balanced sampling, and both through Grain."""

import numpy as np
import pytest

from hmtl_jax.config.defaults import base_config
from hmtl_jax.data.input_pipeline import create_train_iterator
from hmtl_jax.data.sampling import BalancedIndices, SubsetSource, stratified_subset

# AffectNet-8's long tail, scaled down: the rarest class has 19 records.
COUNTS = np.array([374, 672, 127, 70, 32, 19, 124, 19])
LABELS = np.repeat(np.arange(8), COUNTS)[np.random.default_rng(0).permutation(COUNTS.sum())]


def test_one_percent_keeps_every_class_and_the_seed_fixes_the_subset():
    subset = stratified_subset(LABELS, 0.01, seed=3)
    kept = np.bincount(LABELS[subset], minlength=8)
    assert np.all(kept >= 1)
    np.testing.assert_array_equal(kept, np.maximum(1, np.round(0.01 * COUNTS)))
    np.testing.assert_array_equal(subset, stratified_subset(LABELS, 0.01, seed=3))
    assert not np.array_equal(stratified_subset(LABELS, 0.2, seed=3), stratified_subset(LABELS, 0.2, seed=4))


def test_subsets_of_one_seed_are_nested():
    small, large = stratified_subset(LABELS, 0.1, seed=5), stratified_subset(LABELS, 0.5, seed=5)
    assert set(small) < set(large)


def test_twenty_percent_keeps_the_class_proportions():
    kept = np.bincount(LABELS[stratified_subset(LABELS, 0.2, seed=0)], minlength=8)
    np.testing.assert_array_equal(kept, np.round(0.2 * COUNTS))
    assert len(np.unique(stratified_subset(LABELS, 0.2, seed=0))) == kept.sum()  # no record twice


def test_a_fraction_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="fraction"):
        stratified_subset(LABELS, 0.0, seed=0)


def test_subset_source_reads_the_chosen_records():
    records = [{"label": int(label), "id": i} for i, label in enumerate(LABELS)]

    class Source:
        def __len__(self):
            return len(records)

        def __getitem__(self, i):
            return records[i]

        def labels(self):
            return LABELS

    indices = stratified_subset(LABELS, 0.1, seed=0)
    subset = SubsetSource(Source(), indices)
    assert len(subset) == len(indices)
    assert [subset[i]["id"] for i in range(5)] == list(indices[:5])
    np.testing.assert_array_equal(subset.labels(), LABELS[indices])


def test_balanced_indices_draw_every_class_equally_and_repeat_exactly():
    sampler = BalancedIndices(LABELS, num_epochs=20, seed=0)
    drawn = np.array([sampler[i] for i in range(len(sampler))])
    shares = np.bincount(LABELS[drawn], minlength=8) / len(drawn)
    np.testing.assert_allclose(shares, 1 / 8, atol=0.01)  # shuffling alone would give 0.0133 to the rarest class
    again = BalancedIndices(LABELS, num_epochs=20, seed=0)
    assert all(again[i] == drawn[i] for i in range(len(drawn) - 1, 0, -997))  # any order, same draws
    other = BalancedIndices(LABELS, num_epochs=20, seed=1)
    assert any(other[i] != drawn[i] for i in range(100))


class _LabelledSource:
    """Tiny images whose pixel value is their index, so a batch says which records it holds."""

    def __init__(self, labels):
        self._labels = np.asarray(labels)

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, i):
        return {"image": np.full((8, 8, 3), i % 256, np.uint8), "label": self._labels[i]}

    def labels(self):
        return self._labels


def _balanced_config():
    config = base_config()
    config.data.image_size = 8
    config.batch_size = 16
    config.input.augment = "none"
    config.input.flip = False
    config.data.sampling = "balanced"
    return config


def test_balanced_pipeline_is_balanced_and_resumes_where_it_stopped():
    labels = np.array([0] * 200 + [1] * 40 + [2] * 10)
    source, config = _LabelledSource(labels), _balanced_config()
    iterator = create_train_iterator(source, config, num_epochs=8)
    batches = [next(iterator) for _ in range(60)]
    shares = np.bincount(np.concatenate([b["label"] for b in batches]), minlength=3) / (60 * 16)
    np.testing.assert_allclose(shares, 1 / 3, atol=0.05)

    resumed = create_train_iterator(source, config, num_epochs=8)
    for _ in range(25):
        next(resumed)
    state = resumed.get_state()
    restored = create_train_iterator(source, config, num_epochs=8)
    restored.set_state(state)
    for expected in batches[25:40]:
        got = next(restored)
        np.testing.assert_array_equal(got["label"], expected["label"])
        np.testing.assert_array_equal(got["image"], expected["image"])


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"data.sampling": "balanced", "loss.class_weights": True}, "choose one"),
        ({"data.train_fraction": 1.5}, "train_fraction=1.5"),
        ({"data.sampling": "oversample"}, "data.sampling='oversample'"),
        ({"data.name": "rafdb_basic"}, "data_dir is not set"),
        ({"data.name": "rafdb_basic", "data.data_dir": "/tmp", "data.in_memory": True}, "synthetic_faces only"),
        ({"data.test_size": -8}, "test_size=-8 must be 0"),
        ({"data.name": "rafdb_basic", "data.data_dir": "/tmp", "data.test_size": 8}, "test split is its"),
    ],
)
def test_data_settings_that_cannot_work_are_refused(overrides, message):
    from hmtl_jax.config.validation import check_config
    from tests.helpers import tiny_config

    with pytest.raises(ValueError, match=message):
        check_config(tiny_config(**overrides))
