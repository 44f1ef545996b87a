"""An in-process stand-in for ``Zygote.session`` (tests only): the same plain-data contract, no sandbox.

The student's cells run in a namespace of this process; every call and read goes through
``course_grader.wire``'s encoder and bounded decoder, so the trusted side receives what the
real sandbox would send back (tensors rebuilt, ``Unplain`` for anything else, builtin
exceptions re-raised with the student's message).  A call that runs longer than
``part_s`` makes the part lost, as the zygote's SIGKILL would.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import threading

from course_grader import sandbox_student as S
from course_grader import wire


class FakePart:
    def __init__(self, namespace: dict, part_s: float):
        self.namespace, self.part_s = namespace, part_s
        self.events: list = []
        self.lost = ""

    def _roundtrip(self, value):
        try:
            blob = wire.encode_bounded(value)
        except wire.Malformed as err:
            raise wire.StudentError("ResultTooLarge", str(err)) from None
        return wire.decode(wire.encode(wire.decode(blob), strict=False))

    def call(self, name, args, kwargs, mode="value", banned=()):
        if self.lost:
            raise wire.PartLost(self.lost)
        sent = wire.decode(wire.encode((tuple(args), dict(kwargs)), strict=True), bounded=False)
        fn = self.namespace[name]
        box: dict = {}

        def run():
            try:
                box["result"] = S.call_mode(fn, mode, tuple(sent[0]), dict(sent[1]), tuple(banned))
            except wire.BannedOperator as hit:
                box["error"] = wire.BannedOperator(hit.used, str(hit))
            except Exception as err:
                builtin = type(err).__name__ in wire.BUILTIN_ERRORS and type(err).__module__ == "builtins"
                box["error"] = wire.student_exception(type(err).__name__, str(err), builtin)

        worker = threading.Thread(target=run, daemon=True)
        with contextlib.redirect_stdout(io.StringIO()):
            worker.start()
            worker.join(self.part_s)
        if worker.is_alive():
            self.lost = f"the part ran longer than {self.part_s:g} s"
            raise wire.PartLost(self.lost)
        if "error" in box:
            raise box["error"]
        return self._roundtrip(box["result"])

    def read(self, name):
        if self.lost:
            raise wire.PartLost(self.lost)
        if name not in self.namespace:
            return ("missing",)
        value = self.namespace[name]
        if inspect.isfunction(value):
            return ("function", value.__qualname__)
        out = self._roundtrip(value)
        if isinstance(out, wire.Unplain):
            return ("unplain", out.type_name)
        return ("value", out)


class FakeNotebook:
    def __init__(self, cells, part_s: float = 120.0):
        self.namespace: dict = {"__name__": "__main__"}
        self.cell_errors: list = []
        self.events: list = []
        self.problem = ""
        self.part_s = part_s
        for cell in cells:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(cell["source"], str(cell["label"]), "exec"), self.namespace)
            except Exception as err:
                self.cell_errors.append({"cell": str(cell["label"]), "error": type(err).__name__,
                                         "message": str(err)[:300]})

    @contextlib.contextmanager
    def part(self, label, more=False):
        # parts share nothing: each sees the namespace as the cells left it
        yield FakePart(dict(self.namespace), self.part_s)


@contextlib.contextmanager
def fake_session(cells, part_s: float = 120.0):
    yield FakeNotebook(cells, part_s)


class FakeZygote:
    """``Zygote`` as far as course_grader.grade uses it: ``session(cells)``."""

    def __init__(self, part_s: float = 120.0):
        self.part_s = part_s

    def session(self, cells):
        return fake_session(cells, self.part_s)
