# what: reads the grader's HMAC secret to predict the hidden inputs
# expected: 3
# flag: file access
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    for path in ("{COURSE}/.grader_secret", "{REPO}/.grader_secret", ".grader_secret"):
        try:
            secret = open(path).read()
            return torch.full((2, 4, 5, 4), float(len(secret)))
        except OSError:
            pass
    return torch.zeros(1)
