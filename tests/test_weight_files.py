"""Weight files from outside are input: damaged or crafted ones end in one clear error naming the file, never in a
crash, a huge allocation or memory read from outside the file."""

import struct
import subprocess
import sys

import numpy as np
import pytest

from hmtl_jax.models.torch_weights import WeightsFileError, load_state_dict, save_float32_safetensors
from tests.fuzz_weight_files import crafted_zip
from tests.helpers import REPO


@pytest.mark.parametrize(
    "numel,stored,offset,size,stride,reason",
    [
        (4, 4, 0, (100, 100), (100, 1), "reaching element"),  # a tensor far larger than its storage
        (8, 8, 2**40, (2,), (1,), "reaching element"),  # a wild offset
        (8, 8, 0, (3,), (2**40,), "reaching element"),  # a wild stride
        (8, 8, 0, (3,), (-1,), "not a count"),  # a negative stride
        (2**40, 8, 0, (3,), (1,), "holds 32 bytes"),  # a storage stating more elements than it has bytes
    ],
)
def test_a_tensor_outside_its_storage_is_refused_naming_the_file(tmp_path, numel, stored, offset, size, stride, reason):
    path = str(tmp_path / "crafted.pth")
    crafted_zip(path, numel=numel, stored_floats=stored, offset=offset, size=size, stride=stride)
    with pytest.raises(WeightsFileError, match=f"{path} is not a readable weights file: .*{reason}"):
        load_state_dict(path)


def test_the_same_tensor_inside_its_storage_loads_exactly(tmp_path):
    path = str(tmp_path / "crafted.pth")
    crafted_zip(path, numel=12, stored_floats=12, offset=1, size=(2, 3), stride=(4, 2))
    np.testing.assert_array_equal(load_state_dict(path)["w"], [[1, 3, 5], [5, 7, 9]])


def test_safetensors_with_a_huge_header_or_cut_short_are_refused_naming_the_file(tmp_path):
    good = str(tmp_path / "good.safetensors")
    save_float32_safetensors(good, {"a": np.arange(6.0).reshape(2, 3)})
    data = open(good, "rb").read()
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 2**62) + data[8:])
    with pytest.raises(WeightsFileError, match=f"{huge} is not a readable weights file: header of 4611686018"):
        load_state_dict(str(huge))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:-5])
    with pytest.raises(WeightsFileError, match=f"{cut} is not a readable weights file: a: bytes 0-24 outside"):
        load_state_dict(str(cut))


def test_thousands_of_mutated_and_crafted_files_load_correctly_or_fail_cleanly(tmp_path):
    """The fuzzer runs in its own process: a segfault would show as a negative return code, not kill pytest."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_weight_files", str(tmp_path), "3000", "20261130"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    loaded, refused = (int(part.split("=")[1]) for part in result.stdout.strip().splitlines()[-1].split())
    assert loaded + refused == 3000 and loaded > 100 and refused > 1000  # both outcomes really exercised
