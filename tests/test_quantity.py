"""Tests for kubeproof.model.quantity against upstream's quantity_test.go and by property."""

from __future__ import annotations

import doctest
import math
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproof.model import quantity as quantity_module
from kubeproof.model.errors import QuantityError
from kubeproof.model.quantity import Quantity, parse_quantity, resource_amount

MAX_BINARY = (2**63 - 1) * 10**9
DSI, BSI, DEX = "DecimalSI", "BinarySI", "DecimalExponent"


def dec(i: int, exponent: int) -> int:
    """Nanos of i * 10**exponent, like upstream's test helper decQuantity."""
    return i * 10 ** (exponent + 9)


KI, MI, GI, TI, PI, EI = (1024**k for k in range(1, 7))

# upstream: quantity_test.go TestQuantityParse (the valid table, every entry)
PARSE_CASES = [
    ("0", dec(0, 0), DSI),
    ("0n", dec(0, 0), DSI),
    ("0u", dec(0, 0), DSI),
    ("0m", dec(0, 0), DSI),
    ("0Ki", dec(0, 0), BSI),
    ("0k", dec(0, 0), DSI),
    ("0Mi", dec(0, 0), BSI),
    ("0M", dec(0, 0), DSI),
    ("0Gi", dec(0, 0), BSI),
    ("0G", dec(0, 0), DSI),
    ("0Ti", dec(0, 0), BSI),
    ("0T", dec(0, 0), DSI),
    ("1", dec(1, 0), DSI),
    ("1Ki", dec(KI, 0), BSI),
    ("8Ki", dec(8 * KI, 0), BSI),
    ("7Mi", dec(7 * MI, 0), BSI),
    ("6Gi", dec(6 * GI, 0), BSI),
    ("5Ti", dec(5 * TI, 0), BSI),
    ("4Pi", dec(4 * PI, 0), BSI),
    ("3Ei", dec(3 * EI, 0), BSI),
    ("10Ti", dec(10 * TI, 0), BSI),
    ("100Ti", dec(100 * TI, 0), BSI),
    ("5n", dec(5, -9), DSI),
    ("4u", dec(4, -6), DSI),
    ("3m", dec(3, -3), DSI),
    ("9", dec(9, 0), DSI),
    ("8k", dec(8, 3), DSI),
    ("50k", dec(5, 4), DSI),
    ("7M", dec(7, 6), DSI),
    ("6G", dec(6, 9), DSI),
    ("5T", dec(5, 12), DSI),
    ("40T", dec(4, 13), DSI),
    ("300T", dec(3, 14), DSI),
    ("2P", dec(2, 15), DSI),
    ("1E", dec(1, 18), DSI),
    ("1E-3", dec(1, -3), DEX),
    ("1e3", dec(1, 3), DEX),
    ("1E6", dec(1, 6), DEX),
    ("1e9", dec(1, 9), DEX),
    ("1E12", dec(1, 12), DEX),
    ("1e15", dec(1, 15), DEX),
    ("1E18", dec(1, 18), DEX),
    ("1e14", dec(1, 14), DEX),
    ("1e13", dec(1, 13), DEX),
    ("100.035k", dec(100035, 0), DSI),
    ("0.001", dec(1, -3), DSI),
    ("0.0005k", dec(5, -1), DSI),
    ("0.005", dec(5, -3), DSI),
    ("0.05", dec(5, -2), DSI),
    ("0.5", dec(5, -1), DSI),
    ("0.00050k", dec(5, -1), DSI),
    ("0.00500", dec(5, -3), DSI),
    ("0.05000", dec(5, -2), DSI),
    ("0.50000", dec(5, -1), DSI),
    ("0.5e0", dec(5, -1), DEX),
    ("0.5e-1", dec(5, -2), DEX),
    ("0.5e-2", dec(5, -3), DEX),
    ("10.035M", dec(10035, 3), DSI),
    ("1.2e3", dec(12, 2), DEX),
    ("1.3E+6", dec(13, 5), DEX),
    ("1.40e9", dec(14, 8), DEX),
    ("1.53E12", dec(153, 10), DEX),
    ("1.6e15", dec(16, 14), DEX),
    ("1.7E18", dec(17, 17), DEX),
    ("9.01", dec(901, -2), DSI),
    ("8.1k", dec(81, 2), DSI),
    ("7.123456M", dec(7123456, 0), DSI),
    ("6.987654321G", dec(6987654321, 0), DSI),
    ("5.444T", dec(5444, 9), DSI),
    ("40.1T", dec(401, 11), DSI),
    ("300.2T", dec(3002, 11), DSI),
    ("2.5P", dec(25, 14), DSI),
    ("1.01E", dec(101, 16), DSI),
    ("3.001n", dec(4, -9), DSI),
    ("1.1E-9", dec(2, -9), DEX),
    ("0.0000000001", dec(1, -9), DSI),
    ("0.0000000005", dec(1, -9), DSI),
    ("0.00000000050", dec(1, -9), DSI),
    ("0.5e-9", dec(1, -9), DEX),
    ("0.9n", dec(1, -9), DSI),
    ("0.00000012345", dec(124, -9), DSI),
    ("0.00000012354", dec(124, -9), DSI),
    ("9Ei", MAX_BINARY, BSI),
    ("9223372036854775807Ki", MAX_BINARY, BSI),
    ("12E", dec(12, 18), DSI),
    ("100.035Ki", dec(10243584, -2), BSI),
    ("0.5Mi", dec(MI // 2, 0), BSI),
    ("0.05Gi", dec(536870912, -1), BSI),
    ("0.025Ti", dec(274877906944, -1), BSI),
    ("0.000000000001Ki", dec(2, -9), DSI),
    (".001", dec(1, -3), DSI),
    (".0001k", dec(100, -3), DSI),
    ("1.", dec(1, 0), DSI),
    ("1.G", dec(1, 9), DSI),
]


@pytest.mark.parametrize(("text", "nanos", "fmt"), PARSE_CASES)
@pytest.mark.parametrize("sign", ["", "+", "-"])
def test_parse_table(text: str, nanos: int, fmt: str, sign: str) -> None:
    # upstream: quantity_test.go TestQuantityParse, also its "-" and "+" variants
    got = parse_quantity(sign + text)
    assert got.nanos == (-nanos if sign == "-" else nanos)
    assert got.format == fmt


# upstream: quantity_test.go TestQuantityParse (invalid), plus ErrSuffix/ErrNumeric cases read off
# quantity.go and suffix.go; the second column is the upstream error each one must give.
INVALID_CASES = [
    ("", "regular expression"),
    ("1.1.M", "regular expression"),
    ("1+1.0M", "regular expression"),
    ("0.1mi", "suffix"),
    ("0.1am", "regular expression"),
    ("aoeu", "regular expression"),
    ("Non-Numeric", "regular expression"),  # upstream: TestQuantityParseNonNumericPanic
    (".5i", "suffix"),
    ("1i", "suffix"),
    ("-3.01i", "suffix"),
    ("-3.01e-", "suffix"),
    (" 1", "regular expression"),
    ("1 ", "regular expression"),
    ("1 Gi", "regular expression"),
    ("1.5.5", "regular expression"),
    ("1K", "suffix"),  # k is lower-case only
    ("1KB", "regular expression"),
    ("1Mb", "regular expression"),
    ("1e", "suffix"),
    ("1e+", "suffix"),
    ("1e3Ki", "regular expression"),
    ("1Kie5", "suffix"),
    ("1\n", "regular expression"),
    ("１", "regular expression"),  # only ASCII digits
    ("1e2147483648", "suffix"),  # beyond int32: kubernetes PR 141203
    ("1e-2147483648", "suffix"),
    ("1e9223372036854775808", "suffix"),
    ("Pi", "numeric part"),  # no digits and upstream's inf.Dec slow path
    ("+.Ei", "numeric part"),
    ("e-10", "numeric part"),
    ("1e1000", "10^1000"),  # model limit, see module docstring
]


@pytest.mark.parametrize(("text", "reason"), INVALID_CASES)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(QuantityError) as raised:
        parse_quantity(text)
    message = str(raised.value)
    assert reason in message and repr(text) in message and "\n" not in message


def test_error_messages_are_upstreams() -> None:
    with pytest.raises(QuantityError, match=re.escape("'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?")):
        parse_quantity("1KB")
    with pytest.raises(QuantityError, match=r"unable to parse quantity's suffix$"):
        parse_quantity("1K")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        *[("m", DSI), ("+", DSI), ("-", DSI), (".", DSI), ("-.", DSI), ("n", DSI)],
        *[("Ki", BSI), ("Ti", BSI), ("E", DSI), ("e5", DEX), ("e-9", DEX)],
    ],
)
def test_digitless_number_is_zero_like_upstream(text: str, fmt: str) -> None:
    # upstream: quantity_test.go TestParseQuantityString ("." and "-." scan as num "0")
    got = parse_quantity(text)
    assert (got.nanos, got.format, str(got)) == (0, fmt, "0")


