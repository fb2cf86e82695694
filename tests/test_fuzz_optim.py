"""Fuzz the optimizers: SGD (momentum, Nesterov, dampening, weight decay), Adam, RMSprop, Adagrad and
AdamW over one to three steps, with gradients handed over in any layout and byte order,
parameters of any shape (0-d and empty too), invalid hyperparameters and NaN/inf
gradients. The parameters must end where PyTorch's update formulas (in float64) put
them, with the same bits whatever layout the gradients came in; a bad hyperparameter
raises ValueError naming it, a NaN/inf gradient or an overflowing update the documented
FloatingPointError. The property is shared with ``python -m benchmarks.fuzz``.
"""
from fuzz_strategies import assert_property, examples, fuzz_case
from hypothesis import given, settings


@settings(max_examples=examples(40))
@given(fuzz_case("optim"))
def test_optimizer_steps_match_the_update_formulas(case):
    assert_property(case)


@settings(max_examples=examples(40))
@given(fuzz_case("clip_grad"))
def test_gradient_clipping_matches_pytorchs_rule(case):
    """nn.utils.clip_grad_norm_ (norm types 1, 2, 3, inf) and clip_grad_value_ on drawn
    gradients of one to three parameters (benchmarks/fuzz_ops_grads.py)."""
    assert_property(case)
