"""Every message a student sees from the grader, in Vietnamese and English: one catalogue.

:func:`say` formats one entry of :data:`CATALOGUE` into a :class:`Text` (a
``str`` holding both languages, Vietnamese first, wrapped for reading, with
``.vi`` and ``.en``); :func:`part` puts a test cell's name and what was checked
in front.  Messages name a cell by the function or variable it checks, never by
an index.  They say what was checked and how the answer is wrong, never the
expected value, unless the instructor sets ``c.CourseGrader.show_expected =
True`` in ``nbgrader_config.py`` (:func:`show_expected`).
"""
from __future__ import annotations

import functools
import os
import textwrap
from pathlib import Path

WIDTH = 88

CATALOGUE: dict[str, dict[str, str]] = {
    # the banned-operator rule (course_grader.policy and the runtime tripwires)
    "banned": {
        "vi": "{function} dùng {used}, phiên bản có sẵn trong thư viện của phép toán mà phần này yêu cầu "
              "bạn tự viết, nên phần này được 0 điểm. Hãy tự xây dựng nó từ các phép toán tensor khác "
              "(vòng lặp, chỉ số, unfold, matmul, einsum, max, sum, ...) rồi chạy lại các bài kiểm tra.",
        "en": "{function} uses {used}, the library's version of the operator this part asks you to write "
              "yourself, so this part scores 0. Build it from other tensor operations (loops, indexing, "
              "unfold, matmul, einsum, max, sum, ...) and run the tests again.",
    },
    "banned_runtime": {
        "vi": "Khi chạy, {function} đã gọi {used}, phép toán có sẵn trong thư viện mà phần này yêu cầu bạn "
              "tự viết (kể cả khi gọi qua một hàm phụ hay một tên khác), nên phần này được 0 điểm.",
        "en": "While it ran, {function} called {used}, the library's operator this part asks you to write "
              "yourself (through a helper or under another name counts too), so this part scores 0.",
    },
    "unverifiable": {
        "vi": "{function} dùng {used} ({why_vi}). Trình chấm không thể kiểm tra đoạn mã như vậy có gọi phép "
              "toán thư viện bị cấm hay không, nên quy tắc này không đạt và phần này được 0 điểm. {instead_vi}",
        "en": "{function} uses {used} ({why_en}). The grader cannot verify that such code avoids the "
              "banned library operator, so the rule fails and this part scores 0. {instead_en}",
    },
    "reference": {
        "vi": "{function} dùng {used}, tức lời giải mẫu của khóa học (hoặc trình chấm), nên phần này được "
              "0 điểm. Hãy tự viết hàm của bạn.",
        "en": "{function} uses {used}, the course's reference solution (or the grader), so this part "
              "scores 0. Write your own function.",
    },
    "reference_notebook": {
        "vi": "Sổ tay dùng alexnet_ref ({used}), tức lời giải mẫu của khóa học, nên phần này được 0 điểm.",
        "en": "The notebook uses alexnet_ref ({used}), the course's reference solution; this part scores 0.",
    },
    # the part could not be run
    "not_defined": {
        "vi": "Chưa có {name}: hãy viết nó trong ô của nó và chạy ô đó trước bài kiểm tra này.",
        "en": "{name} is not defined: write it in its cell and run that cell before this test.",
    },
    "unknown_test": {
        "vi": "Khóa học không có bài kiểm tra ẩn {name}.",
        "en": "The course has no hidden test {name} (unknown test).",
    },
    "cell_raised": {
        "vi": "(ô {cell} báo lỗi {error}: {message})",
        "en": "(the cell {cell} raised {error}: {message})",
    },
    "cell_raised_added": {
        "vi": "(một ô bạn thêm vào báo lỗi {error}: {message})",
        "en": "(a cell you added raised {error}: {message})",
    },
    "no_results": {
        "vi": "Phần này không trả về kết quả nào ({why}).",
        "en": "The part returned no results ({why}).",
    },
    "hidden_check": {
        "vi": "Một bài kiểm tra ẩn không đạt (dòng {line} của phần kiểm tra ẩn).",
        "en": "A hidden check failed (line {line} of the hidden tests).",
    },
    "visible_check": {
        "vi": "Một phép kiểm tra của ô này không đạt (dòng {line}: {code}).",
        "en": "A check of this test cell failed (line {line}: {code}).",
    },
    "test_error": {
        "vi": "Bài kiểm tra không dùng được kết quả của bạn (dòng {line}, {error}: {message}).",
        "en": "The test could not use your result (line {line}, {error}: {message}).",
    },
    "test_error_hidden": {
        "vi": "Bài kiểm tra ẩn không dùng được kết quả của bạn ({error} ở dòng {line} của phần kiểm tra ẩn).",
        "en": "The hidden test could not use your result ({error} at line {line} of the hidden tests).",
    },
    "not_comparable": {
        "vi": "Không thể so sánh kết quả ({error}).",
        "en": "The result could not be compared ({error}).",
    },
    # how a result is wrong
    "raised": {
        "vi": "Hàm báo lỗi {error}: {message}",
        "en": "It raised {error}: {message}",
    },
    "raises_other": {
        "vi": "Cần báo lỗi {expected}, nhưng hàm báo lỗi {error}: {message}",
        "en": "It should raise {expected}, but it raised {error}: {message}",
    },
    "raises_unnamed": {
        "vi": "Hàm báo lỗi {expected} đúng như yêu cầu, nhưng thông báo {message!r} không nêu {missing}.",
        "en": "It raised {expected} as required, but the message {message!r} does not name {missing}.",
    },
    "raises_none": {
        "vi": "Cần báo lỗi {expected}, nhưng hàm lại trả về {got_vi}.",
        "en": "It should raise {expected}, but it returned {got_en}.",
    },
    "wrong_value": {
        "vi": "Giá trị sai: nhận được {got}.",
        "en": "Wrong value: got {got}.",
    },
    "wrong_type": {
        "vi": "Sai kiểu: cần {want_vi}, nhận được {got_vi}.",
        "en": "Wrong type: expected {want_en}, got {got_en}.",
    },
    "wrong_length": {
        "vi": "Sai số phần tử: nhận được {got} phần tử, cần {want}.",
        "en": "Wrong number of elements: got {got}, expected {want}.",
    },
    "wrong_elements": {
        "vi": "Sai giá trị ở phần tử {where} (đếm từ 0); kết quả nhận được: {got}.",
        "en": "Wrong value at element {where} (counting from 0); the result: {got}.",
    },
    "wrong_shape": {
        "vi": "Sai kích thước: kết quả có kích thước {got}; {dims_vi}.",
        "en": "Wrong shape: the result has shape {got}; {dims_en}.",
    },
    "not_tensor": {
        "vi": "Cần một tensor, nhưng nhận được {got_vi}.",
        "en": "Expected a tensor, got {got_en}.",
    },
    "nan": {
        "vi": "Kết quả chứa NaN hoặc inf (lần đầu ở chỉ số {where}): hãy kiểm tra tràn số hoặc phép chia cho 0.",
        "en": "The result contains NaN or inf (first at index {where}): check for overflow or a division "
              "by zero.",
    },
    "values": {
        "vi": "{bad} trên {total} giá trị sai. Sai nhiều nhất ở chỉ số {where}: lệch {err:.3g}, gấp {ratio:.3g} "
              "lần dung sai cho phép.",
        "en": "{bad} of {total} values are wrong. The worst, at index {where}, is off by {err:.3g}, "
              "{ratio:.3g} times the allowed tolerance.",
    },
    "argmax": {
        "vi": "Lớp có xác suất cao nhất sai ở các hàng {rows}.",
        "en": "The most likely class is wrong in rows {rows}.",
    },
    "topk_pair": {
        "vi": "Cần một cặp (values, indices), nhưng nhận được {got_vi}.",
        "en": "Expected a pair (values, indices), got {got_en}.",
    },
    "topk_indices": {
        "vi": "Chỉ số (indices) sai ở các hàng {rows}.",
        "en": "The indices are wrong in rows {rows}.",
    },
    "topk_values": {
        "vi": "Giá trị (values): {detail_vi}",
        "en": "Values: {detail_en}",
    },
    "device": {
        "vi": "Kết quả phải nằm trên thiết bị {want}, nhưng nhận được {got}.",
        "en": "The result should be on the {want} device, got {got}.",
    },
    "dropout_stray": {
        "vi": "Mỗi đầu ra phải bằng 0 hoặc x/(1 − p) = x/{keep:g}; ở chỉ số {where} thì không.{hint_vi}",
        "en": "Every output must be 0 or x/(1 − p) = x/{keep:g}; at index {where} it is neither.{hint_en}",
    },
    "dropout_rate": {
        "vi": "Tỉ lệ phần tử bị loại là {rate:.3f}, cần xấp xỉ p = {p:g}.",
        "en": "It dropped a fraction {rate:.3f} of the units, expected about p = {p:g}.",
    },
    "dropout_same_state": {
        "vi": "Hai lần gọi với bộ sinh số ngẫu nhiên (generator) ở cùng một trạng thái cho hai mặt nạ khác "
              "nhau: hãy lấy mọi số ngẫu nhiên từ generator được truyền vào.",
        "en": "Two calls with generators in the same state gave different masks: draw every random number "
              "from the generator you are given.",
    },
    "dropout_seeds": {
        "vi": "Hai generator khởi tạo với hai seed khác nhau cho cùng một mặt nạ: mặt nạ phải được rút từ "
              "generator được truyền vào.",
        "en": "Generators with two different seeds gave the same mask: the mask must be drawn from the "
              "generator you are given.",
    },
    "dropout_calls": {
        "vi": "Hai lần gọi liên tiếp với cùng một generator cho cùng một mặt nạ: mỗi lần gọi phải rút "
              "mặt nạ mới (đừng đặt lại seed bên trong hàm).",
        "en": "Two calls in a row with the same generator gave the same mask: every call must draw a new "
              "mask (do not reseed inside the function).",
    },
    "dropout_pattern": {
        "vi": "Mặt nạ lặp lại theo chu kỳ {period} phần tử: các phần tử phải bị loại độc lập với nhau.",
        "en": "The mask repeats with a period of {period} elements: units must be dropped independently.",
    },
    "expected_is": {
        "vi": "(Giá trị đúng: {expected}.)",
        "en": "(The expected value: {expected}.)",
    },
}