# upstream: quantity_test.go TestQuantityString: (nanos, format, canonical, alternate spelling)
STRING_CASES = [
    (dec(GI, 0), BSI, "1Gi", "1024Mi"),
    (dec(300 * MI, 0), BSI, "300Mi", "307200Ki"),
    (dec(6 * KI, 0), BSI, "6Ki", ""),
    (dec(1001 * GI, 0), BSI, "1001Gi", "1025024Mi"),
    (dec(TI, 0), BSI, "1Ti", "1024Gi"),
    (dec(5, 0), BSI, "5", "5000m"),
    (dec(500, -3), BSI, "500m", "0.5"),
    (dec(1, 9), DSI, "1G", "1000M"),
    (dec(1000, 6), DSI, "1G", "0.001T"),
    (dec(1000000, 3), DSI, "1G", ""),
    (dec(1000000000, 0), DSI, "1G", ""),
    (dec(1, -3), DSI, "1m", "1000u"),
    (dec(80, -3), DSI, "80m", ""),
    (dec(1080, -3), DSI, "1080m", "1.08"),
    (dec(108, -2), DSI, "1080m", "1080000000n"),
    (dec(10800, -4), DSI, "1080m", ""),
    (dec(300, 6), DSI, "300M", ""),
    (dec(1, 12), DSI, "1T", ""),
    (dec(1234567, 6), DSI, "1234567M", ""),
    (dec(1234567, -3), BSI, "1234567m", ""),
    (dec(3, 3), DSI, "3k", ""),
    (dec(1025, 0), BSI, "1025", ""),
    (dec(0, 0), DSI, "0", ""),
    (dec(0, 0), BSI, "0", ""),
    (dec(1, 9), DEX, "1e9", ".001e12"),
    (dec(1, -3), DEX, "1e-3", "0.001e0"),
    (dec(1, -9), DEX, "1e-9", "1000e-12"),
    (dec(80, -3), DEX, "80e-3", ""),
    (dec(300, 6), DEX, "300e6", ""),
    (dec(1, 12), DEX, "1e12", ""),
    (dec(1, 3), DEX, "1e3", ""),
    (dec(3, 3), DEX, "3e3", ""),
    (dec(0, 0), DEX, "0", "00"),
    (dec(1, -9), DSI, "1n", ""),
    (dec(80, -9), DSI, "80n", ""),
    (dec(1080, -9), DSI, "1080n", ""),
    (dec(108, -8), DSI, "1080n", ""),  # and decQuantity(10800, -10): the same 1080 nanos
    (dec(1, -6), DSI, "1u", ""),
    (dec(80, -6), DSI, "80u", ""),
    (dec(1080, -6), DSI, "1080u", ""),
]


