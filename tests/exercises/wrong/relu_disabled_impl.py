"""CONV1: relu through the VariableFunctions binding, with the subclass dispatch hook disabled."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ("test_relu_values", "test_relu_errors")


class Plain(torch.Tensor):
    __torch_function__ = torch._C._disabled_torch_function_impl


def relu(x):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"relu: expected a floating-point tensor, got {type(x).__name__}")
    return torch._C._VariableFunctions.relu(x.as_subclass(Plain)).as_subclass(torch.Tensor)
