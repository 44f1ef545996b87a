"""POOL1: a layer class of the student's own, MaxPoolLayer, with a method named like the library's."""
import torch

ASSIGNMENT = "pool1"
BREAKS = ()


class MaxPoolLayer:
    def __init__(self, size, stride):
        self.size, self.stride = size, stride

    def max_pool(self, x):
        f, s = self.size, self.stride
        rows = x.unfold(2, f, s).unfold(3, f, s)        # N, C, OH, OW, f, f
        return rows.amax(dim=(-2, -1))

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"max_pool2d_forward: expected a 4-d tensor, got {x.dim()} dimensions")
        h, w = x.shape[2:]
        f, s = self.size, self.stride
        if h < f or w < f or (h - f) % s or (w - f) % s:
            raise ValueError(f"max_pool2d_forward: {h}x{w} does not fit {f}x{f} windows at stride {s}")
        return self.max_pool(x)


def max_pool2d_forward(x, f=3, s=2):
    layer = MaxPoolLayer(f, s)
    return layer.forward(x)
