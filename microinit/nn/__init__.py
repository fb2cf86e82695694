"""Neural-network building blocks: Module, Dense, activations, Sequential, MLP.

    module.py       Module (parameters, children, hooks, train/eval, state_dict)
    layers.py       Dense (alias Linear): ``act(x @ W + b)``, W of shape (in, out)
    activations.py  ReLU, Tanh, ... and the activation names Dense accepts
    containers.py   Sequential (with its fusion rule for runs of Dense layers), MLP
    normalization.py  BatchNorm1d (running statistics as buffers), LayerNorm
    dropout.py      Dropout (identity in eval mode)
    utils.py        clip_grad_norm_, clip_grad_value_

    >>> import numpy as np
    >>> from microinit import nn
    >>> model = nn.MLP([2, 16, 3], rng=0)
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    >>> model(np.zeros((5, 2), np.float32)).shape
    (5, 3)
"""
from microinit.nn.activations import (
    ACTIVATIONS, ELU, GELU, SELU, Hardswish, Hardtanh, Identity, LeakyReLU, LogSigmoid, Mish, ReLU, ReLU6, SiLU,
    Sigmoid, Softplus, Softsign, Tanh, activation_module,
)
from microinit.nn.containers import MLP, ObservedOutput, Sequential, default_init_for
from microinit.nn.layers import Dense, Linear
from microinit.nn.module import HookHandle, Module
from microinit.nn.normalization import BatchNorm1d, LayerNorm
from microinit.nn.dropout import Dropout
from microinit.nn import utils

__all__ = [
    "Module", "Dense", "Linear", "Sequential", "MLP", "Identity", "ReLU", "Tanh", "Sigmoid",
    "LeakyReLU", "ELU", "SELU", "GELU", "Softplus", "activation_module", "default_init_for",
    "ACTIVATIONS", "HookHandle", "ObservedOutput", "BatchNorm1d", "LayerNorm", "Dropout", "utils",
    "SiLU", "Mish", "Hardswish", "Hardtanh", "ReLU6", "LogSigmoid", "Softsign",
]
