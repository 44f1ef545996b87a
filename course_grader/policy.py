"""The banned-operator rule, decided on the trusted side from the source of the student's cells.

:func:`scan` resolves what one graded function can reach: its own body, the
functions, classes (all their methods) and top-level values of the submission
that it names, transitively, and the library paths behind import aliases
(``import torch.nn.functional as G``, ``from torch.nn.functional import
max_pool2d as mp``, ``pool = F.max_pool2d``).  Names the submission defines
itself are the student's code, whatever they are called; only what resolves to
an imported module (torch, numpy, scipy, ...) can be a library operator.

A reachable use is reported as one :class:`Finding`:

* ``banned``: a library path with a part that matches a banned pattern
  (``torch.nn.functional.max_pool2d``, ``numpy.pad``, ``x.softmax`` on an object
  that is not the student's);
* ``unverifiable``: code whose target the scan cannot know or that switches the
  runtime check off (PyTorch's internal operator namespaces ``torch._C``,
  ``torch.ops``, ``torch._VF``, ...; torch-function and dispatch controls;
  ``getattr`` with a computed name, ``eval``, ``exec``, ``__dict__``, ``vars``,
  ``globals``): the rule cannot be verified, so it fails;
* ``reference``: the course's reference solution or the grader.

The verdict is the same wherever it is computed: the course's grader calls it
on the cells it runs, :func:`course_grader.testing.forbid` on the cells the kernel
ran.  The runtime tripwires of :mod:`course_grader.sandbox_student` are a second line.
"""
from __future__ import annotations

import ast
import builtins
import fnmatch
from dataclasses import dataclass

REFERENCE_ROOTS = ("alexnet_ref", "course_grader")
# Where PyTorch keeps the operators behind the public API: reaching them skips the public names.
INTERNAL_PARTS = frozenset({"_C", "ops", "_ops", "_VF", "_refs", "_prims", "_prims_common", "_decomp",
                            "_functorch", "_dynamo", "_inductor", "_higher_order_ops", "_jit_internal", "jit",
                            "library", "fx", "_python_dispatch", "compile", "_subclasses", "func"})
DISPATCH_CONTROLS = frozenset({"DisableTorchFunction", "DisableTorchFunctionSubclass",
                               "_disabled_torch_function_impl", "_DisableTorchDispatch", "overrides",
                               "TorchFunctionMode", "TorchDispatchMode", "_set_torch_function_mode",
                               "_push_on_torch_function_stack", "_pop_torch_function_stack",
                               "_pop_mode", "_push_mode", "_len_torch_function_stack",
                               "__torch_function__", "__torch_dispatch__", "_EnableTorchFunction"})
DYNAMIC_BUILTINS = frozenset({"getattr", "eval", "exec", "compile", "vars", "globals", "locals", "__import__",
                              "__builtins__", "breakpoint"})
DYNAMIC_ATTRS = frozenset({"__dict__", "__getattribute__", "__getattr__", "__globals__", "__builtins__",
                           "__closure__", "__code__", "__wrapped__", "__self__", "__func__", "__loader__",
                           "__spec__", "f_globals", "f_locals", "f_builtins"})
# Modules that reach code or namespaces by name: every attribute, or only those listed.
DYNAMIC_MODULES = {"importlib": None, "inspect": None, "gc": None, "ctypes": None, "types": None, "pickle": None,
                   "marshal": None, "runpy": None,
                   "builtins": frozenset(DYNAMIC_BUILTINS | {"__dict__"}),
                   "operator": frozenset({"attrgetter", "methodcaller"}),
                   "sys": frozenset({"modules", "_getframe", "_current_frames", "settrace", "setprofile",
                                     "meta_path", "path_hooks"})}


