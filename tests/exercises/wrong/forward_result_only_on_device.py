"""FORWARD_GPU: computes on the CPU and moves only the result to the device (10/10 on a CPU-only grader before)."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "forward_gpu"
BREAKS = ("test_alexnet_forward_device",)


def alexnet_forward(x, params, device):
    if x.dim() != 4 or tuple(x.shape[1:]) != (3, 227, 227):
        raise ValueError(f"alexnet_forward: expected (N, 3, 227, 227), got {tuple(x.shape)}")
    p = params

    def lrn(a):
        return F.local_response_norm(a, 5, alpha=5e-4, beta=0.75, k=2.0)

    x = F.max_pool2d(lrn(F.relu(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], stride=4))), 3, 2)
    x = F.max_pool2d(lrn(F.relu(F.conv2d(x, p["conv2.weight"], p["conv2.bias"], padding=2))), 3, 2)
    x = F.relu(F.conv2d(x, p["conv3.weight"], p["conv3.bias"], padding=1))
    x = F.relu(F.conv2d(x, p["conv4.weight"], p["conv4.bias"], padding=1))
    x = F.max_pool2d(F.relu(F.conv2d(x, p["conv5.weight"], p["conv5.bias"], padding=1)), 3, 2)
    x = F.relu(F.linear(x.flatten(1), p["fc6.weight"], p["fc6.bias"]))
    x = F.relu(F.linear(x, p["fc7.weight"], p["fc7.bias"]))
    return torch.softmax(F.linear(x, p["fc8.weight"], p["fc8.bias"]), dim=1).to(device)
