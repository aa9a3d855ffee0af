"""A recorded law: what the code that wrote a tensor's storage last says its values follow.

A law is a plain value. Its `spec` is a verinit scheme spec (``verinit.schemes()``), written
as the code wrote it where it can be (``kaiming_normal(mode=fan_out,nonlinearity=relu)``,
fans from the tensor's shape in torch's layout, as ``torch.nn.init`` computes them), and with
concrete numbers once a scalar transform has changed it (``normal(mean=0,std=0.0123)``).

The affine algebra below is exact: if X follows N(m, s^2) then cX + d follows N(cm + d,
(|c|s)^2); U[a, b) maps to U[ca + d, cb + d) (ends swapped for c < 0); a truncated normal on
[a, b] maps to one on the image interval; erfinv of U(2F(alpha) - 1, 2F(beta) - 1) is a
normal of std 1/sqrt(2) truncated to [erfinv(.), erfinv(.)] (the inverse-CDF sampler of
older torch, timm and Hugging Face's trunc_normal_).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple

# Kinds of law.
RANDOM = "random"  # a sampled law: spec is a verinit scheme
CONSTANT = "constant"  # every value equal: spec is zeros, ones or constant(value=...)
COMPUTED = "computed"  # deterministic values computed by code (arange, a window, a table)
UNINITIALISED = "uninitialised"  # allocated (torch.empty, Tensor.new) and never written
UNRECORDABLE = "unrecordable"  # written by an op whose law verinit cannot state
DERIVED = "derived"  # a new tensor computed from sampled ones (weight_norm's g): not sampled


@dataclass
class Law:
    """The law of a storage's values after its last write (treated as immutable: changes make
    a new one with dataclasses.replace; not frozen, which costs microseconds per law made)."""

    kind: str
    spec: str = ""  # a verinit scheme spec for RANDOM and CONSTANT
    call: str = ""  # the call as written, e.g. nn.init.trunc_normal_(std=0.02)
    site: str = ""  # file:line of the call
    shape: Tuple[int, ...] = ()  # the shape the call saw (a fan scheme's fans come from it)
    zero_rows: Tuple[int, ...] = ()  # rows zeroed after the law was drawn (padding_idx)
    # Concrete parameters where the law is one of the affine families: ("normal", mean, std),
    # ("uniform", a, b), ("truncated_normal", mean, std, a, b), ("constant", value); None for
    # structured laws (orthogonal, eye, dirac, sparse).
    params: Optional[Tuple] = field(default=None, compare=False)
    # Set for fan schemes: the concrete params are computed from `shape` on demand.
    fan_scheme: Optional[Tuple] = field(default=None, compare=False)

    @property
    def verifiable(self) -> bool:
        return self.kind in (RANDOM, CONSTANT)

    def describe(self) -> str:
        where = f" at {self.site}" if self.site else ""
        return f"{self.call or self.spec or self.kind}{where}"


def number(x: float) -> str:
    """A float as a spec writes it: Python's shortest repr, which round-trips."""
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def constant_law(value: float, **where) -> Law:
    value = float(value)
    spec = "zeros" if value == 0 else "ones" if value == 1 else f"constant(value={number(value)})"
    return Law(CONSTANT, spec, params=("constant", value), **where)


def normal_law(mean: float, std: float, **where) -> Law:
    if std == 0:
        return constant_law(mean, **where)
    return Law(RANDOM, f"normal(mean={number(mean)},std={number(abs(std))})",
               params=("normal", float(mean), abs(float(std))), **where)


def uniform_law(a: float, b: float, **where) -> Law:
    if a == b:
        return constant_law(a, **where)
    lo, hi = min(a, b), max(a, b)
    return Law(RANDOM, f"uniform(a={number(lo)},b={number(hi)})",
               params=("uniform", float(lo), float(hi)), **where)


def truncated_normal_law(mean: float, std: float, a: float, b: float, **where) -> Law:
    lo, hi = min(a, b), max(a, b)
    if lo == -math.inf and hi == math.inf:
        return normal_law(mean, std, **where)
    return Law(RANDOM,
               f"truncated_normal(mean={number(mean)},std={number(abs(std))},a={number(lo)},"
               f"b={number(hi)})",
               params=("truncated_normal", float(mean), abs(float(std)), float(lo), float(hi)),
               **where)


def _fans(shape: Tuple[int, ...]) -> Tuple[int, int]:
    # torch.nn.init._calculate_fan_in_and_fan_out (torch 1.13): dim 1 is fan_in, dim 0 fan_out,
    # both times the receptive field (the product of dims 2...).
    if len(shape) < 2:
        raise ValueError("fans need a tensor of at least 2 dims")
    receptive = 1
    for d in shape[2:]:
        receptive *= d
    return shape[1] * receptive, shape[0] * receptive


def _gain(nonlinearity: str, a: float) -> float:
    # torch.nn.init.calculate_gain (torch 1.13).
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    return 1.0  # linear, conv*, sigmoid


