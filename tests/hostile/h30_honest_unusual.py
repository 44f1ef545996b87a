# what: honest but unusual: float64, non-contiguous and grad-requiring results, prints and warnings
# expected: 10
# flag: none
# %% extra
import sys, warnings
_conv = conv2d_forward
_relu = relu

def conv2d_forward(x, weight, bias, stride, padding):
    print("conv2d_forward called with", tuple(x.shape))
    print("a line on stderr", file=sys.stderr)
    warnings.warn("just a warning")
    out = _conv(x.double(), weight.double(), None if bias is None else bias.double(), stride, padding)
    return out.transpose(2, 3).contiguous().transpose(2, 3).requires_grad_()

def relu(x):
    return _relu(x).double()[..., None].squeeze(-1)
