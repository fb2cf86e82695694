"""The one registry: register, get, serialize, available, describe.

A registry entry is either a *built-in* (a plan function: shape + parameters -> Plan,
drawn by _sample.draw) or a *user* initializer (any function
fn(shape, *, dtype, rng, **params) -> array). Both are reached through the same
names, are case/underscore-insensitive, and are wrapped by `Initializer`, the
callable that `get` returns.
"""
from __future__ import annotations

import functools
import inspect
import json
import math
import numbers
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from microinit.init._checks import (check_dtype, check_shape, did_you_mean,
                                    normalize_name, warn_zero_element)
from microinit.init._ranges import check_finite, check_fits_dtype
from microinit.init._sample import Plan, draw, truncnorm_moments
from microinit.rng import RngLike, as_generator

_Fn = TypeVar("_Fn", bound=Callable[..., Any])

__all__ = ["register", "unregister", "get", "serialize", "available", "describe", "Initializer",
           "DEFAULT_WEIGHT_INIT"]

_ENTRIES: dict[str, _Entry] = {}   # canonical name -> _Entry
_LOOKUP: dict[str, str] = {}       # normalized name or alias -> canonical name
#: a built-in's plan function: plan(shape, **params) -> Plan
PlanFn = Callable[..., Plan]
_RESERVED = ("shape", "dtype", "rng")

#: What ``get(None)`` returns: the default weight initializer of microinit's Dense
#: (``Dense(weight_init="he_uniform")``, as torch.nn.Linear's kaiming_uniform_). Keras'
#: layers default to glorot_uniform instead; microinit keeps one default for both.
DEFAULT_WEIGHT_INIT = "he_uniform"


class _Entry:
    def __init__(self, name: str, aliases: Sequence[str], fn: Callable[..., Any], plan: PlanFn | None = None,
                 param_aliases: Mapping[str, str] | None = None, probe: tuple[int, ...] = (3, 3)) -> None:
        self.name = name
        self.aliases = tuple(aliases)
        self.fn = fn              # the public function fn(shape, *, dtype, rng, **params)
        self.plan = plan          # built-ins only
        self.param_aliases = dict(param_aliases or {})
        self.probe = probe        # a shape valid for this built-in, to check params early
        sig = inspect.signature(plan if plan is not None else fn)
        params = list(sig.parameters.values())
        if params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            params = params[1:]  # the shape, whatever the function calls it
        self.defaults: dict[str, Any] = {}
        for p in params:
            if p.name in _RESERVED or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            self.defaults[p.name] = None if p.default is p.empty else p.default
        self.accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Map parameter aliases (torch's `a`, Keras' `stddev` ...) to canonical names."""
        out: dict[str, Any] = {}
        for key, value in params.items():
            canon = self.param_aliases.get(key, key)
            if canon not in self.defaults and not self.accepts_any:
                allowed = ", ".join(self.defaults) or "none"
                raise TypeError(
                    f"{self.name}: unexpected parameter {key!r}"
                    f"{did_you_mean(key, list(self.defaults) + list(self.param_aliases))}; "
                    f"accepted parameters: {allowed}"
                )
            if canon in out:
                raise TypeError(f"{self.name}: parameter {canon!r} given twice (as {key!r})")
            out[canon] = value
        return out


def _lookup(name: object) -> _Entry:
    if not isinstance(name, str):
        raise TypeError(f"initializer name must be a string, got {type(name).__name__}")
    canon = _LOOKUP.get(normalize_name(name))
    if canon is None:
        every = sorted(set(_ENTRIES) | {a for e in _ENTRIES.values() for a in e.aliases})
        hint = did_you_mean(name, every) or ";"
        raise ValueError(
            f"unknown initializer {name!r}{hint} available: {', '.join(sorted(_ENTRIES))}"
        )
    return _ENTRIES[canon]


def _add(entry: _Entry, overwrite: bool) -> None:
    keys = [normalize_name(n) for n in (entry.name,) + entry.aliases]
    for key, label in zip(keys, (entry.name,) + entry.aliases):
        if not key:
            raise ValueError(f"register: empty initializer name {label!r}")
        taken = _LOOKUP.get(key)
        if taken is not None and _ENTRIES[taken].plan is not None:
            raise ValueError(f"register: {label!r} is the built-in initializer {taken!r}; pick another name")
        if taken is not None and not (overwrite and taken == entry.name):
            raise ValueError(
                f"register: the name {label!r} is already taken by initializer {taken!r}"
                + ("" if overwrite else " (pass overwrite=True to replace it)")
            )
    old = _ENTRIES.get(entry.name)
    if old is not None:
        for alias in (old.name,) + old.aliases:
            _LOOKUP.pop(normalize_name(alias), None)
    _ENTRIES[entry.name] = entry
    for key in keys:
        _LOOKUP[key] = entry.name


def register(name: str, *aliases: str, overwrite: bool = False) -> Callable[[_Fn], _Fn]:
    """Decorator: add fn(shape, *, dtype, rng, **params) -> array to the registry.

    Names and aliases are matched case- and underscore-insensitively; a name already
    taken raises ValueError unless overwrite=True (which replaces an entry of the same
    canonical name). The function receives a validated shape tuple, a numpy float dtype
    and a numpy Generator, and must return an array of that shape.

    >>> @register("halves", "half", overwrite=True)
    ... def halves(shape, *, dtype, rng):
    ...     return np.full(shape, 0.5, dtype)
    >>> float(get("Halves")((2, 2))[0, 0])
    0.5
    """
    def deco(fn: _Fn) -> _Fn:
        if not callable(fn):
            raise TypeError(f"register({name!r}): expected a function, got {type(fn).__name__}")
        _add(_Entry(name, aliases, fn), overwrite)
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove a user-registered initializer (by name or alias); built-ins stay."""
    entry = _lookup(name)
    if entry.plan is not None:
        raise ValueError(f"unregister: {entry.name!r} is a built-in initializer")
    for label in (entry.name,) + entry.aliases:
        _LOOKUP.pop(normalize_name(label), None)
    del _ENTRIES[entry.name]


