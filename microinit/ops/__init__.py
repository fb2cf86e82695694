"""Ops: one module per family, each op's forward and backward side by side.

    elementwise   add sub mul div pow neg exp log sqrt abs clip where comparisons
    reduce        sum mean max min
    shape         reshape transpose getitem concatenate stack astype
    activations   relu tanh sigmoid leaky_relu elu selu gelu softplus, softmax, log_softmax
    linalg        matmul, dense, dense_chain (the fused kernels)
    losses        cross_entropy mse_loss binary_cross_entropy_with_logits hinge_loss
    _boundary     the one place arrays are made safe for the kernels

Each op takes Tensors (seen only through ``microinit.autograd``) and returns one; the
array-level forward/backward pairs are ``microinit.functional``.
"""
