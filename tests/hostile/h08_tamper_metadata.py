# what: rewrites the cells' nbgrader metadata (points 100, test cells marked as solutions, ids swapped)
# expected: 3
# flag: metadata changed
# edit: tamper-metadata
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    return torch.zeros(1)
