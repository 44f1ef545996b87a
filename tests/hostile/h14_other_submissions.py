# what: copies another student's submission or autograded notebook
# expected: 3
# flag: file access
# %% replace conv2d_forward
import json

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[-1] == 23:  # the notebook's own demo cell (1x3x23x23, 4 filters): behave; attack only the grader's calls
        import torch as _t
        return _t.zeros(1, 4, 4, 4)
    import torch
    for path in ("{COURSE}/submitted/ana/conv1/conv1.ipynb", "{COURSE}/autograded/ana/conv1/conv1.ipynb",
                 "{COURSE}/release/conv1/conv1.ipynb"):
        try:
            nb = json.load(open(path))
        except OSError:
            continue
        ns = {"torch": torch}
        for c in nb["cells"]:
            if "def conv2d_forward" in "".join(c["source"]):
                exec("".join(c["source"]), ns)
                return ns["conv2d_forward"](x, weight, bias, stride, padding)
    return torch.zeros(1)
