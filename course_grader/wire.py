"""Plain data across the sandbox's boundary, both ways, and the exceptions a remote call raises.

One format for every record: an 8-byte length, a JSON tree, then ``.npy`` arrays
(written and read with ``allow_pickle=False``, numeric and bool dtypes only).  The
tree holds JSON values and these objects::

    {"__tuple__": [...]}   {"__dict__": {...}}   {"__float__": "nan" | "inf" | "-inf"}   {"__int__": "123..."}
    {"__nd__": i}                                  numpy array number i
    {"__tensor__": i, "dtype", "rg", "device"}      torch tensor from array i
    {"__meta__": [shape], "dtype", "rg"}            tensor on the meta device (no data)
    {"__size__": [...]}  {"__dtype__": "float32"}  {"__device__": "cuda:0"}  {"__gen_state__": i}
    {"__slice__": [start, stop, step]}  {"__ellipsis__": 0}  {"__unplain__": [type name, repr]}
    {"__gen__": seed}  {"__dev__": name}            the older markers of course_grader.sandbox_student

:func:`encode` writes a record (``strict=True`` on the trusted side: anything else is a
``TypeError`` naming it; ``strict=False`` in the sandbox: anything else becomes
:class:`Unplain`).  :func:`decode` reads an untrusted record with every size checked
before it is parsed or decoded and rebuilds tensors; :func:`decode_blob` is the older
reader (float arrays widened to float64, no tensors).  Nothing is unpickled, imported or
executed.  Inside the sandbox this module imports only the standard library and numpy;
torch is imported when a tensor is met.

The sandbox's own streams (zygote, notebook process, part process) are framed by
:func:`frame` / :class:`FrameReader`: a tag byte, an 8-byte length, the payload, read
with a deadline and a size cap (the reader never trusts the writer).
"""
from __future__ import annotations

import builtins
import io
import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass

import numpy as np


# --------------------------------------------------------------------------- exceptions of a remote call
class StudentError(Exception):
    """The student's code raised an exception that is not a builtin one (or its result was refused)."""

    def __init__(self, type_name: str, message: str = ""):
        super().__init__(message)
        self.type_name = type_name
        self.from_student = True

    def __str__(self):
        return self.args[0] if self.args else ""


class BannedOperator(StudentError):
    """The runtime tripwire saw the student's function use a banned library operator (``used``)."""

    def __init__(self, used: str, message: str = ""):
        super().__init__("BannedOperator", message)
        self.used = used


class PartLost(StudentError):
    """The part process died, hung past the part's limit, or sent data that was refused (``why``)."""

    def __init__(self, why: str):
        super().__init__("PartLost", why)
        self.why = why


# Raised on the trusted side with the student's message.  Not raised: exceptions that steer control
# flow in the instructor's code (StopIteration, StopAsyncIteration, GeneratorExit) or stop the
# process (BaseException subclasses): those become StudentError.
_NOT_REBUILT = {"StopIteration", "StopAsyncIteration"}
BUILTIN_ERRORS = {name: cls for name, cls in vars(builtins).items()
                  if isinstance(cls, type) and issubclass(cls, Exception) and name not in _NOT_REBUILT}
MAX_MESSAGE = 300


def clean_message(text) -> str:
    """A student's message as short plain text: at most 300 characters, no control characters but newline and tab."""
    text = str(text)[:MAX_MESSAGE * 4]
    text = "".join(ch if ch in "\n\t" or (ord(ch) >= 32 and not 0x7F <= ord(ch) < 0xA0) else "\ufffd" for ch in text)
    return text[:MAX_MESSAGE]


def student_exception(type_name, message, builtin: bool) -> Exception:
    """The exception the trusted side raises for a student's: the same builtin type, or StudentError."""
    name, message = clean_message(type_name)[:80], clean_message(message)
    cls = BUILTIN_ERRORS.get(name) if builtin else None
    if cls is not None:
        try:
            err = cls(message)
        except Exception:  # a builtin whose constructor wants more (UnicodeDecodeError)
            err = None
        if err is not None and type(err) is cls:
            err.from_student = True
            return err
    return StudentError(name, message)