@pytest.mark.parametrize(("nanos", "fmt", "canonical", "alternate"), STRING_CASES)
def test_string_table(nanos: int, fmt: str, canonical: str, alternate: str) -> None:
    # upstream: quantity_test.go TestQuantityString, including its negated half
    assert str(Quantity(nanos, fmt)) == canonical
    assert parse_quantity(canonical) == Quantity(nanos, fmt)
    if alternate:
        assert str(parse_quantity(alternate)) == canonical
    if nanos:
        assert str(Quantity(-nanos, fmt)) == "-" + canonical


# upstream: quantity_test.go TestQuantityParseEmit and TestParseQuantity (canonical column);
# the rest come from scheduler.md section 9 and the brief.
EMIT_CASES = [
    ("1Ki", "1Ki"),
    ("1Mi", "1Mi"),
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("1000M", "1G"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("999999999999999999.1", "999999999999999999100m"),
    ("9999999999999999999", "9999999999999999999"),
    ("1000000000000000000", "1E"),
    ("1.0E", "1E"),
    ("9999999999999999999000m", "9999999999999999999"),
    ("1.0000000000000000001E", "1000000000000000000100m"),
    ("1.000000000000000001E", "1000000000000000001"),
    ("10000000000000000000", "10E"),
    ("10000000000000000000000m", "10E"),
    ("9223372036854775808.1", "9223372036854775808100m"),
    ("1.5Gi", "1536Mi"),
    ("0.5Ki", "512"),
    ("1500m", "1500m"),
    ("1.5", "1500m"),
    ("100m", "100m"),
    ("1e3", "1e3"),
    ("1E3", "1e3"),
    ("129e6", "129e6"),
    ("12Mi", "12Mi"),
    ("0.1m", "100u"),
    ("0.1n", "1n"),
    ("1e-0", "1"),
    ("1000E", "1e21"),  # kubernetes PR 140459; before it upstream printed "1"
    ("1e2147483647", None),
]


@pytest.mark.parametrize(("text", "canonical"), [c for c in EMIT_CASES if c[1]])
def test_emit_table(text: str, canonical: str) -> None:
    # upstream: quantity_test.go TestQuantityParseEmit, TestParseQuantity; negated as upstream does
    assert str(parse_quantity(text)) == canonical
    assert str(parse_quantity("-" + text)) == "-" + canonical


@pytest.mark.parametrize(
    ("x", "y", "expect"), [("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1)]
)
def test_cmp_table(x: str, y: str, expect: int) -> None:
    # upstream: quantity_test.go TestQuantityCmp
    a, b = parse_quantity(x), parse_quantity(y)
    assert ((a > b) - (a < b), a == b) == (expect, expect == 0)
    assert parse_quantity("10000T") > parse_quantity("100Gi")
    assert parse_quantity("1Ki") == parse_quantity("1024") and parse_quantity("1k") != "1k"


@pytest.mark.parametrize(
    ("q", "milli", "value"),
    [
        (Quantity(1), 1, 1),  # upstream: TestScaledValue {Nano, Milli}, {Nano, 0}
        (Quantity(1000), 1, 1),  # {Micro, Milli}, {Micro, 0}
        (Quantity.from_milli(1), 1, 1),  # {Milli, Milli}, {Milli, 0}
        (Quantity.from_int(1), 1000, 1),  # {0, Milli}, {0, 0}
        (Quantity.from_int(100), 100000, 100),  # {2, -2} spirit: scaled up exactly
        (Quantity(-1), -1, -1),  # negative: away from zero (upstream int64Amount path)
        (Quantity.from_milli(-1500), -1500, -2),
    ],
)
def test_scaled_values(q: Quantity, milli: int, value: int) -> None:
    assert (q.milli_value(), q.value()) == (milli, value)


@pytest.mark.parametrize(
    ("text", "resource", "amount"),
    [
        ("100m", "cpu", 100),
        ("0.5", "cpu", 500),
        ("1", "cpu", 1000),
        ("1.5", "cpu", 1500),
        ("0.1m", "cpu", 1),
        ("1e3", "cpu", 1000000),
        ("250000u", "cpu", 250),
        ("1Gi", "memory", 1073741824),
        ("1G", "memory", 1000000000),
        ("128974848", "memory", 128974848),
        ("129e6", "memory", 129000000),
        ("129M", "memory", 129000000),
        ("123Mi", "memory", 128974848),
        ("1.5Gi", "memory", 1610612736),
        ("0.5Ki", "memory", 512),
        ("1.5", "memory", 2),
        ("1m", "memory", 1),
        ("110", "pods", 110),
        ("2", "example.com/gpu", 2),
    ],
)
def test_resource_amount(text: str, resource: str, amount: int) -> None:
    # scheduler.md section 9 examples
    assert resource_amount(resource, parse_quantity(text)) == amount


def test_not_modelled_string_cache_and_binary_plain_integers() -> None:
    # upstream String() would echo "+1" and "1E3" from its parse cache; str() canonicalizes
    assert (str(parse_quantity("+1")), str(parse_quantity("1E3"))) == ("1", "1e3")
    # upstream: a BinarySI integer that is not a multiple of 1024 prints bare, and reparses as
    # DecimalSI, so canonical form is a fixed point only from the second step on
    ten_thousand = Quantity.from_int(10000, BSI)
    assert str(ten_thousand) == "10000" and str(parse_quantity("10000")) == "10k"
    assert str(parse_quantity("9.765625Ki")) == "10000"
    # upstream: quantity.go CanonicalizeBytes, BinarySI below 1024 or fractional prints as DecimalSI
    assert str(Quantity.from_int(1000, BSI)) == "1k"
    assert str(Quantity.from_int(-1024, BSI)) == "-1Ki"
    assert str(Quantity.from_milli(2048500, BSI)) == "2048500m"


def test_exponent_bounds() -> None:
    # kubernetes PR 141203: exponents within +-(2^31-1) parse, with no int32 wrap-around
    assert parse_quantity("1e-2147483647") == Quantity(1)
    assert parse_quantity("1e00000000000000000000003") == Quantity.from_int(1000)
    with pytest.raises(QuantityError, match="suffix"):
        parse_quantity("1e4294967297")  # wrapped to 1e1 before the fix
    with pytest.raises(QuantityError, match="10\\^1000"):
        parse_quantity("1e2147483647")


def test_binary_cap_and_magnitude_limit() -> None:
    # upstream: quantity.go ParseQuantity caps BinarySI only; DecimalSI stays exact
    assert parse_quantity("8Ei").nanos == MAX_BINARY
    assert parse_quantity("-1" + "0" * 50 + "Ki").nanos == -MAX_BINARY
    assert parse_quantity("8E").value() == 8 * 10**18
    assert parse_quantity("1" + "0" * 999).value() == 10**999
    assert parse_quantity("0." + "0" * 5000 + "1Ki") == Quantity(1)
    with pytest.raises(QuantityError, match="10\\^1000"):
        parse_quantity("1" + "0" * 1000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, Quantity.from_int(1)),
        (-3, Quantity.from_int(-3)),
        (0.5, Quantity.from_milli(500)),
        (1e16, Quantity(dec(1, 16), DSI)),  # Go encoding/json writes 10000000000000000
        (1e21, Quantity(dec(1, 21), DEX)),  # and 1e+21
        (1e-7, Quantity(100, DEX)),
    ],
)
def test_numbers(raw: object, expected: Quantity) -> None:
    got = parse_quantity(raw)
    assert (got, got.format) == (expected, expected.format)


@pytest.mark.parametrize("raw", [True, False, None, math.inf, math.nan, [1], b"1", 10**1000])
def test_bad_numbers(raw: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(raw)  # type: ignore[arg-type]


def test_format_is_checked_and_docstring_runs() -> None:
    with pytest.raises(ValueError):
        Quantity(1, "Binary")
    assert doctest.testmod(quantity_module).failed == 0


# --- properties -------------------------------------------------------------------------------

NICE_NANOS = st.one_of(
    st.integers(-(10**40), 10**40),
    st.builds(lambda m, e: m * 10**e, st.integers(-1999, 1999), st.integers(0, 40)),
    st.builds(lambda m, k: m * 1024**k * 10**9, st.integers(-2047, 2047), st.integers(0, 5)),
)
QUANTITIES = st.one_of(
    st.builds(Quantity, NICE_NANOS, st.sampled_from([DSI, DEX])),
    st.builds(Quantity, NICE_NANOS.filter(lambda n: abs(n) <= MAX_BINARY), st.just(BSI)),
)
SUFFIXES = [*"numkMGTPE", "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
DIGITS = st.text("0123456789", max_size=25)
TEXTS = st.builds(
    lambda sign, num, dot, denom, suffix: f"{sign}{num}{'.' + denom if dot else ''}{suffix}",
    st.sampled_from(["", "+", "-"]),
    DIGITS,
    st.booleans(),
    DIGITS,
    st.one_of(
        st.sampled_from(SUFFIXES),
        st.builds(lambda e, x: f"{e}{x:+d}", st.sampled_from("eE"), st.integers(-40, 40)),
    ),
).filter(lambda t: re.match(r"[+-]?[0-9.]*[0-9]", t))


SI_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def reference_nanos(text: str) -> int:
    """An independent oracle for digit-bearing TEXTS: exact Fraction arithmetic."""
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    number, suffix = re.fullmatch(r"([0-9.]*)(.*)", body).groups()
    binary = len(suffix) == 2 and suffix[1] == "i"
    if binary:
        factor = Fraction(2) ** (10 * (1 + "KMGTPE".index(suffix[0])))
    elif suffix in SI_EXPONENTS:
        factor = Fraction(10) ** SI_EXPONENTS[suffix]
    else:
        factor = Fraction(10) ** int(suffix[1:])
    magnitude = math.ceil(Fraction(number) * factor * 10**9)
    return sign * (min(magnitude, MAX_BINARY) if binary else magnitude)


@given(QUANTITIES)
def test_round_trip_and_canonical_fixed_point(q: Quantity) -> None:
    text = str(q)
    again = parse_quantity(text)
    assert again == q
    if q.format == BSI and not text.endswith("i"):  # see test_not_modelled_string_cache...
        text = str(again)
        again = parse_quantity(text)
    assert str(again) == text


@given(TEXTS)
def test_parse_matches_fraction_oracle(text: str) -> None:
    q = parse_quantity(text)
    assert q.nanos == reference_nanos(text)
    again = parse_quantity(str(q))
    assert again == q and str(parse_quantity(str(again))) == str(again)


@given(QUANTITIES, QUANTITIES)
def test_order_is_order_of_nanos(a: Quantity, b: Quantity) -> None:
    assert (a < b, a <= b, a == b, a > b) == (
        a.nanos < b.nanos,
        a.nanos <= b.nanos,
        a.nanos == b.nanos,
        a.nanos > b.nanos,
    )
    same = Quantity(a.nanos, DEX if a.format != DEX else DSI)
    assert same == a and hash(same) == hash(a)


@given(QUANTITIES)
def test_values_are_ceilings(q: Quantity) -> None:
    exact = Fraction(q.nanos, 10**9)
    if q.nanos >= 0:
        assert q.value() == math.ceil(exact) and q.milli_value() == math.ceil(exact * 1000)
    else:
        mirror = Quantity(-q.nanos)
        assert (q.value(), q.milli_value()) == (-mirror.value(), -mirror.milli_value())
    assert (
        resource_amount("cpu", q) == q.milli_value() and resource_amount("memory", q) == q.value()
    )


@given(st.one_of(st.text(), st.text("0123456789.+-eEinumkKMGTPB i", max_size=12)))
def test_arbitrary_text_only_raises_quantity_error(text: str) -> None:
    try:
        q = parse_quantity(text)
    except QuantityError as error:
        assert "\n" not in str(error)
    else:
        assert re.fullmatch(r"[+-]?[0-9]*(\.[0-9]*)?[eEinumkKMGTP]*[+-]?[0-9]*", text)
        assert parse_quantity(str(q)) == q


@given(st.integers(-(10**30), 10**30), st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_as_their_text(n: int, f: float) -> None:
    assert parse_quantity(n) == parse_quantity(str(n)) == Quantity.from_int(n)
    assert parse_quantity(f) == parse_quantity(repr(f))
