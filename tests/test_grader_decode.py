"""What the trusted side accepts from the sandbox: every size is bounded before it is parsed or decoded.

Records are crafted here in the sandbox's own wire format (``course_grader.wire.encode``) or by hand,
as a hostile notebook process could write them.  Both readers are checked: ``decode_blob`` (the older
one, float arrays widened) and ``wire.decode`` (tensors rebuilt).
"""
from __future__ import annotations

import io
import json
import struct
import tracemalloc

import numpy as np
import pytest

from course_grader import wire
from course_grader.sandbox import (MAX_ARRAYS, MAX_DECODED_BYTES, MAX_ELEMENTS, MAX_JSON_BYTES, MAX_NODES,
                                   MAX_STR, DecodeBudget, Malformed, decode_blob)


def pack(value) -> bytes:
    return wire.encode(value, strict=False)


def raw_record(tree, arrays=(), npy=None) -> bytes:
    blobs = list(npy) if npy is not None else []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        blobs.append(buf.getvalue())
    h = json.dumps({"tree": tree, "blobs": [len(b) for b in blobs]}).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def peak_mib(fn, *args, **kwargs):
    tracemalloc.start()
    try:
        try:
            fn(*args, **kwargs)
        except Malformed as err:
            err_ = err
        else:
            err_ = None
        return tracemalloc.get_traced_memory()[1] / 2**20, err_
    finally:
        tracemalloc.stop()


def test_honest_result_decodes_to_float64():
    out = np.random.default_rng(0).standard_normal((2, 96, 55, 55)).astype(np.float32)
    got = decode_blob(pack({"results": [out, ("raised", "ValueError", "x")]}))
    assert got["results"][0].dtype == np.float64 and got["results"][0].shape == (2, 96, 55, 55)
    assert np.array_equal(got["results"][0], out.astype(np.float64))
    assert got["results"][1] == ("raised", "ValueError", "x")


def test_array_huge_after_upcast_is_refused_before_decoding():
    blob = pack({"results": [np.zeros(MAX_ELEMENTS + 1, np.int8)]})  # 4 MiB in, 32 MiB out
    peak, err = peak_mib(decode_blob, blob)
    assert err is not None and f"at most {MAX_ELEMENTS}" in str(err), f"expected Malformed naming the cap, got {err!r}"
    assert peak < 8, f"decode_blob allocated {peak:.0f} MiB to refuse a {len(blob) >> 20} MiB record"


@pytest.mark.parametrize("decode", [decode_blob, wire.decode], ids=["decode_blob", "decode"])
def test_decoded_total_is_bounded_across_the_parts_of_a_notebook(decode):
    per = MAX_ELEMENTS  # float16: 8 MiB on the wire, 32 MiB once decoded
    n = MAX_DECODED_BYTES // (per * 8) + 1
    budget = DecodeBudget()  # one per notebook session, shared by its parts
    decode(pack({"cell_errors": [], "events": []}), budget=budget)
    outcomes = []
    for _ in range(n):
        try:
            decode(pack({"results": [np.zeros(per, np.float16)]}), budget=budget)
            outcomes.append("")
        except Malformed as err:
            outcomes.append(str(err))
            assert err.too_large, f"a budget overrun must be marked too_large (ResultTooLarge, not PartLost): {err}"
    refused = [o for o in outcomes if o]
    assert len(refused) == 1 and outcomes[-1], outcomes
    assert "MiB once decoded" in refused[0], refused[0]


@pytest.mark.parametrize("what", ["json", "depth", "nodes", "dict-keys", "string", "arrays", "mismatch", "dtype",
                                  "structured", "shape"])
@pytest.mark.parametrize("decode", [decode_blob, wire.decode], ids=["decode_blob", "decode"])
def test_crafted_record_is_refused(what, decode):
    if what == "json":
        blob = raw_record(["x" * 1000] * (MAX_JSON_BYTES // 1000 + 10))
    elif what == "depth":
        h = b'{"blobs": [], "tree": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        blob = struct.pack("<Q", len(h)) + h
    elif what == "nodes":
        blob = raw_record([0] * (MAX_NODES + 1))
    elif what == "dict-keys":
        blob = raw_record({"__dict__": {str(i): 0 for i in range(MAX_NODES + 1)}})
    elif what == "string":
        blob = raw_record("x" * (MAX_STR + 1))
    elif what == "arrays":
        blob = raw_record(None, [np.zeros(0)] * (MAX_ARRAYS + 1))
    elif what == "mismatch":  # a header that claims more data than the blob holds
        buf = io.BytesIO()
        np.save(buf, np.zeros(10))
        npy = buf.getvalue().replace(b"(10,)", b"(99,)")
        blob = raw_record({"__nd__": 0}, npy=[npy])
    elif what == "dtype":
        buf = io.BytesIO()
        np.save(buf, np.array(["a", "b"]))
        blob = raw_record({"__nd__": 0}, npy=[buf.getvalue()])
    elif what == "structured":
        blob = raw_record({"__nd__": 0}, [np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])])
    else:  # a shape whose element count overflows anything sane
        buf = io.BytesIO()
        np.save(buf, np.zeros(1))
        npy = buf.getvalue().replace(b"(1,)", b"(1099511627776, 1099511627776)")
        blob = raw_record({"__nd__": 0}, npy=[npy])
    with pytest.raises(Malformed):
        decode(blob)


