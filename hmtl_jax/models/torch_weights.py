"""Read PyTorch weights into NumPy without PyTorch and without running pickled code.

Accepted: `.safetensors` files, and `torch.save` files (`.pth`/`.pt`) in both the zip format (PyTorch >= 1.6) and
the legacy format (torchvision's older model-zoo files). A `torch.save` file is a pickle; unpickling it normally
may run any code the file names. Here the unpickler knows only the handful of names a state dict of tensors needs
(tensor rebuild functions, storage types, OrderedDict) and refuses everything else.

A weights file is input from outside: every size, stride, offset and header length it states is checked against the
bytes actually there before anything is allocated or viewed, so a damaged or crafted file ends in
`WeightsFileError` naming the file, never in a crash, a huge allocation or memory read from outside the file.
"""

from __future__ import annotations

import collections
import io
import json
import math
import pickle
import pickletools
import struct
import zipfile
import zlib

import ml_dtypes
import numpy as np

from hmtl_jax.errors import UserError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_SAFETENSORS_DTYPES = {
    "F32": np.float32,
    "F64": np.float64,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# No weights file this project reads comes near this (VGG-16 is 0.5 GiB): a larger claim is a damaged or crafted file.
MAX_BYTES = 8 * 2**30


class UnsafePickleError(pickle.UnpicklingError, UserError):
    """The pickle names something other than tensors: refused before anything it names runs."""


class WeightsFileError(UserError, ValueError):
    """The file is not a readable weights file (damaged, truncated, or inconsistent)."""


class _Invalid(Exception):
    """Raised inside the readers with the reason; `load_state_dict` adds the file's name."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise _Invalid(reason)


def _count(value, what: str) -> int:
    """A non-negative int from the file (bools and other types refused)."""
    _require(isinstance(value, int) and not isinstance(value, bool) and 0 <= value, f"{what} {value!r} is not a count")
    return value


# What reading a damaged file can raise, besides our own checks: malformed JSON, pickles, zip archives and numbers.
_READ_ERRORS = (
    _Invalid,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    EOFError,
    OverflowError,
    RecursionError,
    struct.error,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    pickle.UnpicklingError,
    UnicodeDecodeError,
)  # fmt: skip  (zipfile: NotImplementedError for unknown compression, RuntimeError for encrypted members)


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """{parameter name: array} from a safetensors or torch.save file (format told by content, not extension)."""
    with open(path, "rb") as f:
        head = f.read(4)
    try:
        if path.endswith(".safetensors"):
            return _load_safetensors(path)
        if head[:2] == b"PK":
            return _load_torch_zip(path)
        return _load_torch_legacy(path)
    except UnsafePickleError:
        raise
    except _READ_ERRORS as error:
        reason = str(error) or type(error).__name__
        raise WeightsFileError(f"{path} is not a readable weights file: {reason}") from None


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        data = f.read()
    _require(len(data) >= 8, f"{len(data)} bytes, too short for a safetensors header")
    (header_size,) = struct.unpack("<Q", data[:8])
    _require(header_size <= len(data) - 8, f"header of {header_size} bytes in a file of {len(data)}")
    header = json.loads(data[8 : 8 + header_size])
    _require(isinstance(header, dict), "the header is not a JSON object")
    body = memoryview(data)[8 + header_size :]
    tensors, ranges = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        _require(isinstance(info, dict) and info.get("dtype") in _SAFETENSORS_DTYPES, f"{name}: unknown dtype")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        _require(isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2, f"{name}: bad entry")
        shape = [_count(n, f"{name}: dimension") for n in shape]
        start, end = (_count(n, f"{name}: offset") for n in offsets)
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        _require(start <= end <= len(body), f"{name}: bytes {start}-{end} outside the {len(body)} of the file")
        _require(end - start == math.prod(shape) * dtype.itemsize, f"{name}: {end - start} bytes for shape {shape}")
        tensors[name] = np.frombuffer(body[start:end], dtype).reshape(shape).copy()
        ranges.append((start, end))
    # As the format requires: the tensors tile the data exactly, without gaps, overlaps or trailing bytes.
    ends = [0] + [end for _, end in sorted(ranges)]
    _require(all(start == ends[i] for i, (start, _) in enumerate(sorted(ranges))), "tensors overlap or leave gaps")
    _require(ends[-1] == len(body), f"{len(body) - ends[-1]} bytes after the last tensor")
    return tensors


class _Storage:
    """A storage type named in the pickle, standing for its element dtype."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor as the pickle describes it; materialised once its storage's bytes are in (the legacy format stores
    them after the pickle)."""

    def __init__(self, storage: np.ndarray, offset: int, size, stride):
        _require(isinstance(storage, np.ndarray), "a tensor without a storage")
        _require(isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list)), "bad tensor size or stride")
        self.storage, self.offset = storage, _count(offset, "storage offset")
        self.size = tuple(_count(n, "tensor dimension") for n in size)
        self.stride = tuple(_count(n, "tensor stride") for n in stride)
        _require(len(self.size) == len(self.stride), f"size {self.size} and stride {self.stride} differ in length")

    def materialise(self) -> np.ndarray:
        """A contiguous copy of the elements the size, stride and offset address, all checked to lie inside the
        storage first (as_strided itself checks nothing)."""
        if math.prod(self.size) == 0:
            return np.zeros(self.size, self.storage.dtype)
        last = self.offset + sum((n - 1) * step for n, step in zip(self.size, self.stride, strict=True))
        _require(last < len(self.storage), f"a tensor reaching element {last} of a storage of {len(self.storage)}")
        itemsize = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage[self.offset :], self.size, tuple(step * itemsize for step in self.stride)
        )
        return np.array(view)  # a contiguous copy, independent of the storage


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_unused) -> _TensorRef:
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data: _TensorRef, *_unused) -> _TensorRef:
    return data


# Memo indices a pickle may name. The C unpickler grows its memo to the largest index named before checking anything,
# so a crafted PUT 2**32 would allocate gigabytes: every index is checked before unpickling.
_MAX_MEMO_INDEX = 10**6


def _unpickle(f: io.BytesIO, read_storage):
    """The next pickle in `f`, after its opcodes were read (not run) and its memo indices checked."""
    start = f.tell()
    for opcode, argument, _ in pickletools.genops(f):
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"):
            _require(int(argument) <= _MAX_MEMO_INDEX, f"a pickle memo index of {argument}")
    f.seek(start)
    return _StateDictUnpickler(f, read_storage).load()


class _StateDictUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, read_storage):
        super().__init__(file)
        self._read_storage = read_storage

    def find_class(self, module: str, name: str):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _Storage(name)
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        raise UnsafePickleError(
            f"refusing to load {module}.{name}: a weights file should hold only tensors (is this a whole pickled "
            "model? save its state_dict() instead)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafePickleError(f"unexpected persistent id {pid!r}")
        return self._read_storage(pid)


def _as_state_dict(obj, path: str) -> dict[str, np.ndarray]:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # a training checkpoint that wraps the weights
    if not isinstance(obj, dict) or not all(isinstance(v, _TensorRef) for v in obj.values()):
        raise _Invalid("it does not hold a state dict of tensors")
    return {name: ref.materialise() for name, ref in obj.items()}


def _load_torch_zip(path: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickle_name = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pickle_name is None:
            raise _Invalid("a zip file but not a torch.save archive (no data.pkl)")
        prefix = pickle_name[: -len("data.pkl")]
        byteorder_name = prefix + "byteorder"
        byteorder = archive.read(byteorder_name).decode() if byteorder_name in names else "little"
        endian = "<" if byteorder == "little" else ">"

        def read_storage(pid):
            _require(len(pid) == 5 and isinstance(pid[1], _Storage), f"bad storage record {pid!r}"[:200])
            _, storage_type, key, _location, numel = pid
            dtype = storage_type.dtype.newbyteorder(endian) if storage_type.dtype.itemsize > 1 else storage_type.dtype
            nbytes = _count(numel, "storage size") * dtype.itemsize
            member = f"{prefix}data/{key}"
            _require(member in names, f"storage {key!r} is not in the archive")
            stored = archive.getinfo(member).file_size
            _require(stored == nbytes <= MAX_BYTES, f"storage {key!r} holds {stored} bytes, its tensors {nbytes}")
            with archive.open(member) as raw:  # only the bytes the storage needs: no decompression bomb
                data = raw.read(nbytes)
            _require(len(data) == nbytes, f"storage {key!r} is truncated")
            return np.frombuffer(data, dtype).astype(storage_type.dtype)

        _require(archive.getinfo(pickle_name).file_size <= MAX_BYTES, "data.pkl is implausibly large")
        with archive.open(pickle_name) as f:
            pickled = io.BytesIO(f.read(MAX_BYTES))  # in memory, as in the legacy reader
        return _as_state_dict(_unpickle(pickled, read_storage), path)


def _load_torch_legacy(path: str) -> dict[str, np.ndarray]:
    """The pre-1.6 format: pickles of (magic, protocol, sys_info, object, storage keys), then each storage's bytes
    in key order, each preceded by its element count as int64."""
    storages: dict[str, np.ndarray] = {}
    # In memory, so that a length stated in the pickle can only ever read what is there (a file object's read(n)
    # allocates n bytes first).
    with open(path, "rb") as f:
        content = f.read()

    def read_storage(pid):
        _require(len(pid) == 6 and isinstance(pid[1], _Storage), f"bad storage record {pid!r}"[:200])
        _, storage_type, key, _location, numel, view_metadata = pid
        if view_metadata is not None:
            raise UnsafePickleError(f"{path}: storage views of the pre-2018 format are not supported")
        if key not in storages:
            # The bytes of every storage follow the pickles: together they cannot outgrow the file. Checked before
            # allocating.
            nbytes = _count(numel, "storage size") * storage_type.dtype.itemsize
            _require(nbytes + sum(a.nbytes for a in storages.values()) <= len(content), "storages larger than the file")
            storages[key] = np.empty(numel, storage_type.dtype)  # filled once the bytes are read
        return storages[key]

    def plain(f):  # the header pickles hold only ints, strings and dicts
        return _unpickle(f, read_storage)

    with io.BytesIO(content) as f:
        try:
            magic = plain(f)
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise _Invalid("neither a safetensors nor a torch.save file") from error
        if magic != _LEGACY_MAGIC:
            raise _Invalid("neither a safetensors nor a torch.save file")
        plain(f)  # protocol version
        plain(f)  # sys_info
        obj = plain(f)
        for key in plain(f):
            _require(key in storages, f"bytes for storage {key!r}, which no tensor uses")
            storage = storages[key]
            (count,) = struct.unpack("<q", f.read(8))
            _require(count == len(storage), f"storage {key!r} holds {count} elements, its tensors {len(storage)}")
            data = f.read(count * storage.dtype.itemsize)
            _require(len(data) == count * storage.dtype.itemsize, f"storage {key!r} is truncated")
            storage[:] = np.frombuffer(data, storage.dtype.newbyteorder("<"))
    return _as_state_dict(obj, path)


def save_float32_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    """Write `tensors` as float32 in a .safetensors file, the format `load_state_dict` reads."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    encoded = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        f.writelines(blobs)
