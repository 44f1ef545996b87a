# what: raises SystemExit / KeyboardInterrupt from the graded function
# expected: 3
# flag: process exit
# %% replace conv2d_forward
import sys

def conv2d_forward(x, weight, bias, stride, padding):
    if x.shape[0] == 1:
        raise KeyboardInterrupt
    sys.exit(0)
