"""The C floors of the benchmark suite measure what they claim to.

benchmarks/pcap_loop.c must see every record of a capture (counted by the
independent reader in tests/capread.py), and benchmarks/write_files.c must
write byte-identical copies of every flow file extract() wrote.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

import pcapkit_tcpflow
from capread import read_capture

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = ROOT / 'examples' / 'sample.pcap'


def build(tmp_path: pathlib.Path, source: str, *libs: str) -> str:
    if shutil.which('cc') is None:
        pytest.fail('no C compiler (cc)')
    out = str(tmp_path / pathlib.Path(source).stem)
    subprocess.run(['cc', '-O2', '-Wall', '-Werror', '-o', out, str(ROOT / source), *libs],
                   check=True)
    return out


def test_pcap_loop_reads_every_record(tmp_path):
    tool = build(tmp_path, 'benchmarks/pcap_loop.c', '-lpcap')
    records, seconds, _ = subprocess.run([tool, str(SAMPLE)], capture_output=True, text=True,
                                         check=True).stdout.split()
    assert int(records) == len(read_capture(str(SAMPLE))) > 0
    assert float(seconds) >= 0


def test_write_files_copies_the_flow_files(tmp_path):
    tool = build(tmp_path, 'benchmarks/write_files.c')
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    dst.mkdir()
    pcapkit_tcpflow.extract(str(SAMPLE), nofile=True, trace=True, tcp=True, trace_fout=str(src))
    names = sorted(os.listdir(src))
    files, size, seconds = subprocess.run([tool, str(src), str(dst)], capture_output=True,
                                          text=True, check=True).stdout.split()
    assert int(files) == len(names) > 1
    assert int(size) == sum((src / n).stat().st_size for n in names)
    assert float(seconds) >= 0
    assert sorted(os.listdir(dst)) == names
    for name in names:
        assert (dst / name).read_bytes() == (src / name).read_bytes(), name