def test_budget_is_spent_by_each_array():
    b = DecodeBudget(100)
    b.spend(60)
    with pytest.raises(Malformed, match="MiB once decoded"):
        b.spend(41)


# --------------------------------------------------------------------------- wire.decode: what a session's answers may hold
def test_tensor_records_are_rebuilt_on_the_cpu_with_their_device_recorded():
    import torch
    rec = raw_record({"__tuple__": [{"__tensor__": 0, "dtype": "float16", "rg": True, "device": "cuda:0"},
                                    {"__meta__": [2, 3], "dtype": "int64", "rg": False},
                                    {"__size__": [2, 3]}, {"__dtype__": "bfloat16"}, {"__device__": "cuda:1"},
                                    {"__unplain__": ["Evil", "<Evil>"]}]}, [np.ones((2, 2), np.float32)])
    t, m, size, dtype, device, evil = wire.decode(rec)
    assert type(t) is torch.Tensor and t.device.type == "cpu" and t.dtype == torch.float16 and t.requires_grad, t
    assert wire.device_of(t) == "cuda:0" and wire.device_of(torch.ones(1)) == "cpu"
    assert m.is_meta and m.dtype == torch.int64 and wire.device_of(m) == "meta"
    assert type(size) is torch.Size and dtype is torch.bfloat16 and device == torch.device("cuda:1")
    assert isinstance(evil, wire.Unplain) and not callable(evil) and evil.type_name == "Evil"


@pytest.mark.parametrize("tree, why", [
    ({"__tensor__": 0, "dtype": "object", "rg": False, "device": "cpu"}, "a dtype that is not numeric"),
    ({"__tensor__": 0, "dtype": "int64", "rg": True, "device": "cpu"}, "requires_grad on integers"),
    ({"__tensor__": 0, "dtype": "float32", "rg": False, "device": "cpu", "cls": "os.system"}, "an extra key"),
    ({"__meta__": [10**20], "dtype": "float32", "rg": False}, "a meta shape beyond sense"),
    ({"__dtype__": "Tensor"}, "a dtype name that is not one"),
    ({"__gen_state__": 0}, "a generator state that is not one"),
    ({"__int__": "1" * 5000}, "an integer of 5,000 digits"),
    ({"__unplain__": ["x" * (MAX_STR + 1), ""]}, "a type name longer than a string may be"),
    ({"__module__": "os", "__name__": "system"}, "an unknown object"),
])
def test_decode_refuses_crafted_objects(tree, why):
    rec = raw_record(tree, [np.ones(3, np.int64)])
    with pytest.raises(Malformed):
        wire.decode(rec)
        pytest.fail(f"wire.decode accepted {why}")


def test_student_exceptions_are_rebuilt_only_as_builtin_exceptions():
    err = wire.student_exception("ValueError", "bad\x00 <b>x</b>" + "y" * 1000, True)
    assert type(err) is ValueError and err.from_student and len(str(err)) == 300 and "\x00" not in str(err)
    assert type(wire.student_exception("ValueError", "m", False)) is wire.StudentError, "a student class named ValueError"
    for name in ("SystemExit", "KeyboardInterrupt", "StopIteration", "GeneratorExit", "Oops", "UnicodeDecodeError"):
        got = wire.student_exception(name, "m", True)
        assert type(got) is wire.StudentError and got.type_name == name, (name, got)


def test_trusted_arguments_that_are_not_plain_data_name_themselves():
    import torch
    with pytest.raises(TypeError, match="object"):
        wire.encode((1, object()))
    with pytest.raises(TypeError, match="not str"):
        wire.encode({1: 2})
    with pytest.raises(TypeError):
        wire.encode(np.array(["a"]))
    assert isinstance(wire.decode(wire.encode(object(), strict=False)), wire.Unplain)
    g = torch.Generator().manual_seed(3)
    back = wire.decode(wire.encode(g), bounded=False)
    assert torch.equal(torch.rand(4, generator=back), torch.rand(4, generator=torch.Generator().manual_seed(3)))
