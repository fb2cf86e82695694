"""The benchmark's problems and the eager implementations of one training step.

``make_problem(name)`` gives the layer sizes, a batch, the loss and shared He-uniform
weights; ``NumpyMLP``, ``MicroinitMLP`` and ``TorchMLP`` each train that network from
those weights with plain SGD, so their losses agree step by step (tests/benchmarks).
The compiled ones are in ``benchmarks/peers.py``. Every implementation takes the batch
through ``inputs(x, y)`` (converted once, outside the timing) and steps with
``step(*inputs)``, which returns the loss (anything ``float()`` accepts).
"""
import numpy as np

from microinit.rng import as_generator

__all__ = ["CONFIGS", "LR", "make_problem", "step_flops", "NumpyMLP", "AutogradStep", "MicroinitMLP",
           "TorchMLP", "load_torch"]

# others classify into 10 classes (softmax cross-entropy), as in the table.
CONFIGS = {
    "tiny": ([2, 16, 16, 1], 100, "mse"),
    "small": ([64, 128, 128, 10], 32, "xent"),
    "medium": ([784, 256, 256, 10], 128, "xent"),
    "large": ([784, 1024, 1024, 10], 256, "xent"),
}
LR = 0.01


def make_problem(name, seed=0):
    sizes, batch, loss = CONFIGS[name]
    rng = as_generator(seed, "make_problem")
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    else:
        y = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    # He-uniform weights (in, out) and zero biases, shared by every implementation.
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / fan_in)
        params.append((rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                       np.zeros(fan_out, np.float32)))
    return sizes, x, y, loss, params


def step_flops(sizes, batch):
    """Multiply-add FLOPs of one step: forward 2BIO per layer; backward 2BIO for dW and
    2BIO for dx except the first layer (no input gradient); elementwise work ignored.

    >>> step_flops([2, 16, 1], batch=100)     # 2*100*2*16 * 2  +  2*100*16*1 * 3
    22400
    """
    total = 0
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        total += 2 * batch * a * b * (2 if i == 0 else 3)
    return total


class NumpyMLP:
    """A hand-written numpy MLP step, written the way one writes it carefully by hand:
    bias-add and ReLU in place on the matmul output, the ReLU mask taken from the
    activations, the softmax cross-entropy gradient built in place, in-place SGD."""

    def __init__(self, params, loss):
        self.W = [w.copy() for w, _ in params]
        self.b = [b.copy() for _, b in params]
        self.loss = loss

    def inputs(self, x, y):
        """The batch as this implementation takes it (converted once, outside the timing)."""
        return x, y

    def step(self, x, y, lr=LR):
        W, b = self.W, self.b
        hs = [x]
        h = x
        last = len(W) - 1
        for i in range(len(W)):
            z = h @ W[i]
            z += b[i]
            if i < last:
                np.maximum(z, 0, out=z)
            hs.append(z)
            h = z
        n = x.shape[0]
        if self.loss == "mse":
            g = h - y
            loss = float(np.dot(g.ravel(), g.ravel())) / g.size
            g *= 2.0 / g.size
        else:
            z = h - h.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            loss = -float(np.log(z[np.arange(n), y]).mean())
            g = z
            g[np.arange(n), y] -= 1.0
            g /= n
        for i in range(last, -1, -1):
            dW = hs[i].T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = g @ W[i].T
                g *= hs[i] > 0
            W[i] -= lr * dW
            b[i] -= lr * db
        return loss


class AutogradStep:
    """One training step as both autograd frameworks spell it."""

    def inputs(self, x, y):
        return x, y

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


class MicroinitMLP(AutogradStep):
    """The same network through microinit's public API: nn.MLP, losses, optim.SGD."""

    def __init__(self, params, loss, sizes):
        from microinit import losses, nn, optim

        self.model = nn.MLP(sizes, activation="relu", rng=0)
        layers = list(self.model)
        for layer, (w, b) in zip(layers, params):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.loss_fn = losses.mse if loss == "mse" else losses.cross_entropy


# ----------------------------------------------------------------------------- torch
def load_torch():
    """The ``torch`` module, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


class TorchMLP(AutogradStep):
    """PyTorch eager: nn.Sequential of Linear and ReLU, the functional loss, optim.SGD."""

    def __init__(self, params, loss, torch):
        layers = []
        for i, (w, b) in enumerate(params):
            lin = torch.nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(params) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.loss_fn = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy
        self._torch = torch

    def inputs(self, x, y):
        return self._torch.from_numpy(x), self._torch.from_numpy(y)
