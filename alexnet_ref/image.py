"""Turning a photo into AlexNet's input tensor M_1.

Chapter: INPUT (``book/<lang>/01_input.md``).

The steps, each a line of :func:`preprocess`:

1. RGB array (H, W, 3), ``uint8`` 0–255 or float 0–1  ->  float tensor (3, H, W) in [0, 1];
2. resize so that the shorter side is 256 pixels (bilinear, antialiased);
3. crop the central 227 x 227 square;
4. subtract the per-channel mean and divide by the per-channel standard
   deviation of ImageNet (the usual statistics of the training set);
5. add the batch dimension: (1, 3, 227, 227).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .shapes import INPUT_SIZE

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE = 256


def sample_image() -> np.ndarray:
    """Grace Hopper's portrait shipped with matplotlib, as a (H, W, 3) ``uint8`` array."""
    import matplotlib.image
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = matplotlib.image.imread(f, format="jpg")
    return np.ascontiguousarray(img[..., :3])


def preprocess(image, size: int = INPUT_SIZE, resize: int = RESIZE) -> torch.Tensor:
    """RGB array -> normalised tensor of shape (1, 3, size, size); see the module docstring."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"input: expected an RGB array of shape (H, W, 3), got {arr.shape}")
    if min(arr.shape[:2]) < 1 or resize < size:
        raise ValueError(f"input: cannot crop {size}x{size} from an image of shape {arr.shape} "
                         f"resized to {resize}")
    if arr.dtype == np.uint8:
        x = torch.from_numpy(arr.astype(np.float32) / 255.0)
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"input: float images must lie in [0, 1], got [{arr.min():g}, {arr.max():g}]")
        x = torch.from_numpy(arr.astype(np.float32))
    else:
        raise ValueError(f"input: expected a uint8 or float RGB array, got dtype {arr.dtype}")
    x = x.permute(2, 0, 1).unsqueeze(0)                      # (1, 3, H, W) in [0, 1]
    h, w = x.shape[2:]
    scale = resize / min(h, w)
    x = F.interpolate(x, size=(max(resize, round(h * scale)), max(resize, round(w * scale))),
                      mode="bilinear", align_corners=False, antialias=True)
    top = (x.shape[2] - size) // 2
    left = (x.shape[3] - size) // 2
    x = x[:, :, top:top + size, left:left + size]            # (1, 3, 227, 227)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def to_display(x: torch.Tensor) -> np.ndarray:
    """Undo the normalisation of a (1, 3, H, W) or (3, H, W) tensor for plotting: (H, W, 3) in [0, 1]."""
    t = x.detach().cpu().float()
    if t.dim() == 4:
        t = t[0]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (t * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
