"""The C core's label text against Python's own: repr(float), the exact
decimal time, and ipaddress's address text on the running Python."""
from __future__ import annotations

import decimal
import random
from decimal import Decimal
import ipaddress
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit_tcpflow import _core

MAPPED_DOTTED = str(ipaddress.IPv6Address('::ffff:192.168.7.1')) == '::ffff:192.168.7.1'


@settings(max_examples=4000, deadline=None)
@given(st.one_of(st.floats(min_value=0, allow_nan=False, allow_infinity=False),
                 st.integers(0, 2**63 - 1).map(lambda b: struct.unpack('<d', struct.pack('<Q', b))[0])
                 .filter(lambda x: x == x),
                 st.integers(-1074, 1023).map(lambda e: 2.0 ** e)))
def test_float_repr(x):
    assert _core._float_repr(x) == repr(x)


@settings(max_examples=4000, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 10**9 - 1))
def test_time_repr_is_float_of_exact_decimal(sec, nsec):
    with decimal.localcontext() as ctx:
        ctx.prec = 64
        exact = decimal.Decimal(sec) + decimal.Decimal(nsec) / 10**9
    assert _core._time_repr(sec, nsec) == repr(float(exact))


def test_time_repr_hand_cases():
    assert _core._time_repr(1600000000, 0) == '1600000000.0'
    assert _core._time_repr(0, 10000) == '1e-05'
    assert _core._time_repr(0, 0) == '0.0'
    assert _core._time_repr(1600000000, 123456700) == '1600000000.1234567'


hextet = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x12, 0xABCD])


@settings(max_examples=4000, deadline=None)
@given(st.lists(hextet, min_size=8, max_size=8))
def test_ipv6_text(words):
    packed = struct.pack('!8H', *words)
    assert _core._address_text(packed, MAPPED_DOTTED) == str(ipaddress.IPv6Address(packed))


@given(st.binary(min_size=4, max_size=4))
def test_ipv4_text(packed):
    assert _core._address_text(packed) == str(ipaddress.IPv4Address(packed))


def test_mapped_and_compatible_forms():
    for text in ('::ffff:192.168.7.1', '::192.168.7.1', '::ffff:0:0', '::1', '::'):
        packed = ipaddress.IPv6Address(text).packed
        assert _core._address_text(packed, MAPPED_DOTTED) == str(ipaddress.IPv6Address(text))


def test_fast_paths_against_python_on_many_values():
    """The integer shortest-digits path (1 <= x < 2**53) and the integer
    time-to-double path (1 <= sec < 2**40): 100,000 seeded values each,
    weighted to microsecond/millisecond fractions, powers of two and their
    neighbours, where ties and lopsided intervals live."""
    rng = random.Random(20261126)
    for _ in range(100_000):
        sec = rng.choice([rng.randrange(1, 2**32), rng.randrange(1, 2**40), rng.randrange(1, 100),
                          2 ** rng.randrange(0, 40)])
        nsec = rng.choice([rng.randrange(10**9), rng.randrange(10**6) * 1000,
                           rng.randrange(1000) * 10**6, 0, 999_999_999, 500_000_000])
        assert _core._time_repr(sec, nsec) == repr(float(Decimal(f'{sec}.{nsec:09d}')))
    for _ in range(100_000):
        e = rng.randrange(0, 53)
        x = rng.choice([rng.uniform(2.0**e, 2.0**(e + 1)), 2.0**e])
        bits = struct.unpack('<q', struct.pack('<d', x))[0] + rng.choice([-1, 0, 0, 1, 2])
        x = struct.unpack('<d', struct.pack('<q', bits))[0]
        assert _core._float_repr(x) == repr(x)
