"""FORWARD_GPU: times every run without synchronising, so on CUDA it would time only the kernel launches."""
import time

import torch

ASSIGNMENT = "forward_gpu"
BREAKS = ("test_time_forward_runs",)


def time_forward(forward, x, device, warmup=2, repeats=5, sync=None, clock=time.perf_counter):
    if warmup < 0 or repeats < 1:
        raise ValueError(f"time_forward: warmup={warmup}, repeats={repeats}")
    x = x.to(device)
    for _ in range(warmup):
        forward(x)
    times = []
    for _ in range(repeats):
        start = clock()
        forward(x)
        times.append(clock() - start)
    return times
