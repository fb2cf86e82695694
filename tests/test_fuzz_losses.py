"""Fuzz the losses: ``losses.cross_entropy`` (labels and probabilities), ``mse``,
``binary_cross_entropy_with_logits``, ``hinge`` and their Loss objects, every
reduction (and a wrong one), with NaN/inf/huge logits, empty batches, labels out of
range and targets of the wrong shape. Each case matches the float64 reference, forward
and backward (the target's gradient too where it requires grad), or raises a clear
error naming the loss. The property is shared with ``python -m benchmarks.fuzz``.
"""
import pytest
from fuzz_strategies import assert_property, examples, fuzz_case
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("op", ["loss_cross_entropy", "loss_mse", "loss_bce", "loss_hinge",
                                # issue 16's losses and options (benchmarks/fuzz_ops_losses.py)
                                "loss_l1", "loss_huber", "loss_binary_cross_entropy", "loss_nll",
                                "loss_cross_entropy_options"])
@settings(max_examples=examples(12))
@given(data=st.data())
def test_loss_matches_reference_or_refuses_clearly(op, data):
    assert_property(data.draw(fuzz_case(op)))
