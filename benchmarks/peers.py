"""The compiled contenders of the training-step benchmark: microinit's compiled step,
``torch.compile`` and ``jax.jit``.

Each trains the network of ``make_problem`` from the shared weights with plain SGD
(``LR``) and the same loss as ``NumpyMLP`` (MSE for tiny, softmax cross-entropy
otherwise), so its losses agree with the numpy step's step by step
(tests/benchmarks/test_bench_peers.py). Each captures or compiles its step on the first
call; the benchmark times that call apart (``compile_seconds`` in the JSON) and warms
every contender up before timing, so the step figures are steady-state replays.

jax reads its thread settings once, when its CPU backend starts: ``configure_jax_threads``
must run before anything imports jax (the runner calls it first).
"""
import os
import sys

import numpy as np

from benchmarks.problems import LR, MicroinitMLP, TorchMLP, load_torch

__all__ = ["JAX_ONE_THREAD_FLAGS", "configure_jax_threads", "jax_threads", "MicroinitCompiledMLP",
           "TorchCompiledMLP", "JaxJitMLP"]

# XLA's CPU client: no multi-threaded Eigen kernels, one intra-op thread. Set through
# XLA_FLAGS, which XLA parses once when jax's CPU backend is created.
JAX_ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

# The thread count jax was configured with by configure_jax_threads: 1, or None when it
# runs with XLA's defaults (or was imported before the runner could set anything).
_jax_configured_threads = None


def configure_jax_threads(threads):
    """Ask XLA for one CPU thread when a 1-thread row is wanted, before jax is imported.

    Returns the thread count jax will use (1), or None when it keeps XLA's defaults:
    no 1-thread row is wanted, or jax was imported already and its flags can no longer
    change (the benchmark then says so). One process can have only one setting, so the
    jax.jit column is left out of rows of another thread count.
    """
    global _jax_configured_threads
    if 1 not in threads or "jax" in sys.modules:
        return _jax_configured_threads
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {JAX_ONE_THREAD_FLAGS}".strip()
    _jax_configured_threads = 1
    return 1


def jax_threads():
    """The thread count set by ``configure_jax_threads`` (None: XLA's defaults)."""
    return _jax_configured_threads


class MicroinitCompiledMLP(MicroinitMLP):
    """microinit's eager network, optimizer and loss, stepped by ``microinit.compile_step``:
    the first call captures the whole step (forward, loss, backward, update), the later
    ones replay it and return the loss as a float."""

    def __init__(self, params, loss, sizes):
        import microinit

        super().__init__(params, loss, sizes)
        self.compiled = microinit.compile_step(self.model, self.loss_fn, self.opt)

    def step(self, x, y):
        return self.compiled(x, y)


class TorchCompiledMLP(TorchMLP):
    """PyTorch's step (zero_grad, model, loss, backward, SGD step) as one function under
    ``torch.compile`` (default mode, inductor's C++ backend on CPU; ``dynamic=False``
    since the shapes never change). Dynamo cannot trace ``backward()``: it compiles
    the forward and loss with their backward (AOTAutograd) and the optimizer update as
    separate graphs around that break (three per step with PyTorch 2.13)."""

    def __init__(self, params, loss, sizes):
        torch = load_torch()
        super().__init__(params, loss, torch)
        # Dynamo keeps its compiled graphs per code object, and every instance shares
        # _eager_step's: without a reset, the graphs of the sizes benchmarked before (their
        # models dropped) would stay in the cache and be tried on each call.
        torch.compiler.reset()
        self._compiled = torch.compile(self._eager_step, dynamic=False)

    def _eager_step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def step(self, x, y):
        return self._compiled(x, y)


def _jax_mlp_loss(jax, loss):
    """The loss of the MLP as a function of its parameters (a list of (W, b) pairs)."""
    jnp = jax.numpy

    def forward_loss(params, x, y):
        h = x
        last = len(params) - 1
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < last:
                h = jax.nn.relu(h)
        if loss == "mse":
            return jnp.mean((h - y) ** 2)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return forward_loss


class JaxJitMLP:
    """The whole step under ``jax.jit``: loss and gradients by ``jax.value_and_grad``,
    the SGD update over the parameter pytree, float32 on the CPU. The parameters are
    donated to the step, so XLA may update them in place."""

    def __init__(self, params, loss, sizes):
        import jax

        self._jax = jax
        forward_loss = _jax_mlp_loss(jax, loss)

        def sgd_step(params, x, y):
            value, grads = jax.value_and_grad(forward_loss)(params, x, y)
            return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads), value

        self._step = jax.jit(sgd_step, donate_argnums=0)
        self.params = [(jax.device_put(w), jax.device_put(b)) for w, b in params]
        self.threads = jax_threads()

    def inputs(self, x, y):
        # jax runs without 64-bit types by default: labels as int32, converted once here
        if y.dtype.kind == "i":
            y = y.astype(np.int32)
        return self._jax.device_put(x), self._jax.device_put(y)

    def step(self, x, y):
        self.params, value = self._step(self.params, x, y)
        # One XLA executable computes the loss and the new parameters: when its loss is
        # ready the whole step has run.
        return value.block_until_ready()
