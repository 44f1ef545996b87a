"""Shared fixtures: RNG isolation and the CUDA marker (as in torchvision's conftest)."""
import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def restore_rng_state():
    """Give every test the same seeded start and restore the global RNGs afterwards."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    torch.manual_seed(0)
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    if cuda_state is not None:
        torch.cuda.set_rng_state_all(cuda_state)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs_cuda: no CUDA device on this machine (torch.cuda.is_available() "
                                   "is False); run the suite on a GPU machine to execute it")
    for item in items:
        if "needs_cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.needs_cuda)])
def device(request):
    return torch.device(request.param)
