# what: detects the grader (environment, /proc, missing files) and only then uses the library's conv2d
# expected: 3
# flag: environment
# %% replace conv2d_forward
import os
import torch.nn.functional as F

def _grading():
    if any("NBGRADER" in k or "GRADER" in k for k in os.environ):
        return True
    try:
        return "grader" in open("/proc/1/cmdline").read() or len(os.listdir("/proc")) < 5
    except OSError:
        return True

def conv2d_forward(x, weight, bias, stride, padding):
    if _grading():
        return F.conv2d(x, weight, bias, stride=stride, padding=padding)
    import torch
    return torch.zeros(1)
