"""``{exercise-summary} <id>``: a chapter's exercise summary, read from its notebook at build time.

The exercise notebooks (``solutions/<id>/<id>.ipynb``, nbgrader's source) are the one source of
truth of what an exercise asks and what it is worth, so the chapter pages do not describe them by
hand.  The directive reads the notebook when the page is built and writes, in the page's
language (``book/vi/…`` or ``book/en/…``):

* a pointer to the set-up page (label ``setup-<lang>``);
* one item per ``## Phần X / Part X (n điểm / points)`` header: the points (the sum of the
  nbgrader points of the part's test cells, which is what the grader counts), the functions
  (with their parameters) and variables its solution cells define, and the part's own text in
  that language (the notebook writes each part in Vietnamese, then in English);
* what the visible tests do and do not do.

Only names and parameter lists are taken from solution cells, never their bodies.  The page is
rebuilt when the notebook changes (``env.note_dependency``).
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

LANGS = ("vi", "en")
PART_HEADER = re.compile(r"^##\s+Phần\s+(?P<vi>\w+)\s*/\s*Part\s+(?P<en>\w+)\s*"
                         r"\((?P<points>\d+(?:\.\d+)?)\s*điểm\s*/\s*points?\)\s*$", re.M)
_VI_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùýĩũ")


@dataclass
class Part:
    letter: dict[str, str]
    header_points: float
    text: dict[str, list[str]] = field(default_factory=lambda: {"vi": [], "en": []})
    functions: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    points: float = 0.0
    tested: set[str] = field(default_factory=set)

    def graded_variables(self) -> list[str]:
        """The assigned names the part's test cells read (helpers such as loop counters are left out)."""
        return [name for name in self.variables if name in self.tested]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _language(paragraph: str) -> str:
    return "vi" if any(c.lower() in _VI_LETTERS for c in paragraph) else "en"


def _names(source: str) -> tuple[list[str], list[str]]:
    """(function signatures, assigned names) defined at the top level of a solution cell."""
    functions, variables = [], []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(f"{node.name}({ast.unparse(node.args)})")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name) and name.id not in variables:
                        variables.append(name.id)
    return functions, variables


def _loaded_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def notebook_path(root: Path, assignment: str) -> Path:
    return root / "solutions" / assignment / f"{assignment}.ipynb"


def read_parts(path: Path) -> list[Part]:
    """The parts of an exercise notebook, in order, with their points, names and texts."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts: list[Part] = []
    for cell in cells:
        src = _source(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        header = PART_HEADER.search(src) if cell.get("cell_type") == "markdown" else None
        if header:
            part = Part({"vi": header["vi"], "en": header["en"]}, float(header["points"]))
            for paragraph in re.split(r"\n\s*\n", src[header.end():]):
                paragraph = " ".join(paragraph.split())
                if paragraph:
                    part.text[_language(paragraph)].append(paragraph)
            parts.append(part)
        elif parts and meta.get("grade") and cell.get("cell_type") == "code":
            parts[-1].points += float(meta.get("points") or 0)
            parts[-1].tested |= _loaded_names(src)
        elif parts and meta.get("solution") and cell.get("cell_type") == "code":
            functions, variables = _names(src)
            parts[-1].functions += functions
            parts[-1].variables += variables
    return parts


def _num(value: float, lang: str) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "vi" else text


_WORDS = {
    "vi": {
        "setup": "Trước khi bắt đầu, hãy cài đặt Python và các thư viện như ở trang {ref}`setup-vi`, rồi mở "
                 "notebook bằng Jupyter hoặc VS Code và chạy các ô từ trên xuống.",
        "total": "Bài tập có {n} phần, tổng cộng {points} điểm:",
        "part": "Phần {letter} ({points} điểm)",
        "write": "viết", "set": "gán", "and": "và",
        "tests": "Ngay dưới mỗi phần, các ô kiểm thử hiển thị (dòng đầu bắt đầu bằng “Check that …”) chạy "
                 "hàm của bạn trên những ví dụ nhỏ và so với PyTorch hoặc với giá trị tính tay. Bài tập không "
                 "dùng `alexnet_ref`: một hàm gọi đến `alexnet_ref` được 0 điểm. Khi bạn nộp bài, bộ chấm của "
                 "giảng viên chạy thêm các bài kiểm thử ẩn trên cùng những hàm và biến đó, nên hãy viết đúng cho "
                 "mọi đầu vào hợp lệ chứ không chỉ cho các ví dụ hiển thị.",
    },
    "en": {
        "setup": "Before you start, install Python and the libraries as on the page {ref}`setup-en`, then "
                 "open the notebook in Jupyter or VS Code and run its cells from top to bottom.",
        "total": "The exercise has {n} parts, {points} points in all:",
        "part": "Part {letter} ({points} points)",
        "write": "write", "set": "set", "and": "and",
        "tests": "Right below each part, the visible test cells (their first line starts with “Check that …”) "
                 "run your functions on small examples and compare them with PyTorch or with values worked "
                 "out by hand. The exercises do not use `alexnet_ref`: a function that calls `alexnet_ref` "
                 "scores 0. When you hand the notebook in, the instructor's grader runs further hidden tests "
                 "on the same functions and variables, so make them right for every valid input, not only for "
                 "the visible examples.",
    },
}


def _join(items: list[str], lang: str) -> str:
    items = [f"`{item}`" for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {_WORDS[lang]['and']} " + items[-1]


def summary_markdown(parts: list[Part], lang: str) -> str:
    """The summary as MyST Markdown in ``lang``."""
    words = _WORDS[lang]
    total = sum(p.points for p in parts)
    lines = [words["setup"], "", words["total"].format(n=len(parts), points=_num(total, lang)), ""]
    for part in parts:
        todo = []
        if part.functions:
            todo.append(f"{words['write']} {_join(part.functions, lang)}")
        if part.graded_variables():
            todo.append(f"{words['set']} {_join(part.graded_variables(), lang)}")
        head = "**" + words["part"].format(letter=part.letter[lang], points=_num(part.points, lang)) + "**"
        lines.append(f"- {head}" + (": " + "; ".join(todo) + "." if todo else ""))
        for paragraph in part.text[lang]:
            lines += ["", f"  {paragraph}"]
    lines += ["", words["tests"]]
    return "\n".join(lines)


def page_language(docname: str) -> str:
    parts = docname.split("/")
    if len(parts) >= 3 and parts[0] == "book" and parts[1] in LANGS:
        return parts[1]
    raise ExtensionError(f"exercise-summary: {docname} is not a page under book/vi or book/en")


class ExerciseSummary(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        assignment = self.arguments[0]
        path = notebook_path(Path(self.env.srcdir), assignment)
        if not path.is_file():
            raise self.error(f"exercise-summary: no notebook {path.relative_to(self.env.srcdir)} "
                             f"for the assignment {assignment!r}")
        self.env.note_dependency(str(path))
        parts = read_parts(path)
        if not parts:
            raise self.error(f"exercise-summary: {path.name} has no '## Phần X / Part X (n điểm / points)' header")
        container = nodes.container(classes=["exercise-summary"])
        text = summary_markdown(parts, page_language(self.env.docname))
        self.state.nested_parse(StringList(text.splitlines(), source=str(path)), self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict:
    app.add_directive("exercise-summary", ExerciseSummary)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
