# what: results and variables that are strings of code, format strings and markup (never evaluated, formatted or rendered by the grader)
# expected: 7
# flag: none
# %% replace relu
def relu(x):
    return "__import__('os').system('touch {COURSE}/pwned-by-h42') or {x} {0.__class__} <script>alert(1)</script>"
# %% replace conv1_sizes
W_M2 = "__import__('os').system('touch {COURSE}/pwned-by-h42-var') or 55"
CONV1_PARAMS = "{0.__class__.__mro__}" * 1000
