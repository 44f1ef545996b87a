# what: student exceptions that would steer the trusted test code if they were re-raised as they are (StopIteration, GeneratorExit, KeyboardInterrupt)
# expected: 8
# flag: none
# %% replace relu
def relu(x):
    import torch
    if isinstance(x, torch.Tensor) and x.numel() == 3 and x.dim() == 1:  # the notebook's own demo cell
        return torch.clamp(x, min=0)
    if isinstance(x, torch.Tensor) and x.dim() == 2:
        raise StopIteration("done")
    if isinstance(x, torch.Tensor):
        raise GeneratorExit()
    raise KeyboardInterrupt()