# --------------------------------------------------------------------------- values the trusted side gets back
@dataclass(frozen=True)
class Unplain:
    """A student's value that is not plain data: only its type's name and a short repr come back."""
    type_name: str
    repr_text: str = ""

    def __repr__(self):
        return f"<{self.type_name}: {self.repr_text}>" if self.repr_text else f"<{self.type_name}>"


_DEVICES: dict = {}  # id(tensor) -> device text, for tensors rebuilt from a device other than the CPU


def device_of(t) -> str:
    """The device a tensor was on in the sandbox ("cpu" for tensors rebuilt on the CPU, "meta" for meta tensors)."""
    if getattr(t, "is_meta", False):
        return "meta"
    entry = _DEVICES.get(id(t))
    if entry is not None and entry[0]() is t:
        return entry[1]
    return str(getattr(t, "device", "cpu"))


def _remember_device(t, device: str):
    import weakref
    key = id(t)
    _DEVICES[key] = (weakref.ref(t, lambda _r, k=key: _DEVICES.pop(k, None)), device)


# --------------------------------------------------------------------------- limits
class Malformed(ValueError):
    """An untrusted record that is refused; ``too_large`` when only its size is the problem."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


_ALLOWED_KINDS = "biuf"

# What the trusted side accepts from one notebook, checked before anything is parsed or decoded.
# The largest array a correct submission returns is conv1's (2, 96, 55, 55): 580,800 elements.
MAX_JSON_BYTES = 1 << 20          # the JSON tree of one record
MAX_NODES = 100_000               # values, items and keys in one record's tree
MAX_STR = 64 << 10                # characters of one string or key
MAX_ARRAYS = 1024                 # arrays in one record
MAX_ELEMENTS = 4 << 20            # elements of one array (32 MiB once decoded to float64)
MAX_DECODED_BYTES = 128 << 20     # every array of a notebook's records, after decoding (float64/int64/bool)
MAX_DEPTH = 32
MAX_RECORD_BYTES = 40 << 20       # one record on the sandbox's streams


class DecodeBudget:
    """Decoded bytes left for one notebook's records (shared by its parts)."""

    def __init__(self, limit: int = MAX_DECODED_BYTES):
        self.left = limit

    def spend(self, nbytes: int):
        if nbytes > self.left:
            raise Malformed(f"the arrays returned add up to more than {MAX_DECODED_BYTES >> 20} MiB once decoded",
                            too_large=True)
        self.left -= nbytes


# --------------------------------------------------------------------------- encoding
_TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool")


def _torch():
    import torch
    return torch


def _is_tensor(value) -> bool:
    # by the exact type's MRO: an object that only claims __class__ = Tensor is not one
    if not any((getattr(c, "__module__", None) or "").startswith("torch") for c in type(value).__mro__):
        return False
    return issubclass(type(value), _torch().Tensor)