def fan_params(law: Law) -> Optional[Tuple]:
    """The concrete affine params of a fan scheme, for the shape it was drawn at."""
    if law.fan_scheme is None:
        return law.params
    name = law.fan_scheme[0]
    fan_in, fan_out = _fans(law.shape)
    if name in ("xavier_uniform", "xavier_normal"):
        gain = law.fan_scheme[1]
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    else:  # kaiming_uniform / kaiming_normal: (name, a, mode, nonlinearity)
        _, a, mode, nonlinearity = law.fan_scheme
        std = _gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    if name.endswith("uniform"):
        bound = math.sqrt(3.0) * std
        return ("uniform", -bound, bound)
    return ("normal", 0.0, std)


def concrete(law: Law) -> Law:
    """The same law with its numbers written out (a fan scheme resolved at its shape)."""
    params = fan_params(law)
    if law.fan_scheme is None or params is None:
        return law
    where = dict(call=law.call, site=law.site, shape=law.shape, zero_rows=law.zero_rows)
    if params[0] == "uniform":
        return uniform_law(params[1], params[2], **where)
    return normal_law(params[1], params[2], **where)


def affine(law: Law, scale: float, shift: float, call: str, site: str) -> Optional[Law]:
    """The law of scale * X + shift, or None where it is not one verinit states."""
    where = dict(call=f"{law.call}; {call}" if law.call else call, site=site, shape=law.shape)
    if law.kind in (COMPUTED, DERIVED):  # still computed, or still a function of draws
        return replace(law, call=where["call"], site=site)
    params = fan_params(law)
    if params is None:
        return None
    family = params[0]
    if family == "orthogonal":
        if shift != 0 or scale <= 0:
            return None
        return Law(RANDOM, f"orthogonal(gain={number(params[1] * scale)})",
                   params=("orthogonal", params[1] * scale), **where)
    if family == "constant":
        return constant_law(params[1] * scale + shift, **where)
    if family == "normal":
        return normal_law(params[1] * scale + shift, params[2] * scale, **where)
    if family == "uniform":
        return uniform_law(params[1] * scale + shift, params[2] * scale + shift, **where)
    if family == "truncated_normal":
        _, mean, std, a, b = params
        if scale == 0:
            return constant_law(shift, **where)
        return truncated_normal_law(mean * scale + shift, std * scale, a * scale + shift,
                                    b * scale + shift, **where)
    return None


def erfinv_of(law: Law, call: str, site: str) -> Optional[Law]:
    """The law of erfinv(X) for X uniform on [p, q] within [-1, 1]."""
    params = fan_params(law)
    if params is None or params[0] != "uniform" or not (-1 <= params[1] < params[2] <= 1):
        return None
    lo = _erfinv(params[1])
    hi = _erfinv(params[2])
    return truncated_normal_law(0.0, math.sqrt(0.5), lo, hi, call=f"{law.call}; {call}",
                                site=site, shape=law.shape)


def clamped(law: Law, lo: Optional[float], hi: Optional[float], call: str,
            site: str) -> Optional[Law]:
    """X clamped to [lo, hi]: the same law where its support lies inside (up to a few ulps
    of float32, the precision of the samplers that end in a clamp), else None."""
    params = fan_params(law)
    if params is None:
        return None
    if params[0] == "constant":
        v = params[1]
        v = max(v, lo) if lo is not None else v
        v = min(v, hi) if hi is not None else v
        return constant_law(v, call=f"{law.call}; {call}", site=site, shape=law.shape)
    where = dict(call=f"{law.call}; {call}", site=site, shape=law.shape)
    lo = -math.inf if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    if params[0] == "uniform":
        a, b = params[1], params[2]
    elif params[0] in ("normal", "truncated_normal"):
        mean, std = params[1], params[2]
        a, b = (params[3], params[4]) if params[0] == "truncated_normal" else (-math.inf, math.inf)
        # The clamp moves mass onto its ends; where that mass is below 1e-12 of the law's, the
        # clamped law is the law truncated to [lo, hi] (torch's trunc_normal_ clamps a sample
        # whose erfinv reached +-inf, an event of probability 0 in exact arithmetic).
        def phi(x):
            return 0.5 * math.erfc(-(x - mean) / (std * math.sqrt(2)))
        outside = (phi(max(lo, a)) - phi(a)) + (phi(b) - phi(min(hi, b)))
        inside = phi(b) - phi(a)
        if inside > 0 and outside <= 1e-12 * inside:
            return truncated_normal_law(mean, std, max(lo, a), min(hi, b), **where)
        return None
    else:
        return None
    slack = 4 * 2.0**-23 * max(abs(a), abs(b), 1e-30)
    if lo <= a + slack and hi >= b - slack:
        return replace(law, call=where["call"], site=site)
    return None


def _erfinv(y: float) -> float:
    """erfinv on [-1, 1] (+-inf at the ends) by Newton's method on math.erf, to double
    precision."""
    if y <= -1:
        return -math.inf
    if y >= 1:
        return math.inf
    if y == 0:
        return 0.0
    # Giles (2010)'s single-precision approximation as the start, then Newton on erf.
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5:
        w -= 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * w
    else:
        w = math.sqrt(w) - 3
        p = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p = c + p * w
    x = p * y
    for _ in range(4):
        err = math.erf(x) - y
        x -= err / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x
