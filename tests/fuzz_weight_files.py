"""Mutated and crafted weight files thrown at the reader: every one must load correctly or fail with the reader's
own error. Run in a subprocess by tests/test_weight_files.py, so that a crash (a segfault from a bad view of memory)
shows as the process dying instead of taking pytest down with it.

    python -m tests.fuzz_weight_files DIR ITERATIONS SEED

Prints one summary line `loaded=N refused=M` and exits 0; prints the offending case and exits 1 when the reader
raises anything else or loads something other than what PyTorch loads from the same file.
"""

import collections
import io
import json
import os
import pickle
import random
import struct
import sys
import zipfile

import numpy as np
import safetensors.numpy
import torch

from hmtl_jax.models.torch_weights import UnsafePickleError, WeightsFileError, load_state_dict, save_float32_safetensors

INTERESTING = [0, 1, 2, 7, 255, 2**31 - 1, 2**31, 2**32 + 5, 2**40, 2**62, 2**63 - 1, -1, -(2**31), 3.5, "12", None]


class _StoragePid:
    def __init__(self, numel):
        self.numel = numel


class _Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StoragePid):
            return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
        return None


def crafted_zip(path: str, numel, stored_floats: int, offset, size, stride) -> None:
    """A torch.save zip archive whose one tensor states the given storage size, offset, size and stride, with
    `stored_floats` floats of storage bytes actually in the archive."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(collections.OrderedDict(w=_Tensor(_StoragePid(numel), offset, size, stride)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", np.arange(stored_floats, dtype="<f4").tobytes())
        archive.writestr("archive/version", "3\n")


def crafted_safetensors(path: str, rng: random.Random) -> None:
    shape = [rng.choice([rng.randint(0, 5), rng.choice(INTERESTING)]) for _ in range(rng.randint(0, 3))]
    start, end = rng.choice([0, rng.choice(INTERESTING)]), rng.choice([16, 48, rng.choice(INTERESTING)])
    header = {"w": {"dtype": rng.choice(["F32", "F16", "I64", "X9"]), "shape": shape, "data_offsets": [start, end]}}
    encoded = json.dumps(header).encode()
    size = rng.choice([len(encoded), len(encoded), rng.choice([2**63, 2**40, 0, len(encoded) + 100])])
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", size % 2**64) + encoded + bytes(rng.randint(0, 64)))


def mutated(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:  # truncate
        data = data[: rng.randrange(len(data))]
    elif kind == 2:  # overwrite 8 bytes with a large integer
        at = rng.randrange(max(1, len(data) - 8))
        data[at : at + 8] = struct.pack("<Q", rng.choice([2**63 - 1, 2**40, 2**32, 10**12]))
    else:  # append garbage
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


def reference(path: str):
    """What the formats' own readers load from the file (PyTorch's restricted loader, the safetensors library), or
    None if they refuse it."""
    try:
        if path.endswith(".safetensors"):
            return safetensors.numpy.load_file(path)
        loaded = torch.load(path, weights_only=True, map_location="cpu")
        return {name: tensor.numpy() for name, tensor in loaded.items()}
    except Exception:  # noqa: BLE001 - any refusal: the reference has no answer for this file
        return None


def check(path: str, outcomes: collections.Counter, original: dict | None) -> None:
    """Loaded arrays must be those the format's own reader loads from the same file; where it refuses the file (a
    damaged part it checks and this reader does not need), the arrays of the file before it was damaged."""
    try:
        loaded = load_state_dict(path)
    except (WeightsFileError, UnsafePickleError):
        outcomes["refused"] += 1
        return
    except Exception as error:  # noqa: BLE001 - anything else is the bug this fuzzer looks for
        print(f"FAIL {path}: {type(error).__name__}: {error}", flush=True)
        sys.exit(1)
    expected = reference(path)
    expected = expected if expected is not None else original
    if (
        expected is None
        or expected.keys() != loaded.keys()
        or any(not np.array_equal(expected[k], loaded[k], equal_nan=True) for k in expected)
    ):
        print(f"FAIL {path}: loaded {sorted(loaded)}, expected {expected and sorted(expected)}", flush=True)
        sys.exit(1)
    outcomes["loaded"] += 1


def main() -> None:
    directory, iterations, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    state = {"conv.weight": torch.arange(24.0).reshape(2, 3, 4), "bias": torch.ones(6)[::2], "n": torch.tensor(3)}
    sources, originals = {}, {}
    for name, kwargs in (("zip.pth", {}), ("legacy.pth", {"_use_new_zipfile_serialization": False})):
        torch.save(state, os.path.join(directory, name), **kwargs)
        with open(os.path.join(directory, name), "rb") as f:
            sources[name] = f.read()
        originals[name] = {k: v.numpy() for k, v in state.items()}
    save_float32_safetensors(os.path.join(directory, "w.safetensors"), {"a": np.arange(6.0).reshape(2, 3)})
    with open(os.path.join(directory, "w.safetensors"), "rb") as f:
        sources["w.safetensors"] = f.read()
    originals["w.safetensors"] = {"a": np.arange(6.0, dtype=np.float32).reshape(2, 3)}

    outcomes = collections.Counter()
    for i in range(iterations):
        kind = i % 5
        if kind < 3:  # a real file of each format, mutated
            name = list(sources)[kind]
            path = os.path.join(directory, f"case_{i}_{name}")
            with open(path, "wb") as f:
                f.write(mutated(sources[name], rng))
            check(path, outcomes, originals[name])
        elif kind == 3:  # a zip archive stating any storage size, offset, size and stride
            path = os.path.join(directory, f"case_{i}_crafted.pth")
            dims = rng.randint(0, 3)
            crafted_zip(
                path,
                numel=rng.choice([rng.randint(0, 40), rng.choice(INTERESTING)]),
                stored_floats=rng.randint(0, 40),
                offset=rng.choice([rng.randint(0, 40), rng.choice(INTERESTING)]),
                size=tuple(rng.choice([rng.randint(0, 6), rng.choice(INTERESTING)]) for _ in range(dims)),
                stride=tuple(rng.choice([rng.randint(0, 6), rng.choice(INTERESTING)]) for _ in range(dims)),
            )
            check(path, outcomes, None)
        else:  # a safetensors header stating any shape, offsets and header size
            path = os.path.join(directory, f"case_{i}_crafted.safetensors")
            crafted_safetensors(path, rng)
            check(path, outcomes, None)
        os.remove(path)
    print(f"loaded={outcomes['loaded']} refused={outcomes['refused']}", flush=True)


if __name__ == "__main__":
    main()