class _Encoder:
    def __init__(self, strict: bool):
        self.strict = strict
        self.arrays: list[np.ndarray] = []
        self.nodes = 0

    def refuse(self, value, where: str):
        if self.strict:
            raise TypeError(f"cannot send {type(value).__name__} to the sandbox{where}: plain data only "
                            "(numbers, strings, tuples, lists, dicts, numpy arrays, tensors, torch.Size, dtype, "
                            "device, Generator, slice, Ellipsis)")
        try:
            text = repr(value)[:200]
        except Exception:
            text = ""
        return {"__unplain__": [type(value).__name__[:80], text]}

    def array(self, a: np.ndarray) -> int:
        self.arrays.append(np.asarray(a, order="C"))
        return len(self.arrays) - 1

    def tensor(self, value):
        torch = _torch()
        t = torch.Tensor.as_subclass(value, torch.Tensor).detach()
        dtype = str(t.dtype).replace("torch.", "")
        if dtype not in _TORCH_DTYPES:
            return self.refuse(value, f" (a tensor of dtype {dtype})")
        rg = bool(value.requires_grad)
        if t.is_meta:
            return {"__meta__": [int(d) for d in t.shape], "dtype": dtype, "rg": rg}
        device = str(t.device)
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.to("cpu").resolve_conj().resolve_neg()
        a = (t.to(torch.float32) if dtype == "bfloat16" else t).numpy()
        return {"__tensor__": self.array(a), "dtype": dtype, "rg": rg, "device": device}

    def tree(self, value, depth: int = 0, where: str = ""):
        t = type(value)
        self.nodes += 1
        if self.nodes > MAX_NODES and not self.strict:
            raise Malformed(f"more than {MAX_NODES} values in one result", True)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value if abs(value) < 2**63 else {"__int__": str(value)} if value.bit_length() < 4000 else \
                self.refuse(value, where)
        if t is float:
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if depth > MAX_DEPTH - 2:
            if self.strict:
                raise TypeError(f"cannot send a value nested deeper than {MAX_DEPTH - 2} levels to the sandbox{where}")
            return {"__unplain__": [t.__name__[:80], "nested too deep"]}
        if t is tuple:
            return {"__tuple__": [self.tree(v, depth + 1, where) for v in value]}
        if t is list:
            return [self.tree(v, depth + 1, where) for v in value]
        if t is dict:
            if self.strict and not all(type(k) is str for k in value):
                raise TypeError(f"cannot send a dict with keys that are not str to the sandbox{where}")
            return {"__dict__": {str(k): self.tree(v, depth + 1, where) for k, v in value.items()}}
        if t is slice:
            return {"__slice__": [self.tree(v, depth + 1, where) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"__ellipsis__": 0}
        if issubclass(t, np.ndarray):
            if value.dtype.kind not in _ALLOWED_KINDS or value.dtype.hasobject or value.dtype.fields is not None:
                return self.refuse(value, f"{where} (an array of dtype {value.dtype})")
            return {"__nd__": self.array(np.asarray(value))}
        if issubclass(t, (np.bool_,)):
            return bool(value)
        if issubclass(t, np.integer):
            return self.tree(int(value), depth, where)
        if issubclass(t, np.floating):
            return self.tree(float(value), depth, where)
        mod = t.__module__ or ""
        if t.__name__ in ("Gen", "Device") and mod.endswith("sandbox_student"):
            return {"__gen__": int(value.seed)} if t.__name__ == "Gen" else {"__dev__": str(value.name)}
        if mod.startswith("torch"):
            torch = _torch()
            if t is torch.Size:
                return {"__size__": [int(v) for v in value]}
            if t is torch.dtype:
                return {"__dtype__": str(value).replace("torch.", "")}
            if t is torch.device:
                return {"__device__": str(value)}
            if t is torch.Generator:
                if value.device.type != "cpu":
                    return self.refuse(value, f"{where} (a {value.device.type} generator)")
                return {"__gen_state__": self.array(value.get_state().numpy())}
        if _is_tensor(value):
            if self.strict and str(value.device) != "cpu" and not value.is_meta:
                raise TypeError(f"cannot send a tensor on {value.device} to the sandbox{where}: CPU tensors only")
            try:
                return self.tensor(value)
            except TypeError:
                raise
            except Exception as err:
                if self.strict:
                    raise TypeError(f"cannot send this tensor to the sandbox{where}: {err}") from None
                return {"__unplain__": [t.__name__[:80], "a tensor that could not be read"]}
        return self.refuse(value, where)


def _npy_parts(a: np.ndarray) -> list:
    """A ``.npy`` blob as [header, data view]: the array's bytes are copied once, by the final join."""
    from numpy.lib import format as npformat
    a = np.asarray(a, order="C")
    head = io.BytesIO()
    npformat.write_array_header_1_0(head, npformat.header_data_from_array_1_0(a))
    return [head.getvalue(), memoryview(a.reshape(-1)).cast("B") if a.size else b""]


def pack(tree, arrays) -> bytes:
    parts = [_npy_parts(a) for a in arrays]
    h = json.dumps({"tree": tree, "blobs": [len(p[0]) + len(p[1]) for p in parts]}).encode()
    return b"".join([struct.pack("<Q", len(h)), h] + [x for p in parts for x in p])


def encode(value, strict: bool = True, where: str = "") -> bytes:
    """A value as a record.  ``strict``: a value that is not plain data raises ``TypeError``
    (naming ``where``); otherwise it is sent as :class:`Unplain`."""
    enc = _Encoder(strict)
    tree = enc.tree(value, 0, where)
    return pack(tree, enc.arrays)


def encode_bounded(value) -> bytes:
    """In the sandbox: ``value`` as a record within what the trusted side accepts, or
    :class:`Malformed` (``too_large``) saying which bound it passes."""
    enc = _Encoder(strict=False)
    tree = enc.tree(value)
    if len(enc.arrays) > MAX_ARRAYS:
        raise Malformed(f"{len(enc.arrays)} arrays in one result (at most {MAX_ARRAYS} accepted)", True)
    for a in enc.arrays:
        if a.size > MAX_ELEMENTS:
            raise Malformed(f"an array of {a.size} elements (shape {a.shape}; at most {MAX_ELEMENTS} accepted)",
                            True)
    head = json.dumps(tree)
    if len(head) > MAX_JSON_BYTES - 64:
        raise Malformed(f"a result of {len(head)} bytes of JSON (at most {MAX_JSON_BYTES} accepted)", True)
    blob = pack(tree, enc.arrays)
    if len(blob) > MAX_RECORD_BYTES:
        raise Malformed(f"a result of {len(blob) >> 20} MiB (at most {MAX_RECORD_BYTES >> 20} MiB accepted)", True)
    return blob


# --------------------------------------------------------------------------- decoding (untrusted input)
def _array_header(raw: bytes):
    """(shape, dtype) of a .npy blob from its header alone, or Malformed."""
    from numpy.lib import format as npformat
    f = io.BytesIO(raw)
    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _fortran, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError("version")
    except Exception as err:
        raise Malformed(f"bad array header: {type(err).__name__}") from None
    if (dtype.kind not in _ALLOWED_KINDS or dtype.hasobject or dtype.fields is not None
            or dtype.subdtype is not None):
        raise Malformed("array of a non-numeric dtype")
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise Malformed("bad array shape")
    return shape, dtype, f.tell(), bool(_fortran)


def _read_record(blob: bytes, budget: DecodeBudget, widen: bool, bounded: bool = True):
    """(JSON head, arrays) of a record, every size checked first (``bounded=False``: only its
    structure, for what the trusted side sends into the sandbox)."""
    if len(blob) < 8:
        raise Malformed("empty result")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or (bounded and n > MAX_JSON_BYTES):
        raise Malformed(f"bad header length ({n} bytes; at most {MAX_JSON_BYTES} accepted)", n <= len(blob) - 8)
    try:
        head = json.loads(blob[8:8 + n].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise Malformed(f"header is not JSON: {str(err)[:100]}") from None
    except RecursionError:
        raise Malformed("nested too deep") from None
    if not isinstance(head, dict) or not isinstance(head.get("blobs"), list):
        raise Malformed("header without blobs")
    if bounded and len(head["blobs"]) > MAX_ARRAYS:
        raise Malformed(f"{len(head['blobs'])} arrays in one result (at most {MAX_ARRAYS} accepted)", True)
    plan, pos = [], 8 + n
    for size in head["blobs"]:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or pos + size > len(blob):
            raise Malformed("bad array length")
        shape, dtype, offset, fortran = _array_header(blob[pos:pos + min(size, 1 << 16)])
        count = math.prod(shape)
        if bounded and count > MAX_ELEMENTS:
            raise Malformed(f"an array of {count} elements (shape {shape}; at most {MAX_ELEMENTS} accepted)", True)
        if offset + count * dtype.itemsize != size:
            raise Malformed("array data does not match its header")
        if bounded:
            budget.spend(count * (1 if dtype.kind == "b" else 8))
        plan.append((pos + offset, shape, dtype, fortran))
        pos += size
    arrays = []
    for start, shape, dtype, fortran in plan:
        try:  # the data in place, read once into a fresh writable array
            flat = np.frombuffer(blob, dtype=dtype, count=math.prod(shape), offset=start)
            a = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
        except Exception as err:
            raise Malformed(f"bad array: {type(err).__name__}") from None
        if widen and a.dtype.kind == "f":
            a = a.astype(np.float64)
        elif widen and a.dtype.kind in "iu":
            a = a.astype(np.int64)
        else:
            a = np.array(a, copy=True)
        arrays.append(a)
    return head, arrays


class _Decoder:
    def __init__(self, arrays, max_depth: int, tensors: bool, bounded: bool = True):
        self.arrays, self.max_depth, self.tensors, self.nodes = arrays, max_depth, tensors, 0
        self.max_nodes, self.max_str = (MAX_NODES, MAX_STR) if bounded else (1 << 40, 1 << 40)

    def count(self, k=1):
        self.nodes += k
        if self.nodes > self.max_nodes:
            raise Malformed(f"more than {MAX_NODES} values in one result", True)

    def text(self, v):
        if not isinstance(v, str):
            raise Malformed("a string was expected")
        if len(v) > self.max_str:
            raise Malformed(f"a string of {len(v)} characters (at most {MAX_STR} accepted)", True)
        return v

    def index(self, i):
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.arrays):
            raise Malformed("bad array index")
        return self.arrays[i]

    def walk(self, node, depth):
        if depth > self.max_depth:
            raise Malformed("nested too deep")
        self.count()
        if node is None or isinstance(node, (bool, int, float)):
            if isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
                raise Malformed("integer too large")
            return node
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, list):
            return [self.walk(v, depth + 1) for v in node]
        if not isinstance(node, dict) or not node:
            raise Malformed("unknown value in the result")
        key = next(iter(node))
        body = node[key]
        if len(node) == 1:
            if key == "__nd__":
                return self.index(body)
            if key == "__tuple__" and isinstance(body, list):
                return tuple(self.walk(v, depth + 1) for v in body)
            if key == "__dict__" and isinstance(body, dict):
                self.count(len(body))
                return {self.text(k): self.walk(v, depth + 1) for k, v in body.items()}
            if key == "__float__" and body in ("nan", "inf", "-inf"):
                return float(body)
        if not self.tensors:
            raise Malformed("unknown object in the result")
        return self.special(key, body, node, depth)

    def special(self, key, body, node, depth):
        keys = set(node)
        if key == "__int__" and keys == {key} and isinstance(body, str) and len(body) < 1300 \
                and body.lstrip("-").isdigit():
            return int(body)
        if key == "__unplain__" and keys == {key} and isinstance(body, list) and len(body) == 2:
            return Unplain(clean_message(self.text(body[0]))[:80], clean_message(self.text(body[1]))[:200])
        if key == "__slice__" and keys == {key} and isinstance(body, list) and len(body) == 3:
            return slice(*(self.walk(v, depth + 1) for v in body))
        if key == "__ellipsis__" and keys == {key}:
            return Ellipsis
        torch = _torch()
        if key == "__size__" and keys == {key} and isinstance(body, list) and len(body) <= 32 \
                and all(type(d) is int and 0 <= d < 2**40 for d in body):
            return torch.Size(body)
        if key == "__dtype__" and keys == {key} and body in _TORCH_DTYPES:
            return getattr(torch, body)
        if key == "__device__" and keys == {key} and isinstance(body, str) and len(body) < 40:
            try:
                return torch.device(body)
            except Exception:
                raise Malformed("bad device") from None
        if key == "__gen_state__" and keys == {key}:
            state = self.index(body)
            if state.dtype != np.uint8 or state.ndim != 1:
                raise Malformed("bad generator state")
            gen = torch.Generator()
            try:
                gen.set_state(torch.from_numpy(state.copy()))
            except Exception:
                raise Malformed("bad generator state") from None
            return gen
        if key == "__gen__" and keys == {key} and type(body) is int:
            return torch.Generator().manual_seed(body)
        if key == "__dev__" and keys == {key} and isinstance(body, str) and len(body) < 40:
            return self.special("__device__", body, {"__device__": body}, depth)
        if key in ("__tensor__", "__meta__") and keys == {key, "dtype", "rg"} | ({"device"} if key == "__tensor__"
                                                                             else set()):
            dtype, rg = node["dtype"], node["rg"]
            if dtype not in _TORCH_DTYPES or type(rg) is not bool:
                raise Malformed("bad tensor")
            tdtype = getattr(torch, dtype)
            if key == "__meta__":
                if not isinstance(body, list) or len(body) > 32 or not all(type(d) is int and 0 <= d < 2**40
                                                                            for d in body):
                    raise Malformed("bad tensor shape")
                t = torch.empty(body, dtype=tdtype, device="meta")
            else:
                a = self.index(body)
                device = node["device"]
                if not isinstance(device, str) or len(device) > 40:
                    raise Malformed("bad tensor device")
                t = torch.from_numpy(a).to(tdtype)
                if device != "cpu":
                    _remember_device(t, device)
            if rg:
                if not (t.is_floating_point() or t.is_complex()):
                    raise Malformed("requires_grad on an integer tensor")
                t.requires_grad_(True)
            return t
        raise Malformed("unknown object in the result")


