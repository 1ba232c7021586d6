"""Differential property test: random packet sequences through pcapkit's TCP
and ours give the same labels, dumpers' files, results, order, callbacks and
submit() caching."""
from __future__ import annotations

import ipaddress
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import need_pcapkit

need_pcapkit()

from pcapkit.foundation.extraction import Extractor  # noqa: E402
from pcapkit.foundation.traceflow.data.tcp import Packet  # noqa: E402
from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP  # noqa: E402

from pcapkit_tcpflow import TCP  # noqa: E402

_saved = dict(Extractor.__traceflow__)


class Theirs(PcapkitTCP):
    pass


class Ours(TCP):
    pass


Extractor.__traceflow__.clear()
Extractor.__traceflow__.update(_saved)

ADDRS = [ipaddress.ip_address(a) for a in (
    '10.0.0.1', '10.0.0.2', '0.0.0.0', '255.255.255.255', '192.168.7.1',
    '2001:db8::1', '2001:db8::2', '::', '::1', '::ffff:192.168.7.1', '::192.168.7.1',
    'fe80::1:0:0:1', '2001:0:0:1::1', '1:0:0:2:0:0:0:3')]

timestamps = st.one_of(
    st.integers(0, 2**32).map(float),
    st.tuples(st.integers(0, 2**32), st.integers(0, 9)).flatmap(
        lambda t: st.integers(0, 10**t[1] - 1 if t[1] else 0).map(
            lambda f, t=t: float(f'{t[0]}.{f:0{t[1]}d}') if t[1] else float(t[0]))),
    st.floats(0, 1e-3, allow_nan=False),
)

keys = st.tuples(st.sampled_from(ADDRS), st.sampled_from([0, 1, 80, 443, 65535]),
                 st.sampled_from(ADDRS), st.sampled_from([0, 22, 8080, 65535]))

events = st.lists(
    st.tuples(st.integers(0, 7), st.booleans(), st.booleans(), timestamps,
              st.sampled_from(['trace', 'submit', 'index'])),
    min_size=1, max_size=60)


def run(cls, tmp, key_pool, evs, fmt):
    """Feed the events to a fresh tracer; return its observable behaviour as
    text with the output folder replaced by '<root>', and its files."""
    seen = []
    klass = type('K', (cls,), {})
    klass.register_callback(lambda i: seen.append(('cb', i.fpout, i.index, i.label)))
    tcp = klass(str(tmp), fmt)
    log = []
    last = None
    for n, (k, syn, fin, ts, op) in enumerate(evs, 1):
        src, sport, dst, dport = key_pool[k % len(key_pool)]
        pkt = Packet(protocol=1, index=n, frame=None, syn=syn, fin=fin, src=src, dst=dst,
                     srcport=sport, dstport=dport, timestamp=ts)
        log.append(('label', tcp.trace(pkt)))
        if op == 'submit':
            cur = tcp.submit()
            log.append(('submit', cur, cur is last, tcp.submit() is cur))
            last = cur
        elif op == 'index':
            log.append(('index', tcp.index))
    final = tcp.submit()
    log.append(('final', final, tcp.submit() is final, tcp.index))
    files = {name: (tmp / name).read_bytes() for name in sorted(os.listdir(tmp))}
    return repr(log).replace(str(tmp), '<root>'), repr(seen).replace(str(tmp), '<root>'), files


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key_pool=st.lists(keys, min_size=1, max_size=8), evs=events,
       fmt=st.sampled_from(['pcap', 'none']))
def test_random_sequences_match_pcapkit(tmp_path_factory, key_pool, evs, fmt):
    theirs = run(Theirs, tmp_path_factory.mktemp('theirs'), key_pool, evs, fmt)
    ours = run(Ours, tmp_path_factory.mktemp('ours'), key_pool, evs, fmt)
    assert ours == theirs
