# what: empties every test cell (keeps their metadata) and returns a wrong result
# expected: 3
# flag: test cell edited
# edit: blank-tests
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    return torch.zeros(1)