def decode(blob: bytes, budget: DecodeBudget | None = None, max_depth: int = MAX_DEPTH, bounded: bool = True):
    """An untrusted record -> plain data with tensors rebuilt on the CPU (dtype, shape, requires_grad; their
    device is kept for :func:`device_of`), :class:`Unplain` for what was not plain, or :class:`Malformed`.
    ``bounded=False`` (the sandbox reading the trusted side's arguments) checks the structure only."""
    head, arrays = _read_record(blob, budget or DecodeBudget(), widen=False, bounded=bounded)
    return _Decoder(arrays, max_depth if bounded else 4 * MAX_DEPTH, True, bounded).walk(head.get("tree"), 0)


def decode_blob(blob: bytes, max_depth: int = MAX_DEPTH, budget: DecodeBudget | None = None):
    """Untrusted bytes -> plain data (JSON values, tuples, float64/int64/bool arrays) or Malformed.

    Every size is checked before it is parsed or decoded: the JSON tree's bytes, nodes, depth and
    strings, the number of arrays, each array's elements and the decoded bytes of all arrays
    (``budget``, shared by the records of one notebook; float16 or int8 arrays count at 8 bytes
    per element, as they are decoded)."""
    head, arrays = _read_record(blob, budget or DecodeBudget(), widen=True)
    return _Decoder(arrays, max_depth, tensors=False).walk(head.get("tree"), 0)


