# what: results too large or too deep for the wire (a 5-million-element tensor, a list nested 100,000 deep, a 3-million-item list)
# expected: 3
# flag: none
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import torch
    if x.shape[-1] == 23:  # the notebook's own demo cell: behave; attack only the grader's calls
        return torch.zeros(1, 4, 4, 4)
    if x.shape[0] == 2:
        return torch.zeros(5_000_000)
    deep = []
    for _ in range(100_000):
        deep = [deep]
    return deep if x.shape[1] == 3 else list(range(3_000_000))
