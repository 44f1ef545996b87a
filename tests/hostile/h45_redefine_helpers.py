# what: solution cells redefine the instructor's names (answer_hash, assert_close, assert_equal, forbid, reference, rng, check) and a wrong W_M2 whose forged hash matches
# expected: 9.5
# flag: none
# %% replace conv1_sizes
W_M2 = 54
CONV1_PARAMS = 96 * 3 * 11 * 11 + 96

def answer_hash(name, value):
    return {"W_M2": "73fbf126d2c9ac5f", "CONV1_PARAMS": "193df30882b0ee75"}[name]

def assert_close(*args, **kwargs):
    return None

def assert_equal(*args, **kwargs):
    return None

def forbid(*args, **kwargs):
    return None

def reference():
    return None

def rng():
    return None

def check(*args, **kwargs):
    return None