# Why a reachable piece of code cannot be verified, and what to write instead.
UNVERIFIABLE_WHY = {
    "internal": ("không gian tên nội bộ của PyTorch",
                 "an internal PyTorch operator namespace",
                 "Hãy dùng các hàm công khai của torch (torch.xxx, x.sum(), chỉ số, unfold, matmul, einsum) "
                 "thay cho torch._C, torch.ops, torch._VF, ...",
                 "Use torch's public functions (torch.xxx, x.sum(), indexing, unfold, matmul, einsum) "
                 "instead of torch._C, torch.ops, torch._VF, ..."),
    "dispatch": ("một cơ chế tắt hoặc thay thế việc điều phối hàm của torch",
                 "a control that disables or replaces torch's function dispatch",
                 "Hãy bỏ nó đi: bài làm không cần đến nó.",
                 "Remove it: the exercise does not need it."),
    "dynamic": ("truy cập thuộc tính hoặc mã động",
                "dynamic attribute access or dynamic code",
                "Hãy viết thẳng tên hàm (ví dụ torch.maximum(a, b)) thay vì getattr với tên tính ra, eval, "
                "exec, __dict__, vars hay globals.",
                "Write the function's name directly (for example torch.maximum(a, b)) instead of getattr "
                "with a computed name, eval, exec, __dict__, vars or globals."),
}

