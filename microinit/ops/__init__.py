"""Ops: one module per family, each op's forward and backward side by side.

    elementwise          add sub mul div pow neg exp log sqrt abs clip where maximum minimum
                         comparisons (== != < <= > >=)
    unary                sin cos erf rsqrt log2 exp2 sign floor ceil round isnan isinf isfinite
    reduce               sum mean max min var std prod logsumexp cumsum argmax argmin all any
    shape                reshape transpose getitem concatenate stack astype squeeze unsqueeze
                         expand flip pad tril triu
    indexing             gather one_hot masked_fill
    creation             arange full eye linspace zeros_like ones_like full_like
    activations          relu tanh sigmoid leaky_relu elu selu gelu softplus, softmax, log_softmax
    activations_unfused  silu mish hardswish hardtanh relu6 logsigmoid softsign gelu(tanh)
    linalg               matmul, dense, dense_chain (the fused kernels)
    einsum               einsum
    losses               cross_entropy mse_loss binary_cross_entropy_with_logits hinge_loss
    normalization        layer_norm batch_norm dropout (fused kernels: _kernels/norm.pyx, dropout.pyx)
    inplace              += -= *= /=
    _boundary            the one place arrays are made safe for the kernels

docs/ops.md lists every op with its forward and backward formula. Each op takes
Tensors (seen only through ``microinit.autograd``) and returns one; the array-level
forward/backward pairs are ``microinit.functional``.
"""
