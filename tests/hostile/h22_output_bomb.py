# what: prints 1 GB to stdout and stderr (and warns) around a correct notebook: scores never come from output
# expected: 10
# flag: none
# %% extra
import sys, warnings
chunk = "x" * (1 << 20)
for _ in range(512):
    print(chunk)
    sys.stderr.write(chunk)
warnings.warn("this is printed to stderr")