@dataclass(frozen=True)
class Finding:
    kind: str          # "banned", "unverifiable" or "reference"
    text: str          # the code as written, e.g. "F.max_pool2d"
    resolved: str      # the library path, or why it cannot be verified
    line: int = 0


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _chain(node):
    """``a.b.c`` as ``("a", ["b", "c"])``; root None when the chain does not start at a name."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    attrs.reverse()
    return (node.id if isinstance(node, ast.Name) else None), attrs, node


def _text(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:
        return type(node).__name__


@dataclass
class _Binding:
    kind: str              # "node" (def/class), "import", "expr"
    node: ast.AST | None = None
    path: str = ""


class _Module:
    """Top-level bindings of all cells, in execution order (a plain rebinding replaces, a nested one adds)."""

    def __init__(self, trees: list[ast.Module]):
        self.bindings: dict[str, list[_Binding]] = {}
        self.stars: list[str] = []
        self.top_dynamic: list[ast.AST] = []
        self.classes: set[str] = set()
        self.student_attrs: set[str] = set()
        for tree in trees:
            for stmt in tree.body:
                self._bind(stmt, replace=True)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    self.classes.add(node.name)
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            self.student_attrs.add(item.name)
                        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                            for t in (item.targets if isinstance(item, ast.Assign) else [item.target]):
                                self.student_attrs.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    self.student_attrs.add(node.attr)

    def _set(self, name, binding, replace):
        if replace:
            self.bindings[name] = [binding]
        else:
            self.bindings.setdefault(name, []).append(binding)

    def _bind(self, stmt, replace):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._set(stmt.name, _Binding("node", stmt), replace)
            return
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                name = a.asname or a.name.split(".")[0]
                self._set(name, _Binding("import", stmt, a.name if a.asname else a.name.split(".")[0]), replace)
            return
        if isinstance(stmt, ast.ImportFrom):
            module = "." * (stmt.level or 0) + (stmt.module or "")
            for a in stmt.names:
                if a.name == "*":
                    self.stars.append(module)
                else:
                    self._set(a.asname or a.name, _Binding("import", stmt, f"{module}.{a.name}"), replace)
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value if stmt.value is not None else ast.Constant(None)
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        self._set(n.id, _Binding("expr", value), replace and not isinstance(stmt, ast.AugAssign))
            self._note_dynamic(stmt)
            return
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            for n in ast.walk(stmt.target):
                if isinstance(n, ast.Name):
                    self._set(n.id, _Binding("expr", stmt.iter), False)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    for n in ast.walk(item.optional_vars):
                        if isinstance(n, ast.Name):
                            self._set(n.id, _Binding("expr", item.context_expr), False)
        if isinstance(stmt, ast.NamedExpr):
            return
        self._note_dynamic(stmt)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(stmt, field, []) or []:
                if isinstance(child, ast.stmt):
                    self._bind(child, replace=False)
                elif hasattr(child, "body"):
                    for sub in child.body:
                        self._bind(sub, replace=False)

    def _note_dynamic(self, stmt):
        """Top-level code that can rebind names behind the scan's back (``globals()[...] = ...``, exec)."""
        def namespace(node):
            return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("globals", "vars", "locals")) or \
                (isinstance(node, ast.Attribute) and node.attr in ("__dict__", "__globals__"))

        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("exec", "eval", "compile", "__import__", "setattr"):
                self.top_dynamic.append(node)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and \
                    namespace(node.value):
                self.top_dynamic.append(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("update", "setdefault", "__setitem__", "pop") and namespace(node.func.value):
                self.top_dynamic.append(node)
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and \
                    node.value.attr == "modules" and _chain(node.value)[0] == "sys" and not (
                        isinstance(node.slice, ast.Constant) and node.slice.value != "__main__"):
                self.top_dynamic.append(node)       # sys.modules["__main__"] is the notebook's namespace


class _Scanner:
    def __init__(self, module: _Module, banned):
        self.m = module
        self.banned = tuple(banned)
        self.found: list[Finding] = []
        self.queue: list[str] = []

    def add(self, kind, node, resolved, text=None):
        if kind != "reference" and not self.banned:
            return
        f = Finding(kind, text if text is not None else _text(node), resolved, getattr(node, "lineno", 0))
        key = (f.kind, f.resolved if f.kind == "banned" else f.text)
        if all((g.kind, g.resolved if g.kind == "banned" else g.text) != key for g in self.found):
            self.found.append(f)

    # ------------------------------------------------------------------ name resolution
    def library_path(self, name, local_imports, local, seen=()):
        """The dotted library path a name stands for, or None (the student's, local, builtin or unknown)."""
        if name in local_imports:
            return local_imports[name]
        if name in local or name in seen:
            return None
        paths = []
        for b in self.m.bindings.get(name, []):
            if b.kind == "import":
                paths.append(b.path)
            elif b.kind == "expr":
                root, attrs, base = _chain(b.node)
                if root is not None:
                    p = self.library_path(root, {}, set(), seen + (name,))
                    if p:
                        paths.append(".".join([p] + attrs))
        return paths[0] if paths else None

    def check_path(self, path, node, text):
        parts = path.lstrip(".").split(".")
        root = parts[0]
        if root in REFERENCE_ROOTS:
            self.add("reference", node, path, text)
            return
        if root == "torch" and any(p in INTERNAL_PARTS for p in parts[1:]):
            self.add("unverifiable", node, "internal", text)
            return
        if any(p in DISPATCH_CONTROLS for p in parts):
            self.add("unverifiable", node, "dispatch", text)
            return
        if root in DYNAMIC_MODULES and len(parts) > 1 and (DYNAMIC_MODULES[root] is None
                                                           or parts[1] in DYNAMIC_MODULES[root]):
            self.add("unverifiable", node, "dynamic", text)
            return
        if any(p in DYNAMIC_ATTRS for p in parts):
            self.add("unverifiable", node, "dynamic", text)
            return
        if any(_matches(p, self.banned) for p in parts[1:]):
            self.add("banned", node, path, text)

    def students(self, node, local_values, local) -> bool:
        """Is ``node`` (the base of an attribute) an object of the student's own code?"""
        if isinstance(node, ast.Attribute):
            return self.students(_chain(node)[2], local_values, local) if _chain(node)[0] else False
        if isinstance(node, ast.Call):
            f = node.func
            return isinstance(f, ast.Name) and f.id in self.m.classes and f.id not in local
        if isinstance(node, ast.Name):
            if node.id in ("self", "cls"):
                return True
            values = local_values.get(node.id) if node.id in local else \
                [b.node for b in self.m.bindings.get(node.id, []) if b.kind in ("node", "expr")]
            if node.id not in local and any(b.kind == "node" for b in self.m.bindings.get(node.id, [])):
                return True
            return bool(values) and all(isinstance(v, (ast.ClassDef, ast.FunctionDef)) or
                                        (isinstance(v, ast.Call) and self.students(v, {}, set()))
                                        for v in values)
        return False

    # ------------------------------------------------------------------ walking one binding
    def walk(self, root: ast.AST):
        local, local_imports, local_values = set(), {}, {}
        is_scope = isinstance(root, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
        for node in ast.walk(root):
            if isinstance(node, ast.arg):
                local.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and (is_scope or node is not root):
                local.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not root:
                local.add(node.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    local_imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                module = "." * (node.level or 0) + (node.module or "")
                for a in node.names:
                    if a.name != "*":
                        local_imports[a.asname or a.name] = f"{module}.{a.name}"
                        self.check_path(f"{module}.{a.name}", node, f"{module}.{a.name}")
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        local_values.setdefault(t.id, []).append(node.value)
            elif isinstance(node, ast.Global):
                local.difference_update(node.names)
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.check_path(a.name, node, a.name)
        inner = set()
        skip_names = set()
        for node in ast.walk(root):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                inner.add(id(node.value))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and "getattr" not in local and "getattr" not in self.m.bindings:
                if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and \
                        isinstance(node.args[1].value, str):
                    skip_names.add(id(node.func))
                    self.attribute(node, node.args[0], [node.args[1].value], local, local_imports, local_values)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in DISPATCH_CONTROLS:
                self.add("unverifiable", node, "dispatch", f"def {node.name}")
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in skip_names:
                self.name(node, local, local_imports)
            elif isinstance(node, ast.Attribute) and id(node) not in inner:
                root_name, attrs, base = _chain(node)
                self.attribute(node, base, attrs, local, local_imports, local_values)

    def name(self, node, local, local_imports):
        n = node.id
        path = self.library_path(n, local_imports, local)
        if path:
            self.check_path(path, node, n)
            return
        if n in local:
            return
        if n in self.m.bindings:
            self.queue.append(n)
            return
        if hasattr(builtins, n) or n in ("__builtins__", "get_ipython", "display", "In", "Out"):
            if n in DYNAMIC_BUILTINS:
                self.add("unverifiable", node, "dynamic", n)
            return
        if self.m.stars:
            self.check_path(f"{self.m.stars[-1]}.{n}", node, n)
        elif _matches(n, self.banned):
            self.add("banned", node, n, n)

    def attribute(self, node, base, attrs, local, local_imports, local_values):
        text = _text(node) if isinstance(node, ast.Attribute) else f"getattr({_text(base)}, {attrs[-1]!r})"
        if isinstance(base, ast.Name):
            path = self.library_path(base.id, local_imports, local)
            if path:
                self.check_path(".".join([path] + attrs), node, text)
                return
        if any(a in DYNAMIC_ATTRS for a in attrs):
            self.add("unverifiable", node, "dynamic", text)
            return
        if any(a in DISPATCH_CONTROLS for a in attrs):
            self.add("unverifiable", node, "dispatch", text)
            return
        hits = [a for a in attrs if _matches(a, self.banned)]
        if not hits:
            return
        if all(a in self.m.student_attrs for a in hits) and self.students(base, local_values, local):
            return
        self.add("banned", node, text, text)

    def run(self, function) -> list[Finding]:
        for node in self.m.top_dynamic:
            self.add("unverifiable", node, "dynamic")
        self.queue.append(function)
        seen = set()
        while self.queue:
            name = self.queue.pop()
            if name in seen:
                continue
            seen.add(name)
            for b in self.m.bindings.get(name, []):
                if b.kind == "import":
                    self.check_path(b.path, b.node, name)
                else:
                    self.walk(b.node)
        return self.found


def parse_cells(sources: list[str]) -> list[ast.Module]:
    """The cells that parse (a cell with a syntax error defines nothing when it runs either)."""
    from ._astlock import AST_LOCK
    from .sandbox_child import strip_magics
    trees = []
    for source in sources:
        try:
            with AST_LOCK:  # CPython 3.11's ast.parse is not safe from several threads at once
                trees.append(ast.parse(strip_magics(source)))
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            continue
    return trees


def scan(sources: list[str], function: str, banned) -> list[Finding]:
    """Findings of the banned-operator rule for ``function`` given the source of every cell that ran.

    ``banned``: fnmatch patterns of the library names the function may not use
    (empty: only the reference rule applies).
    """
    return _Scanner(_Module(parse_cells(sources)), banned).run(function)


def scan_trees(trees: list[ast.Module], function: str, banned, cache: dict | None = None) -> list[Finding]:
    """:func:`scan` on parsed cells; ``cache`` (one dict per notebook) keeps the cells' bindings and
    each ``(function, banned)`` result, since a notebook's hidden tests ask the same question often."""
    if cache is None:
        return _Scanner(_Module(trees), banned).run(function)
    key = (function, tuple(banned))
    if key not in cache:
        if None not in cache:
            cache[None] = _Module(trees)
        cache[key] = _Scanner(cache[None], banned).run(function)
    return list(cache[key])
