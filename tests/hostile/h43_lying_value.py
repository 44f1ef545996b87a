# what: variables and results whose __eq__, __bool__, __float__, __index__ and __hash__ would lie if they were live objects
# expected: 7
# flag: class that overrides
# %% replace relu
class Liar(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __hash__(self): return 0
    def __float__(self): return 55.0
    def __index__(self): return 55
    def __len__(self): return 3

def relu(x):
    return Liar(0.0)
# %% replace conv1_sizes
W_M2 = Liar(54.0)
CONV1_PARAMS = Liar(34943.0)
