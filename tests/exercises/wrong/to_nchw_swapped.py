"""INPUT: permute(2, 1, 0) gives [3, W, H]: H and W swapped."""
import torch

ASSIGNMENT = "input"
BREAKS = ("test_to_nchw_shape", "test_to_nchw_values")


def to_nchw(img):
    if img.dim() != 3 or img.shape[2] != 3:
        raise ValueError(f"to_nchw: expected (H, W, 3), got {tuple(img.shape)}")
    return img.permute(2, 1, 0).unsqueeze(0).to(torch.float32) / 255.0
