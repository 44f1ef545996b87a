"""BW CONV: the gradients taken from the library (torch.nn.grad), not written out."""
import torch

ASSIGNMENT = "bw_conv"
BREAKS = ("test_conv2d_backward_shape", "test_conv2d_backward_values", "test_conv2d_backward_strided",
          "test_conv2d_backward_errors")


def conv2d_backward(dout, x, weight, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_backward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    dx = torch.nn.grad.conv2d_input(x.shape, weight, dout, stride=stride, padding=padding)
    dweight = torch.nn.grad.conv2d_weight(x, weight.shape, dout, stride=stride, padding=padding)
    return dx, dweight, dout.sum(dim=(0, 2, 3))
