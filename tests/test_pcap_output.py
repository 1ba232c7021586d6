"""The C pcap writer: bytes on disk, hand-computed, and its deviations from
pcapkit's PCAPIO (timestamps scaled between micro- and nanosecond files,
incl_len always the length of the bytes written)."""
from __future__ import annotations

import decimal
import struct

import pytest

from conftest import need_pcapkit
from pcapkit_tcpflow import PCAPDumper, _core
from pcapkit_tcpflow.dumpers import record_time


@pytest.mark.parametrize('order, nsec, magic', [
    ('little', False, b'\xd4\xc3\xb2\xa1'), ('little', True, b'\x4d\x3c\xb2\xa1'),
    ('big', False, b'\xa1\xb2\xc3\xd4'), ('big', True, b'\xa1\xb2\x3c\x4d')])
def test_header_and_record_bytes(tmp_path, order, nsec, magic):
    path = tmp_path / 'f.pcap'
    dumper = PCAPDumper(str(path), protocol=228, byteorder=order, nanosecond=nsec)
    frame = {'packet': b'abc', 'frame_info': {'ts_sec': 7, 'ts_usec': 123456, 'orig_len': 99},
             'time_epoch': decimal.Decimal('7.123456')}
    assert dumper(frame, name='Frame 1') is dumper
    fmt = '>' if order == 'big' else '<'
    frac = 123456000 if nsec else 123456
    assert path.read_bytes() == magic + struct.pack(fmt + 'HHiIII', 2, 4, 0, 0, 262144, 228) \
        + struct.pack(fmt + 'IIII', 7, frac, 3, 99) + b'abc'


@pytest.mark.parametrize('sec, frac, epoch, expected', [
    (5, 250000, '5.25', (5, 250000000)),            # microsecond fields
    (5, 250000007, '5.250000007', (5, 250000007)),  # nanosecond fields
    (5, 1500000, '6.5', (6, 500000000)),            # usec field >= 10**6 carries
    (0, 0, '0', (0, 0)),
    (9, 1, '9.000000000123', (9, 0)),               # fields disagree with epoch: epoch wins
])
def test_record_time_units(sec, frac, epoch, expected):
    frame = {'frame_info': {'ts_sec': sec, 'ts_usec': frac}, 'time_epoch': decimal.Decimal(epoch)}
    assert record_time(frame) == expected


def test_record_time_from_epoch_only():
    assert record_time({'time_epoch': decimal.Decimal('1000.0999994277954')}) == (1000, 99999427)
    assert record_time({'timestamp': 1.5}) == (1, 500000000)
    with pytest.raises(TypeError):
        record_time({})


def test_out_of_range_timestamp_is_a_value_error(tmp_path):
    path = tmp_path / 'f.pcap'
    dumper = PCAPDumper(str(path), protocol=1)
    with pytest.raises(ValueError, match='pcap record'):
        dumper({'packet': b'', 'time_epoch': decimal.Decimal(2**32)})
    assert path.stat().st_size == 24  # nothing half-written


def test_unwritable_path_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        PCAPDumper(str(tmp_path / 'no' / 'such' / 'dir.pcap'), protocol=1)
    with pytest.raises(OSError):
        _core.pcap_append(str(tmp_path / 'missing' / 'x'), 1, False, False, 0, 0, 0, b'')


def _pcapkit_frame(ts_sec, ts_frac, epoch, data=b'\x00' * 4):
    import datetime

    from pcapkit.protocols.data.misc.pcap.frame import Frame, FrameInfo
    info = FrameInfo(ts_sec=ts_sec, ts_usec=ts_frac, incl_len=len(data), orig_len=len(data))
    frame = Frame(frame_info=info, time=datetime.datetime(2020, 1, 1), number=1,
                  time_epoch=decimal.Decimal(epoch), len=len(data), cap_len=len(data))
    frame.__update__(packet=data)
    return frame


@pytest.mark.parametrize('in_nsec, out_nsec', [(False, True), (True, False), (False, False),
                                               (True, True)])
def test_timestamp_scaling_vs_pcapkit(tmp_path, in_nsec, out_nsec):
    """Deviation: pcapkit copies the input fraction whatever the units;
    we convert it (microseconds to nanoseconds exactly, nanoseconds to
    microseconds by truncation, as libpcap does)."""
    need_pcapkit()
    from pcapkit.dumpkit.pcap import PCAPIO
    frac = 123456789 if in_nsec else 123456
    epoch = f'1600000000.{frac:09d}' if in_nsec else f'1600000000.{frac:06d}'
    frame = _pcapkit_frame(1600000000, frac, epoch)
    theirs, ours = tmp_path / 'theirs.pcap', tmp_path / 'ours.pcap'
    PCAPIO(str(theirs), protocol=1, byteorder='little', nanosecond=out_nsec)(frame)
    PCAPDumper(str(ours), protocol=1, byteorder='little', nanosecond=out_nsec)(frame)
    t, o = theirs.read_bytes(), ours.read_bytes()
    assert t[:24] == o[:24]
    t_frac = struct.unpack('<I', t[28:32])[0]
    o_frac = struct.unpack('<I', o[28:32])[0]
    assert t_frac == frac  # pcapkit: raw copy
    want = {(False, True): 123456000, (True, False): 123456, (False, False): 123456,
            (True, True): 123456789}[in_nsec, out_nsec]
    assert o_frac == want
    assert (t == o) == (in_nsec == out_nsec)


def test_short_data_gets_matching_incl_len_vs_pcapkit(tmp_path):
    """Deviation: pcapkit writes the frame's incl_len even when it is handed
    fewer bytes (the last frames of a capture, fact 36), leaving a corrupt
    record; we write the length of the bytes we store."""
    need_pcapkit()
    from pcapkit.dumpkit.pcap import PCAPIO
    from pcapkit.protocols.data.misc.pcap.frame import FrameInfo
    frame = _pcapkit_frame(1, 0, '1', data=b'')
    # the record says 60 bytes were captured; the tracer is handed none
    frame.__dict__['frame_info'] = FrameInfo(ts_sec=1, ts_usec=0, incl_len=60, orig_len=60)
    theirs, ours = tmp_path / 'theirs.pcap', tmp_path / 'ours.pcap'
    PCAPIO(str(theirs), protocol=1, byteorder='little')(frame)
    PCAPDumper(str(ours), protocol=1, byteorder='little')(frame)
    assert struct.unpack('<IIII', theirs.read_bytes()[24:40]) == (1, 0, 60, 60)
    assert struct.unpack('<IIII', ours.read_bytes()[24:40]) == (1, 0, 0, 60)
