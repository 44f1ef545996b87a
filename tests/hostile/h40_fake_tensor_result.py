# what: results shaped like the grader's own wire records and tensors (dicts with __tensor__ keys, an object with shape/dtype/__array__)
# expected: 3
# flag: none
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell: behave; attack only the grader's calls
        import torch
        return torch.zeros(1, 4, 4, 4)
    n, k = x.shape[0], weight.shape[0]
    return {"__tensor__": 0, "dtype": "float32", "rg": False, "device": "cpu", "shape": [n, k, 5, 4],
            "__nd__": 0, "tree": {"__tensor__": 0}, "blobs": [0]}
