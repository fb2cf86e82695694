"""Initializer specs from the command line: the one parser of ``he_normal`` /
``normal(std=0.01)`` / JSON text, used by ``microinit initlab`` and ``microinit demo``.

A spec is what ``microinit.init.get`` accepts: a registry name or a config dict
``{"name": ..., <parameter>: <value>}``. The parser turns text into a spec, validates it
against the registry at once (so a typo fails before any experiment runs, with the
registry's "did you mean" suggestion) and gives it a label for tables and legends.

>>> parse_init("he_normal")
('he_normal', 'he_normal')
>>> parse_init("normal(std=0.01)")
('normal(std=0.01)', {'name': 'normal', 'std': 0.01})
>>> parse_init('{"name": "orthogonal", "gain": 2}')
('orthogonal(gain=2)', {'name': 'orthogonal', 'gain': 2})
"""
import json
import re

from microinit import init

__all__ = ["parse_init", "spec_label", "as_specs"]

_CALL = re.compile(r"([A-Za-z_]\w*)\s*(?:\((.*)\))?")


def parse_init(text, positional=True):
    """``(label, spec)`` from command-line text.

    ``text`` is a registry name (``he_normal``), a call (``normal(std=0.01)``) or a JSON
    config (``{"name": "normal", "std": 0.01}``). Values are read as JSON (numbers,
    ``true``), anything else is kept as a string (``mode=fan_out``). With
    ``positional=True`` a lone value is the initializer's first parameter
    (``constant(0.5)``); with ``positional=False`` every value needs its ``key=``, for
    callers whose readers might take ``normal(0.01)`` for a std when it is a mean.
    Anything that is not text (a dict, a callable) is passed through with a label.
    Raises ``ValueError`` for unreadable text or an unknown name or parameter.

    >>> parse_init("constant(0.5)")
    ('constant(value=0.5)', {'name': 'constant', 'value': 0.5})
    >>> parse_init("variance_scaling(mode=fan_out)")[1]
    {'name': 'variance_scaling', 'mode': 'fan_out'}
    >>> parse_init("normal(0.01)", positional=False)
    Traceback (most recent call last):
    ...
    ValueError: initializer 'normal(0.01)': write key=value inside the parentheses, got '0.01'
    """
    if not isinstance(text, str):
        return spec_label(text), text
    s = text.strip()
    if s.startswith("{"):
        try:
            spec = json.loads(s)
        except json.JSONDecodeError as err:
            raise ValueError(f"initializer config {text!r} is not valid JSON: {err}") from None
        init.get(spec)
        return spec_label(spec), spec
    m = _CALL.fullmatch(s)
    if not m:
        raise ValueError(f"cannot read initializer {text!r}; write a name (he_normal), a call "
                         "(normal(std=0.01)) or a JSON config")
    name, args = m.group(1), m.group(2)
    if not args or not args.strip():
        init.get(name)
        return name, name
    spec = {"name": name}
    for i, part in enumerate(a.strip() for a in args.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            if not positional:
                raise ValueError(f"initializer {text!r}: write key=value inside the parentheses, got {part!r}")
            if i:
                raise ValueError(f"initializer {text!r}: only the first parameter may be positional")
            params = list(init.entry_for(init.get(name).name).defaults)
            if not params:
                raise ValueError(f"initializer {name!r} takes no parameters, got {text!r}")
            key, value = params[0], part
        spec[key.strip()] = _value(value.strip())
    init.get(spec)  # validate now: a bad name or parameter fails before any experiment runs
    return spec_label(spec), spec


def _value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip("'\"")


def spec_label(spec):
    """The short text that names a spec in tables and legends.

    >>> spec_label({"name": "normal", "std": 0.01})
    'normal(std=0.01)'
    >>> spec_label("he_normal"), spec_label({"name": "zeros"})
    ('he_normal', 'zeros')
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec['name']}({args})" if args else str(spec["name"])
    return getattr(spec, "__name__", str(spec))


def as_specs(inits):
    """``[(label, spec), ...]`` from a mix of text, specs and ready ``(label, spec)`` pairs.

    >>> as_specs(["he_normal", ("tiny", {"name": "normal", "std": 1e-3})])
    [('he_normal', 'he_normal'), ('tiny', {'name': 'normal', 'std': 0.001})]
    """
    return [s if isinstance(s, tuple) else parse_init(s) for s in inits]
