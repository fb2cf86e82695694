"""The whole training step compiled: ``compile_step(model, loss, optimizer)``.

``plan.py`` reads what the step computes off the model, loss and optimizer (and
refuses what it cannot capture, naming it); ``build.py`` turns a plan and a batch
shape into a flat program of kernel calls (``microinit/_kernels/program.pyx``);
``step.py`` holds ``CompiledStep``, which captures a program per batch size, checks
it against the eager step and replays it. docs/compile.md describes it all.
"""
from microinit.compile.step import CompiledStep, compile_step

__all__ = ["CompiledStep", "compile_step"]
