"""The one initializer-spec parser (``microinit.lab.specs``), shared by initlab and demo."""
import pytest

from microinit import lab
from microinit.lab.specs import as_specs, parse_init, spec_label


def test_parse_init():
    assert lab.parse_init("he_normal") == ("he_normal", "he_normal")
    assert lab.parse_init("normal(std=0.01)") == ("normal(std=0.01)", {"name": "normal", "std": 0.01})
    assert lab.parse_init("constant(0.5)")[1] == {"name": "constant", "value": 0.5}
    assert lab.parse_init('{"name": "uniform", "low": -1, "high": 1}')[1]["high"] == 1
    with pytest.raises(ValueError, match="xavier_uniform"):
        lab.parse_init("xavier_unifrom")
    with pytest.raises(ValueError):
        lab.parse_init("normal(std=-1)")
    with pytest.raises(ValueError, match="JSON"):
        lab.parse_init("{name: normal}")
    with pytest.raises(ValueError, match="takes no parameters"):
        lab.parse_init("zeros(1)")


def test_keyword_only_parsing_refuses_a_lone_value():
    # demo's reading: normal(0.01) would silently be a mean, not a std
    with pytest.raises(ValueError, match="key=value"):
        parse_init("normal(0.01)", positional=False)
    assert parse_init("normal(std=0.01)", positional=False)[1] == {"name": "normal", "std": 0.01}


def test_labels_and_spec_lists():
    assert spec_label({"name": "uniform", "low": -1, "high": 2}) == "uniform(low=-1, high=2)"
    assert spec_label({"name": "zeros"}) == "zeros"
    assert as_specs(["zeros", ("mine", {"name": "normal", "std": 2.0})]) == [
        ("zeros", "zeros"), ("mine", {"name": "normal", "std": 2.0})]
    with pytest.raises(ValueError, match="cannot read"):
        parse_init("he normal")
