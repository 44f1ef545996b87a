"""alexnet_ref: the reference implementation of the course *AlexNet, layer by layer*.

Modules in chapter order, imported only in this direction:
:mod:`~alexnet_ref.shapes` (sizes, the architecture table, counts) ->
:mod:`~alexnet_ref.layers` (the layers as functions) ->
:mod:`~alexnet_ref.backward` (their gradients) ->
:mod:`~alexnet_ref.model` (the network).  :mod:`~alexnet_ref.image` prepares
the INPUT chapter's photo.  :mod:`~alexnet_ref.fast` holds the speed work of the
forward pass (same values as the plain layers), which the model uses by default.
"""
from .shapes import (ARCHITECTURE, DISPLAY_NAMES, INPUT_SIZE, LAYERS, NUM_CLASSES, LayerSpec,
                     architecture_rows, conv_output_size, layer_shapes, param_shapes,
                     pool_output_size, paper_shape, total_macs, total_params)
from .layers import (conv2d_forward, dropout_forward, linear_forward, local_response_norm,
                     max_pool2d_forward, relu, softmax)
from .backward import (conv2d_backward, dropout_backward, linear_backward, local_response_norm_backward,
                       max_pool2d_backward, relu_backward, softmax_cross_entropy)
from .model import (LRN, AlexNet, alexnet_forward, alexnet_logits, alexnet_stages, check_input,
                    check_params, init_params)
from .image import IMAGENET_MEAN, IMAGENET_STD, preprocess, sample_image, to_display

__all__ = [
    "ARCHITECTURE", "DISPLAY_NAMES", "INPUT_SIZE", "LAYERS", "NUM_CLASSES", "LayerSpec",
    "architecture_rows", "conv_output_size", "layer_shapes", "param_shapes", "pool_output_size",
    "paper_shape", "total_macs", "total_params",
    "conv2d_forward", "dropout_forward", "linear_forward", "local_response_norm",
    "max_pool2d_forward", "relu", "softmax",
    "conv2d_backward", "dropout_backward", "linear_backward", "local_response_norm_backward",
    "max_pool2d_backward", "relu_backward", "softmax_cross_entropy",
    "LRN", "AlexNet", "alexnet_forward", "alexnet_logits", "alexnet_stages", "check_input", "check_params",
    "init_params",
    "IMAGENET_MEAN", "IMAGENET_STD", "preprocess", "sample_image", "to_display",
]
