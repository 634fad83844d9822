"""Read PyTorch weights into NumPy without PyTorch and without running pickled code.

Accepted: `.safetensors` files, and `torch.save` files (`.pth`/`.pt`) in both the zip format (PyTorch >= 1.6) and
the legacy format (torchvision's older model-zoo files). A `torch.save` file is a pickle; unpickling it normally
may run any code the file names. Here the unpickler knows only the handful of names a state dict of tensors needs
(tensor rebuild functions, storage types, OrderedDict) and refuses everything else.
"""

from __future__ import annotations

import collections
import json
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

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


class UnsafePickleError(pickle.UnpicklingError):
    pass


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """{parameter name: array} from a safetensors or torch.save file (format told by content, not extension)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if path.endswith(".safetensors"):
        return _load_safetensors(path)
    if head[:2] == b"PK":
        return _load_torch_zip(path)
    return _load_torch_legacy(path)


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(data[start:end], dtype).reshape(info["shape"]).copy()
    return tensors


class _Storage:
    """A storage type named in the pickle, standing for its element dtype."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor as the pickle describes it; materialised once its storage's bytes are in (the legacy format stores
    them after the pickle)."""

    def __init__(self, storage: np.ndarray, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self) -> np.ndarray:
        itemsize = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage[self.offset :], self.size, tuple(s * itemsize for s in self.stride)
        )
        return np.array(view)  # a contiguous copy, independent of the storage


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_unused) -> _TensorRef:
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data: _TensorRef, *_unused) -> _TensorRef:
    return data


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
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return {name: ref.materialise() for name, ref in obj.items()}


def _load_torch_zip(path: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickle_name = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pickle_name is None:
            raise ValueError(f"{path} is a zip file but not a torch.save archive (no data.pkl)")
        prefix = pickle_name[: -len("data.pkl")]
        byteorder_name = prefix + "byteorder"
        byteorder = archive.read(byteorder_name).decode() if byteorder_name in names else "little"
        endian = "<" if byteorder == "little" else ">"

        def read_storage(pid):
            _, storage_type, key, _location, numel = pid
            dtype = storage_type.dtype.newbyteorder(endian) if storage_type.dtype.itemsize > 1 else storage_type.dtype
            raw = archive.read(f"{prefix}data/{key}")
            return np.frombuffer(raw, dtype, count=numel).astype(storage_type.dtype)

        with archive.open(pickle_name) as f:
            return _as_state_dict(_StateDictUnpickler(f, read_storage).load(), path)


def _load_torch_legacy(path: str) -> dict[str, np.ndarray]:
    """The pre-1.6 format: pickles of (magic, protocol, sys_info, object, storage keys), then each storage's bytes
    in key order, each preceded by its element count as int64."""
    storages: dict[str, np.ndarray] = {}

    def read_storage(pid):
        _, storage_type, key, _location, numel, view_metadata = pid
        if view_metadata is not None:
            raise UnsafePickleError(f"{path}: storage views of the pre-2018 format are not supported")
        return storages.setdefault(key, np.empty(numel, storage_type.dtype))  # filled once the bytes are read

    def plain(f):  # the header pickles hold only ints, strings and dicts
        return _StateDictUnpickler(f, read_storage).load()

    with open(path, "rb") as f:
        try:
            magic = plain(f)
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise ValueError(f"{path} is neither a safetensors nor a torch.save file") from error
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path} is neither a safetensors nor a torch.save file")
        plain(f)  # protocol version
        plain(f)  # sys_info
        obj = plain(f)
        for key in plain(f):
            storage = storages[key]
            (count,) = struct.unpack("<q", f.read(8))
            storage[:] = np.frombuffer(f.read(count * storage.dtype.itemsize), storage.dtype.newbyteorder("<"))
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