def builtin(name: str, *aliases: str, param_aliases: Mapping[str, str] | None = None,
            probe: tuple[int, ...] = (3, 3)) -> Callable[[PlanFn], Callable[..., NDArray[Any]]]:
    """Decorator for built-ins: turns plan(shape, **params) -> Plan into the public
    initializer fn(shape, *, dtype=float32, rng=None, **params) and registers it."""
    def deco(plan: PlanFn) -> Callable[..., NDArray[Any]]:
        @functools.wraps(plan)
        def initializer(shape: int | Sequence[int], *, dtype: DTypeLike = np.float32, rng: RngLike = None,
                        **params: Any) -> NDArray[Any]:
            return _call_entry(entry, shape, dtype, rng, params)

        sig = inspect.signature(plan)
        params = [p.replace(kind=p.KEYWORD_ONLY) for p in list(sig.parameters.values())[1:]]
        initializer.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]  # for inspect
            inspect.Parameter("shape", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("dtype", inspect.Parameter.KEYWORD_ONLY, default=np.float32),
            inspect.Parameter("rng", inspect.Parameter.KEYWORD_ONLY, default=None),
            *params])
        initializer.__name__ = initializer.__qualname__ = name
        entry = _Entry(name, aliases, initializer, plan=plan, param_aliases=param_aliases, probe=probe)
        _add(entry, overwrite=False)
        return initializer

    return deco


def _call_entry(entry: _Entry, shape: int | Sequence[int], dtype: DTypeLike, rng: RngLike, params: Mapping[str, Any],
                out: NDArray[Any] | None = None) -> NDArray[Any]:
    """Run entry for shape/dtype; with `out` (an existing array of that shape and
    dtype), write into it instead of allocating (the in-place forms)."""
    where = entry.name
    dims = check_shape(shape, where)
    dt = check_dtype(dtype, where)
    bound = entry.resolve(params)
    if entry.plan is None:
        gen = as_generator(rng, where)
        result = np.asarray(entry.fn(dims, dtype=dt, rng=gen, **bound))
        if result.shape != dims:
            raise ValueError(f"{where}: returned an array of shape {result.shape}, expected {dims}")
        with np.errstate(over="ignore"):  # an overflow in the cast is reported just below
            result = result.astype(dt, copy=False)
        check_finite(result, where, {**entry.defaults, **bound})
        if out is None:
            return result
        out[...] = result
        return out
    if math.prod(dims) == 0:
        # Plan on the same shape with every 0 made 1, so that bad parameters and bad
        # ranks still raise; then do nothing, as torch.nn.init does.
        check_fits_dtype(entry.plan(tuple(d or 1 for d in dims), **bound), dt, where)
        as_generator(rng, where)  # a bad rng argument still raises
        warn_zero_element(where, dims)
        return np.zeros(dims, dtype=dt) if out is None else out
    plan = entry.plan(dims, **bound)
    # docs/reliability.md row 53: never inf weights. For built-ins this check before
    # drawing is the guarantee (the kernels also refuse or clamp anything out of
    # range); a check_finite pass over the result, as user initializers get, would
    # cost 5-20% of a large init (measured) for a case the fuzz tests show cannot occur.
    check_fits_dtype(plan, dt, where)
    return draw(plan, dims, dt, as_generator(rng, where), out=out)


