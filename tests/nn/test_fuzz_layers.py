"""Fuzz the layers: Dense/Linear, Sequential (fused and not), MLP, the activation
modules, and the fused ops they run on (``dense``, ``dense_chain``).

A model's output must match the float64 fold of ``act(x @ W + b)`` over its own
parameters, whatever layout, byte order or dtype the batch arrives in; a batch of the
wrong width or rank raises ValueError naming the layer, a non-array TypeError. The
property is shared with ``python -m benchmarks.fuzz`` (``benchmarks/fuzz_properties.py``).
"""
import pytest
from fuzz_strategies import assert_property, examples, fuzz_case
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("op", ["Dense", "activation_module", "dense", "dense_chain",
                                # issue 16's layers (benchmarks/fuzz_ops_layers.py)
                                "Dropout", "BatchNorm1d", "LayerNorm", "unfused_activation_module"])
@settings(max_examples=examples(12))
@given(data=st.data())
def test_layer_matches_reference_or_refuses_clearly(op, data):
    assert_property(data.draw(fuzz_case(op)))
