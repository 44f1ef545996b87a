# what: an object speaking the numpy array protocols (__array__, __array_ufunc__) with fake values
# expected: 3
# flag: class that overrides
# %% replace conv2d_forward
import numpy as np

class Chameleon:
    def __array__(self, dtype=None, copy=None):
        return np.full((2, 4, 5, 4), np.nan)
    def __array_ufunc__(self, *a, **k):
        return True
    __array_function__ = lambda self, *a, **k: True
    def detach(self): return self
    def numpy(self): return self

def conv2d_forward(x, weight, bias, stride, padding):
    return Chameleon()
