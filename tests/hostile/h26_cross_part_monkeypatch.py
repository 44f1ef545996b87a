# what: relu, when graded, sabotages torch for the other parts (unfold, matmul, zeros); the parts are isolated
# expected: 10
# flag: patching torch
# %% extra
import torch
import torch.nn.functional as F
_relu = relu

def relu(x):
    out = _relu(x)
    torch.Tensor.__matmul__ = lambda *a, **k: 0
    torch.Tensor.matmul = lambda *a, **k: 0
    F.unfold = lambda *a, **k: 0
    torch.zeros = lambda *a, **k: 0
    torch.einsum = lambda *a, **k: 0
    return out
