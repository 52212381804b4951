"""Kubernetes resource.Quantity: parse, compare, print canonically, read as the scheduler does.

Follows staging/src/k8s.io/apimachinery/pkg/api/resource (quantity.go, suffix.go, amount.go).
A Quantity is its exact value in nanos (units of 1e-9), rounded away from zero at parse time,
plus the Format its suffix picked; equality and order ignore the Format, as upstream Cmp does.

>>> q = parse_quantity("1.5Gi")
>>> str(q), q.value(), q.format
('1536Mi', 1610612736, 'BinarySI')
>>> resource_amount("cpu", parse_quantity("0.1m")), str(parse_quantity("1.5"))
(1, '1500m')
>>> parse_quantity("500m") < parse_quantity(1) == parse_quantity("1000m")
True

As upstream: BinarySI values are capped at 2^63-1 in magnitude (decimal ones are not), a
BinarySI integer that is not a multiple of 1024 prints bare ("10000", which reparses as "10k"),
and a number part without digits is zero ("m", "+", ".", "Ki"), except where upstream's slow
path rejects it ("Pi", "Ei", "e-10": ErrNumeric). Upstream fixes modelled: exponents beyond
+-(2^31-1) are rejected (kubernetes PR 141203) and DecimalSI values beyond the E suffix print as
"1e21" (PR 140459). Not modelled: String() echoing input that upstream judged canonical ("+1",
"01", "1E3"; str() here always canonicalizes), int64 overflow of Value()/MilliValue() (exact ints
here; negatives round away from zero, as upstream's int64 path does), and values of 10^1000 or
more (rejected with QuantityError here, stored upstream).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, ROUND_UP, Context, Decimal

from kubeproof.model.errors import QuantityError

__all__ = ["Quantity", "parse_quantity", "resource_amount"]

_NANO = 10**9
_MAX_BINARY = (2**63 - 1) * _NANO  # upstream: quantity.go ParseQuantity, maxAllowed (BinarySI only)
_MAX_EXPONENT = 2**31 - 1  # upstream: suffix.go interpret, int32 bound (PR 141203)
_MAX_DIGITS = 1000  # model limit: |value| < 10**1000
_FORMATS = ("DecimalSI", "BinarySI", "DecimalExponent")
# upstream: suffix.go newSuffixer and fastLookup
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {0: ""} | {exp // 10: suffix for suffix, exp in _BINARY.items()}
# upstream: quantity.go ErrFormatWrong, ErrNumeric, ErrSuffix
_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_ERR_FORMAT = f"quantities must match the regular expression '{_SPLIT_RE}'"
_ERR_NUMERIC = "unable to parse numeric part of quantity"
_ERR_SUFFIX = "unable to parse quantity's suffix"
# The language of upstream's scanner (quantity.go parseQuantityString), looser than _SPLIT_RE.
_SCANNER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[+-]?[0-9]*)")
_EXPONENT = re.compile(r"[eE]([+-]?)(?=[0-9])0*([0-9]{0,11})")  # strconv.ParseInt, then bounds


@dataclass(frozen=True, slots=True, order=True)
class Quantity:
    """An exact amount in nanos; the format only chooses how str() spells it."""

    nanos: int
    format: str = field(default="DecimalSI", compare=False)

    def __post_init__(self) -> None:
        if self.format not in _FORMATS:
            raise ValueError(f"unknown Quantity format {self.format!r}")

    @classmethod
    def from_int(cls, value: int, format: str = "DecimalSI") -> Quantity:
        """The quantity `value` (upstream NewQuantity)."""
        return cls(value * _NANO, format)

    @classmethod
    def from_milli(cls, value: int, format: str = "DecimalSI") -> Quantity:
        """The quantity `value`/1000 (upstream NewMilliQuantity)."""
        return cls(value * 10**6, format)

    def value(self) -> int:
        """The value rounded up, away from zero (upstream Value)."""
        return _round_away(self.nanos, _NANO)

    def milli_value(self) -> int:
        """The value times 1000 rounded up, away from zero (upstream MilliValue)."""
        return _round_away(self.nanos, 10**6)

    def __str__(self) -> str:
        """The canonical form (upstream CanonicalizeBytes)."""
        if self.nanos == 0:
            return "0"
        sign = "-" if self.nanos < 0 else ""
        magnitude = abs(self.nanos)
        fmt = self.format
        if fmt == "BinarySI":
            if magnitude < 1024 * _NANO or magnitude % _NANO:
                fmt = "DecimalSI"  # avoid rounding: show as DecimalSI
            else:
                mantissa, power = magnitude // _NANO, 0
                while mantissa % 1024 == 0:
                    mantissa, power = mantissa // 1024, power + 1
                if power in _BINARY_SUFFIX:
                    return f"{sign}{mantissa}{_BINARY_SUFFIX[power]}"
                fmt = "DecimalExponent"  # beyond Ei (PR 140459 falls back likewise)
        digits = str(magnitude)
        mantissa = digits.rstrip("0")
        exponent = len(digits) - len(mantissa) - 9
        mantissa += "0" * (exponent % 3)  # upstream: amount.go AsCanonicalBytes
        exponent -= exponent % 3
        if fmt == "DecimalSI" and exponent in _DECIMAL_SUFFIX:
            return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"
        return f"{sign}{mantissa}e{exponent}" if exponent else f"{sign}{mantissa}"


def _round_away(nanos: int, unit: int) -> int:
    """nanos / unit rounded away from zero."""
    magnitude = -(-abs(nanos) // unit)
    return -magnitude if nanos < 0 else magnitude


def _error(text: object, reason: str) -> QuantityError:
    """The one-line error naming the bad quantity."""
    return QuantityError(f"invalid quantity {text!r}: {reason}")


def _as_text(raw: object) -> str:
    """The text a manifest value stands for: a str as is, a YAML number as JSON spells it."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _error(raw, f"expected a string or a number, not {type(raw).__name__}")
    if isinstance(raw, int):
        if abs(raw) >= 10**_MAX_DIGITS:
            raise _error(raw, f"kubeproof models magnitudes below 10^{_MAX_DIGITS} only")
        return str(raw)
    if not math.isfinite(raw):
        raise _error(raw, _ERR_FORMAT)
    # Go encoding/json: plain digits for 1e-6 <= |f| < 1e21, exponent form otherwise.
    if raw == 0 or 1e-6 <= abs(raw) < 1e21:
        return format(Decimal(repr(raw)), "f")
    return repr(raw)


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """(base, exponent, format) for a suffix, or None (upstream: suffix.go interpret)."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], "DecimalSI"
    if suffix in _BINARY:
        return 2, _BINARY[suffix], "BinarySI"
    match = _EXPONENT.fullmatch(suffix)
    if match is None:
        return None
    exponent = int(match[1] + (match[2] or "0"))
    return (10, exponent, "DecimalExponent") if abs(exponent) <= _MAX_EXPONENT else None


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse like upstream ParseQuantity, raising QuantityError with upstream's reason."""
    # upstream: staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go ParseQuantity
    # A YAML number reaches the API server as JSON: an int is its decimal string, a finite float
    # is spelled as Go's encoding/json would; bool, None and other types raise QuantityError.
    text = _as_text(text)
    match = _SCANNER.fullmatch(text)
    if not text or match is None:
        raise _error(text, _ERR_FORMAT)
    sign, num, denom, suffix = match[1], match[2], match[3] or "", match[4]
    interpreted = _interpret(suffix)
    if interpreted is None:
        raise _error(text, _ERR_SUFFIX)
    base, exponent, fmt = interpreted
    if not num and not denom and (exponent < -9 if base == 10 else exponent >= 50):
        raise _error(text, _ERR_NUMERIC)  # upstream's inf.Dec slow path needs a digit
    digits = (num + denom).lstrip("0") or "0"
    scale = (exponent if base == 10 else 0) - len(denom) + 9
    if base == 10 and len(digits) + scale > _MAX_DIGITS + 9 and digits != "0":
        raise _error(text, f"kubeproof models magnitudes below 10^{_MAX_DIGITS} only")
    if base == 2 and len(digits) + scale > 9 + 19:
        nanos = _MAX_BINARY  # at least 10^19 * 2^10: over the cap
    else:
        context = Context(prec=len(digits) + 40, Emax=MAX_EMAX, Emin=MIN_EMIN, rounding=ROUND_UP)
        exact = context.multiply(Decimal(f"{digits}e{scale}"), 2 ** (exponent if base == 2 else 0))
        nanos = int(context.to_integral_value(exact))  # round up to a whole nano
    if base == 2:
        nanos = min(nanos, _MAX_BINARY)
        fmt = "DecimalSI" if 0 < nanos < _NANO else fmt  # below one: avoid rounding
    return Quantity(-nanos if sign == "-" else nanos, fmt)


def resource_amount(resource_name: str, q: Quantity) -> int:
    """The integer the scheduler counts: millicores for cpu, whole units for everything else."""
    # upstream: pkg/scheduler/framework/types.go Resource.Add: MilliValue for cpu, else Value
    return q.milli_value() if resource_name == "cpu" else q.value()
