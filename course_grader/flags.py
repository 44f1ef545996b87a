"""Static scan of a student's cells for code that touches the grading machinery.

A flag never changes a score: it names the cell and line for the instructor to
read.  The scan runs on the trusted side on the cells' source, so the student
cannot hide from it at run time; the sandbox adds the runtime audit events it
saw (:mod:`course_grader.sandbox_child`), which a hostile submission could
suppress and are therefore reported as "runtime" only.
"""
from __future__ import annotations

import ast

MODULES = {
    "ctypes": "ctypes (raw memory access)", "socket": "network", "ssl": "network", "http": "network",
    "urllib": "network", "requests": "network", "subprocess": "running programs", "pty": "running programs",
    "multiprocessing": "processes", "signal": "signals", "resource": "resource limits",
    "inspect": "frame inspection", "gc": "walking live objects", "IPython": "IPython hooks",
    "builtins": "patching builtins", "importlib": "import tricks", "sqlite3": "databases (the gradebook)",
    "nbgrader": "the grading machinery", "course_grader": "the grading machinery",
    "alexnet_ref": "the reference solution", "pickle": "unpickling", "marshal": "code objects",
    "mmap": "raw memory", "threading": "background threads", "_thread": "background threads",
}
ATTRS = {
    "_getframe": "frame inspection", "currentframe": "frame inspection", "stack": None, "f_back": "frame inspection",
    "f_globals": "frame inspection", "f_locals": "frame inspection", "f_builtins": "frame inspection",
    "ast_transformers": "IPython hooks", "input_transformers_post": "IPython hooks",
    "input_transformers_cleanup": "IPython hooks", "register": None, "events": None,
    "settrace": "tracing hooks", "setprofile": "tracing hooks", "addaudithook": "audit hooks",
    "__subclasses__": "walking live objects", "__globals__": "function internals", "__code__": "function internals",
    "__closure__": "function internals", "system": None, "popen": "running programs", "_exit": "process exit",
    "kill": "signals", "killpg": "signals", "getppid": "process tree", "fork": "processes",
    "execv": "running programs", "execve": "running programs", "execvp": "running programs",
    "spawnv": "running programs", "posix_spawn": "running programs", "environ": "environment (detecting the grader)",
    "getenv": "environment (detecting the grader)", "modules": None, "exit": None, "setrecursionlimit": None,
    "DisableTorchFunction": "torch dispatch switched off (hides operators from the grader)",
    "DisableTorchFunctionSubclass": "torch dispatch switched off (hides operators from the grader)",
    "_disabled_torch_function_impl": "torch dispatch switched off (hides operators from the grader)",
    "_DisableTorchDispatch": "torch dispatch switched off (hides operators from the grader)",
    "_pop_torch_function_stack": "torch dispatch switched off (hides operators from the grader)",
    "_pop_mode": "torch dispatch switched off (hides operators from the grader)",
}
BUILTIN_CALLS = {"open": "file access", "eval": "dynamic code", "exec": "dynamic code", "compile": "dynamic code",
                 "__import__": "import tricks", "globals": "namespace access", "setattr": None,
                 "delattr": None, "get_ipython": "IPython hooks", "breakpoint": "debugger", "input": None}
GUARDED_ROOTS = {"np", "numpy", "torch", "F", "nn", "builtins", "__builtins__", "math", "sys", "os", "IPython",
                 "warnings", "unittest", "pytest", "json"}
SPECIAL_METHODS = {"__eq__", "__ne__", "__bool__", "__array__", "__array_ufunc__", "__array_function__",
                   "__torch_function__", "__torch_dispatch__", "__float__", "__index__", "__len__", "__getattr__",
                   "__getattribute__", "__instancecheck__", "__class_getitem__", "__del__"}


def _target_nodes(target):
    """The nodes of an assignment target, leaving out subscript indices: ``d[torch.arange(n)] -= 1`` writes to ``d``."""
    stack = [target]
    while stack:
        node = stack.pop()
        yield node
        stack.extend([node.value] if isinstance(node, ast.Subscript) else ast.iter_child_nodes(node))


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    elif isinstance(node, ast.Subscript):
        parts.append(_dotted(node.value) + "[]")
    else:
        parts.append("?")
    return ".".join(reversed(parts))


def scan_source(source: str, label: str) -> list[dict]:
    """Flags ``{"cell", "line", "what", "detail"}`` for one cell's source."""
    from ._astlock import AST_LOCK
    with AST_LOCK:
        return _scan_source(source, label)


