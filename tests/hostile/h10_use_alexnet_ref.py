# what: calls the course's reference package (alexnet_ref) instead of writing the layers
# expected: 1
# flag: import of alexnet_ref
# %% replace conv2d_forward
def conv2d_forward(x, weight, bias, stride, padding):
    import alexnet_ref
    return alexnet_ref.conv2d_forward(x, weight, bias, stride, padding)
# %% replace relu
def relu(x):
    from alexnet_ref.layers import relu as ref_relu
    return ref_relu(x)