def fill_into(name: str, arr: NDArray[Any], rng: RngLike, params: dict[str, Any]) -> NDArray[Any]:
    """Overwrite the float array arr with initializer `name` (the in-place forms)."""
    entry = _lookup(name)
    return _call_entry(entry, arr.shape, arr.dtype, rng, params, out=arr)


class Initializer:
    """An initializer with its parameters bound: `init(shape, *, dtype=float32, rng=None)`.

    What `get` returns. Calling it with extra keyword parameters overrides the bound
    ones for that call. `config` / `serialize(init)` gives a JSON-safe dict that `get`
    turns back into an equal Initializer (registered initializers only).
    """

    __slots__ = ("name", "params", "_entry", "_registered")

    name: str
    params: dict[str, Any]

    def __init__(self, entry: _Entry, params: Mapping[str, Any] | None = None, registered: bool = True) -> None:
        self._entry = entry
        self._registered = registered
        self.name = entry.name
        self.params = dict(params or {})

    def __call__(self, shape: int | Sequence[int], *, dtype: DTypeLike = np.float32, rng: RngLike = None,
                 **overrides: Any) -> NDArray[Any]:
        return _call_entry(self._entry, shape, dtype, rng, {**self.params, **overrides})

    @property
    def config(self) -> dict[str, Any]:
        if not self._registered:
            raise ValueError(
                f"cannot serialize the unregistered callable {self._entry.fn!r}; "
                "register it first with @microinit.init.register(name)"
            )
        full = dict(self._entry.defaults)
        full.update(self.params)
        return {"name": self.name, **{k: _jsonable(v) for k, v in full.items()}}

    def plan(self, shape: int | Sequence[int]) -> Plan:
        """The Plan (distribution and parameters) this initializer draws for shape."""
        if self._entry.plan is None:
            raise ValueError(f"{self.name}: only built-in initializers can be described")
        return self._entry.plan(check_shape(shape, self.name), **self.params)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Initializer({self.name!r}{args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        if not (self._registered and other._registered):
            return self._entry.fn is other._entry.fn and self.params == other.params
        return self.config == other.config

    def __hash__(self) -> int:
        return hash(self.name)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def _from_config(spec: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    config = dict(spec)
    if "class_name" in config and "name" not in config:  # Keras' serialized form
        inner = dict(config.get("config") or {})
        inner.pop("seed", None)
        config = {"name": config["class_name"], **inner}
    if "name" not in config:
        raise ValueError(f"initializer config needs a 'name' key, got keys {sorted(config)}")
    name = config.pop("name")
    return name, config


def get(spec: Any, **params: Any) -> Initializer:
    """The initializer for spec, as a callable `init(shape, *, dtype=float32, rng=None)`.

    spec may be a name or alias (case/underscore-insensitive: "HeNormal", "he_normal",
    "kaiming_normal" are one; Keras' class names such as "GlorotUniform",
    "OrthogonalInitializer" and "IdentityInitializer" too), a config dict
    {"name": ..., **params} (Keras' {"class_name", "config"} form also works), a number
    (a constant), a callable, an Initializer, or None: the default weight initializer,
    DEFAULT_WEIGHT_INIT = "he_uniform", the one microinit's Dense uses (Keras' layers
    use glorot_uniform). Keyword params are bound on top. Bad names and parameters
    raise here, before anything is drawn.

    >>> w = get({"name": "variance_scaling", "scale": 2.0, "mode": "fan_out"})((64, 32), rng=0)
    >>> w.shape, w.dtype
    ((64, 32), dtype('float32'))
    >>> get(None)
    Initializer('he_uniform')
    """
    registered = True
    entry: _Entry
    base: Mapping[str, Any]
    if spec is None:
        spec = DEFAULT_WEIGHT_INIT
    if isinstance(spec, Initializer):
        if not params:
            return spec
        entry, base, registered = spec._entry, spec.params, spec._registered
    elif isinstance(spec, str):
        entry, base = _lookup(spec), {}
    elif isinstance(spec, dict):
        name, base = _from_config(spec)
        entry = _lookup(name)
    elif isinstance(spec, numbers.Real) and not isinstance(spec, (bool, np.bool_)):
        entry, base = _ENTRIES["constant"], {"value": float(spec)}
    elif callable(spec):
        known = next((e for e in _ENTRIES.values() if e.fn is spec), None)
        base = {}
        if known is None:  # an anonymous function: usable, not serializable
            entry = _Entry(getattr(spec, "__name__", "<callable>"), (), spec)
            registered = False
        else:
            entry = known
    else:
        raise TypeError(
            f"cannot interpret {spec!r} ({type(spec).__name__}) as an initializer: expected a "
            "name, a config dict, a number, a callable or an Initializer"
        )
    bound = entry.resolve({**base, **params})
    if entry.plan is not None:
        bound = {k: (tuple(v) if isinstance(v, list) else v) for k, v in bound.items()}
        entry.plan(entry.probe, **bound)  # bad parameter values raise now, not at first use
    return Initializer(entry, bound, registered)


def serialize(spec: Any) -> dict[str, Any]:
    """A JSON-safe config dict; get(serialize(spec)) is an equal initializer, also after
    json.dumps/json.loads. Every parameter is written out, defaults included.

    >>> serialize("glorot_uniform")
    {'name': 'xavier_uniform', 'gain': 1.0}
    """
    config = get(spec).config
    json.dumps(config)  # a user parameter that JSON cannot hold fails here, not at load
    return config


def available() -> dict[str, tuple[str, ...]]:
    """{canonical name: (aliases...)} for every registered initializer, sorted by name."""
    return {name: _ENTRIES[name].aliases for name in sorted(_ENTRIES)}


def entry_for(name: str) -> _Entry:
    return _lookup(name)


def describe(spec: Any, shape: int | Sequence[int]) -> dict[str, Any]:
    """What spec draws for shape: the distribution, its parameters, fans, mean and std.

    >>> d = describe("he_normal", (256, 128))
    >>> d["distribution"], round(d["std"], 5)
    ('normal', 0.08839)
    """
    ini = get(spec)
    plan = ini.plan(shape)
    dims = check_shape(shape, ini.name)
    p = plan.params
    n = math.prod(dims)
    kind = plan.kind
    if kind == "constant":
        mean, std = p["value"], 0.0
    elif kind == "uniform":
        mean, std = (p["low"] + p["high"]) / 2, (p["high"] - p["low"]) / math.sqrt(12)
    elif kind == "normal":
        mean, std = p["mean"], p["std"]
    elif kind == "truncated_normal":
        mean, std = truncnorm_moments(p["mean"], p["std"], p["low"], p["high"])
    elif kind == "sparse":
        mean, std = 0.0, p["std"] * math.sqrt(1 - p["n_zeros"] / dims[-1])
    else:
        # Deterministic or orthogonal matrices: the mean and std of the entries.
        nonzero = {"orthogonal": min(math.prod(dims[:-1]), dims[-1]),
                   "delta_orthogonal": min(dims[-2:]),
                   "identity": min(dims),
                   "dirac": p.get("groups", 1) * min(dims[-1] // p.get("groups", 1), dims[-2])}[kind]
        sq = p["gain"] ** 2 * nonzero / n if n else 0.0
        mean = 0.0 if "orthogonal" in kind else (p["gain"] * nonzero / n if n else 0.0)
        std = math.sqrt(max(sq - mean * mean, 0.0))
    fan_in, fan_out = plan.fans if plan.fans else (None, None)
    return {"name": ini.name, "params": ini.config, "shape": dims,
            "fan_in": fan_in, "fan_out": fan_out,
            "distribution": kind, "distribution_params": dict(p),
            "mean": float(mean), "std": float(std)}