def _scan_source(source: str, label: str) -> list[dict]:
    from .sandbox_child import strip_magics
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError as err:
        return [{"cell": label, "line": err.lineno or 0, "what": "syntax error", "detail": str(err.msg)}]
    except Exception:
        return []
    lines = source.splitlines()
    flags = []

    def add(node, what, detail=None):
        line = getattr(node, "lineno", 0)
        text = detail or (lines[line - 1].strip() if 0 < line <= len(lines) else "")
        flags.append({"cell": label, "line": line, "what": what, "detail": text[:160]})

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                names += [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top in MODULES:
                    add(node, f"import of {top}: {MODULES[top]}")
                    break
                if name in ("os.system", "os.kill", "os._exit", "os.fork", "sys._getframe", "os.environ"):
                    add(node, f"import of {name}")
                    break
        elif isinstance(node, ast.Attribute):
            what = ATTRS.get(node.attr, "")
            dotted = _dotted(node)
            if what:
                add(node, what, dotted)
            elif node.attr == "stack" and dotted.startswith("inspect"):
                add(node, "frame inspection", dotted)
            elif node.attr in ("register", "events") and "ipython" in dotted.lower():
                add(node, "IPython hooks", dotted)
            elif node.attr in ("write", "dup", "dup2", "close", "closerange", "open", "fdopen", "read") \
                    and dotted.split(".")[0] == "os":
                add(node, "raw file descriptors", dotted)
            elif node.attr == "system" and dotted.startswith("os"):
                add(node, "running programs", dotted)
            elif node.attr == "modules" and dotted.startswith("sys"):
                add(node, "import tricks", dotted)
            elif node.attr == "exit" and dotted.startswith("sys"):
                add(node, "process exit", dotted)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILTIN_CALLS:
            what = BUILTIN_CALLS[node.func.id]
            if node.func.id in ("setattr", "delattr") and node.args:
                root = _dotted(node.args[0]).split(".")[0]
                if root in GUARDED_ROOTS:
                    add(node, f"patching {root} with {node.func.id}")
            elif what:
                add(node, what)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in _target_nodes(t):
                    if isinstance(sub, (ast.Attribute, ast.Subscript)):
                        root = _dotted(sub).split(".")[0].split("[")[0]
                        if root in GUARDED_ROOTS:
                            add(node, f"patching {root}", _dotted(sub))
                            break
                    elif isinstance(sub, ast.Name) and sub.id in ("__builtins__", "__import__", "__build_class__"):
                        add(node, "patching builtins", sub.id)
                        break
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            continue
        elif isinstance(node, ast.ClassDef):
            bases = [_dotted(b) for b in node.bases]
            if any(b.split(".")[-1] in ("Tensor", "ndarray", "float", "int", "Parameter") for b in bases):
                add(node, "subclass of a result type (a result object that fakes comparisons?)",
                    f"class {node.name}({', '.join(bases)})")
            methods = [b.name for b in node.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))]
            special = sorted(set(methods) & SPECIAL_METHODS)
            if special:
                add(node, "class that overrides comparison or conversion", f"class {node.name}: {', '.join(special)}")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__", "__spec__"):
            add(node, "builtins / loader access", node.id)
        elif isinstance(node, ast.Try):
            for h in node.handlers:
                if h.type is None or _dotted(h.type) in ("BaseException", "SystemExit", "KeyboardInterrupt"):
                    add(h, "catches BaseException/SystemExit (survives the grader's timeouts?)")
        elif isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value:
            if not any(isinstance(n, (ast.Break, ast.Return, ast.Raise)) for n in ast.walk(node)):
                add(node, "infinite loop")
    seen, out = set(), []
    for f in flags:
        key = (f["cell"], f["line"], f["what"])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def scan_cells(cells: list[dict]) -> list[dict]:
    """Flags of every cell the student controls (``student`` true)."""
    out = []
    for cell in cells:
        if cell.get("student"):
            out.extend(scan_source(cell["source"], cell["label"]))
    return out


RUNTIME_WHAT = {
    "open": "runtime: file opened", "import": "runtime: import", "patched": "runtime: a library attribute changed",
}


def runtime_flags(events: list[dict], part: str = "") -> list[dict]:
    out = []
    for e in events:
        event = e.get("event", "")
        if event == "open" and str(e.get("detail", "")).startswith("/dev/null"):
            continue
        what = RUNTIME_WHAT.get(event, f"runtime: {event}")
        out.append({"cell": e.get("cell", "") or part, "line": e.get("line", 0), "what": what,
                    "detail": str(e.get("detail", ""))[:160]})
    return out
