# what: allocates memory without bound
# expected: 3
# flag: infinite loop
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    hoard = []
    while True:
        hoard.append(bytearray(256 << 20))