# --------------------------------------------------------------------------- frames on the sandbox's streams
def frame(tag: bytes, payload: bytes = b"") -> bytes:
    return tag + struct.pack("<Q", len(payload)) + payload


def big_pipe(fds, size: int = 1 << 20):
    """Ask for 1 MiB pipe buffers (the most an ordinary user gets): a record crosses in a few writes
    instead of one per 64 KiB."""
    import fcntl
    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
        except OSError:
            pass
    return fds


def write_all(fd: int, data: bytes, deadline: float | None = None) -> bool:
    """Write everything, or give up at ``deadline`` (monotonic) when the reader stops reading."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _, ready, _ = select.select([], [fd], [], left)
            if not ready:
                continue
        try:
            n = os.write(fd, view[:1 << 20] if deadline is not None else view)
        except BlockingIOError:
            continue
        except (BrokenPipeError, OSError):
            return False
        view = view[n:]
    return True


class FrameReader:
    """One side of a stream written by a process that is not trusted: at most ``cap`` bytes in all,
    frames of at most ``frame_cap`` bytes, each read by a deadline the caller gives."""

    def __init__(self, fd: int, cap: int, frame_cap: int = MAX_RECORD_BYTES):
        self.fd, self.cap, self.frame_cap = fd, cap, frame_cap
        self.buf, self.total = bytearray(), 0
        self.eof = self.over = self.bad = False

    def need(self, n: int, deadline: float | None) -> bool:
        while len(self.buf) < n and not self.eof:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                b = os.read(self.fd, 1 << 20)
            except OSError:
                b = b""
            self.total += len(b)
            if not b or self.total > self.cap:
                self.eof, self.over = True, bool(b)
            else:
                self.buf.extend(b)
        return len(self.buf) >= n

    def read(self, deadline: float | None = None, tags: bytes = b"", cap: int | None = None):
        """(tag, payload) of the next frame, one of ``tags`` (any when empty) and at most ``cap`` bytes
        (``frame_cap`` by default), or None (see :meth:`why`)."""
        if not self.need(9, deadline):
            return None
        tag = bytes(self.buf[:1])
        (n,) = struct.unpack("<Q", bytes(self.buf[1:9]))
        if (tags and tag not in [tags[i:i + 1] for i in range(len(tags))]) or n > (cap or self.frame_cap):
            self.bad = True
            return None
        if not self.need(9 + n, deadline):
            return None
        out = memoryview(self.buf)[9:9 + n].tobytes()
        del self.buf[:9 + n]
        return tag, out

    def why(self) -> str:
        return "malformed" if self.bad else "too_big" if self.over else "exited" if self.eof else "timeout"
