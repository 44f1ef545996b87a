# what: relu crashes the process (segmentation fault through ctypes): only relu's parts are lost
# expected: 8
# flag: ctypes
# %% replace relu
import ctypes

def relu(x):
    if x.numel() == 3:  # the notebook's own demo cell: behave
        return x.clamp(min=0)
    ctypes.string_at(0)
