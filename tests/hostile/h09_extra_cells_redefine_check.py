# what: extra cells after the tests redefine check/assert helpers and the grading module
# expected: 3
# flag: patching builtins
# %% extra
import builtins, sys, types
def check(*a, **k):
    return None
builtins.AssertionError = type("AssertionError", (Exception,), {})
mod = types.ModuleType("course_grader.cases")
mod.check = check
mod.compare = lambda case, actual: (True, "ok")
sys.modules["course_grader.cases"] = mod
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    return torch.zeros(1)