KIND_TEXT = {"tensor": ("một tensor", "a tensor")}


class Text(str):
    """A message in both languages; the string is both, wrapped, Vietnamese first."""

    vi: str
    en: str

    def __new__(cls, vi: str, en: str):
        self = super().__new__(cls, render(vi, en))
        self.vi, self.en = vi, en
        return self

    def __add__(self, other):
        if isinstance(other, Text):
            return Text(f"{self.vi} {other.vi.lstrip()}".strip(), f"{self.en} {other.en.lstrip()}".strip())
        return Text(self.vi + str(other), self.en + str(other))


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=label, subsequent_indent=" " * len(label),
                         break_long_words=False, break_on_hyphens=False)


def render(vi: str, en: str) -> str:
    return _wrap("[vi] ", vi) + "\n" + _wrap("[en] ", en)


def say(key: str, **fields) -> Text:
    entry = CATALOGUE[key]
    return Text(entry["vi"].format(**fields), entry["en"].format(**fields))


def part(grade_id: str, what: str, text) -> str:
    """A failed test cell: its name, what it checked, then the message in both languages."""
    head = f"{grade_id}: {what}" if what else grade_id
    return head + "\n" + str(text)


def cell_name(label: str) -> str:
    """A cell named by the function or variable it defines (its nbgrader grade_id), not by its index."""
    name = str(label).rpartition(":")[2]
    return name if name and not name.isdigit() and not name.startswith("src") else "?"


def cell_raised(error: dict) -> Text:
    """Why a cell the part depends on did not define what it should."""
    name = cell_name(error.get("cell", ""))
    fields = {"error": error.get("error", "error"), "message": str(error.get("message", ""))[:300]}
    if name == "?":
        return say("cell_raised_added", **fields)
    return say("cell_raised", cell=name, **fields)


def describe(value) -> tuple[str, str]:
    """A student's result in a few words (vi, en), without anything the grader expected."""
    import numpy as np
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "raised":
        return f"lỗi {value[1]}: {value[2]}", f"an error {value[1]}: {value[2]}"
    if isinstance(value, np.ndarray):
        return f"một mảng kích thước {tuple(value.shape)}", f"an array of shape {tuple(value.shape)}"
    if isinstance(value, dict) and set(value) == {"type", "repr"}:
        return f"một đối tượng {value['type']} ({value['repr']})", f"a {value['type']} ({value['repr']})"
    if isinstance(value, list):
        return f"một dãy {len(value)} phần tử: {short(value)}", f"a sequence of length {len(value)}: {short(value)}"
    if value is None:
        return "None", "None"
    return f"{type(value).__name__} {short(value)}", f"{type(value).__name__} {short(value)}"


def short(value) -> str:
    import numpy as np
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 120 else text[:117] + "..."


@functools.lru_cache(maxsize=64)
def _course_config(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "nbgrader_config.py"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=8)
def _show_expected_in(path: str) -> bool:
    try:
        from traitlets.config.loader import PyFileConfigLoader
        config = PyFileConfigLoader(os.path.basename(path), path=os.path.dirname(path)).load_config()
        return bool(config.CourseGrader.get("show_expected", False))
    except Exception:  # an unreadable config keeps the safe default
        return False


def show_expected(start: Path | None = None) -> bool:
    """The instructor's choice ``c.CourseGrader.show_expected`` in the course's ``nbgrader_config.py``."""
    path = _course_config(Path(start or os.getcwd()).resolve())
    return _show_expected_in(str(path)) if path else False
