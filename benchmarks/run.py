"""The benchmark suite of pcapkit-tcpflow, in one command.

    python3 benchmarks/run.py              # the whole suite (about 20-30 minutes on 2 cores)
    python3 benchmarks/run.py --quick      # scaled down (a few minutes)
    python3 benchmarks/run.py --table      # print the tables of benchmarks/results/results.json

From a clone of the repository with the package installed
(``python3 -m pip install -e .``).  The suite

1. installs the peers it can (pip: pypcapkit, dpkt, scapy; apt-get: tcpdump,
   tshark, tcpflow) and skips, with the reason printed, those it cannot
   (``--no-install``: install nothing);
2. makes its captures under benchmarks/results/ (not committed): real
   loopback TCP traffic recorded with tcpdump (benchmarks/loopback.py) and
   generated captures of 10^4 ... 10^7 packets (benchmarks/capgen.py);
3. runs every tool on every capture in a child process, round-robin over
   the tools for several rounds, and records the median, min and max time,
   the peak memory of the whole child process (ru_maxrss from wait4) and
   packets per second; tools too slow for a capture run on a prefix of it
   and are extrapolated per packet (and labelled so);
4. scaling: extract() against packets (10^4 ... 10^7) and against
   concurrent flows (10 ... 10^6 at a fixed packet count);
5. multi-core: N threads each calling extract() at once against the same
   calls one after the other;
6. writes benchmarks/results/results.json, draws docs/_static/scaling.png
   (full runs; --quick draws benchmarks/results/scaling.png) and prints
   the tables as reStructuredText.

Times: for the Python rows, the call alone, timed inside the child
(interpreter start and imports excluded); for the C floor and the C core
driver, the time they report for their own loop; for tshark and tcpflow,
the whole process (their start-up included: the start-up alone, on a
10-packet capture, is recorded as ``startup_s``).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results')
PLOT = os.path.join(REPO, 'docs', '_static', 'scaling.png')
sys.path.insert(0, HERE)

import capgen  # noqa: E402

PY = sys.executable
TASKS = os.path.join(HERE, 'tasks.py')


def rel(path: str) -> str:
    """A path as shown: relative to the repository."""
    return os.path.relpath(path, REPO)


def shown(text: str) -> str:
    """Text as recorded: no paths of this machine (the interpreter, the
    checkout, the temporary folder)."""
    text = text.replace(PY, 'python3').replace(REPO + os.sep, '').replace(REPO, '.')
    if FLOW_DIR:
        text = re.sub(re.escape(FLOW_DIR.rstrip(os.sep)) + r'[^\s\'"]*', '<tmpdir>', text)
    return text


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------- settings

FULL = dict(
    rounds=5,
    sizes=[10**4, 10**5, 10**6, 10**7],
    concurrent=1000,            # connections open at a time in the packet series
    peers_up_to=10**6,          # larger captures: ours and the floors only
    files_up_to=10**6,          # extract() with per-flow files, flows(), trace(): up to here
    conc_packets=2 * 10**6,     # the concurrent-flow series: fixed packet count
    conc_flows=[10, 10**2, 10**3, 10**4, 10**5, 10**6],
    threads_capture=10**6,
    loop_short=5000, loop_long=4, loop_long_mb=16,
    limits={'pcapkit': 2000, 'pcapkit-nofiles': 2000, 'pcapkit-dpkt': 20000,
            'pcapkit-dpkt-nofiles': 20000, 'scapy': 20000, 'trace-ours': 200000,
            'trace-pcapkit': 200000},
)
QUICK = dict(
    rounds=2,
    sizes=[10**4, 10**5, 10**6],
    concurrent=1000,
    peers_up_to=10**5,
    files_up_to=10**5,
    conc_packets=2 * 10**5,
    conc_flows=[10, 10**2, 10**3, 10**4, 10**5],
    threads_capture=10**5,
    loop_short=500, loop_long=2, loop_long_mb=4,
    limits={'pcapkit': 500, 'pcapkit-nofiles': 500, 'pcapkit-dpkt': 5000,
            'pcapkit-dpkt-nofiles': 5000, 'scapy': 5000, 'trace-ours': 50000,
            'trace-pcapkit': 50000},
)
CHILD_TIMEOUT_S = 1800


# ----------------------------------------------------------- installation

@dataclass
class Env:
    install: bool
    installed: list[str] = field(default_factory=list)
    present: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)   # name -> reason
    apt_updated: bool = False
    builds: dict[str, str] = field(default_factory=dict)
    logfile: str = os.path.join(RESULTS, 'install.log')

    def _run(self, cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        with open(self.logfile, 'a') as f:
            f.write('$ ' + ' '.join(cmd) + '\n')
            f.flush()
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=env)
            f.write(proc.stdout)
        lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
        return proc.returncode, (lines[-1] if lines else f'exit status {proc.returncode}')

    def pip(self, module: str, spec: str) -> bool:
        """Make `module` importable, installing `spec` with pip if needed."""
        if importlib.util.find_spec(module) is not None:
            self.present[spec.split('=')[0]] = _dist_version(spec.split('=')[0])
            return True
        if not self.install:
            self.unavailable[spec] = 'not installed (--no-install)'
            return False
        log(f'  installing {spec} with pip')
        rc, last = self._run([PY, '-m', 'pip', 'install', '-q', spec])
        importlib.invalidate_caches()
        if rc != 0 or importlib.util.find_spec(module) is None:
            self.unavailable[spec] = f'pip install {spec} failed: {last}'
            return False
        self.installed.append(f'{spec} (pip)')
        return True

    def apt(self, binary: str, package: str) -> bool:
        """Make `binary` runnable, installing the Debian package if needed."""
        if shutil.which(binary):
            self.present[package] = _tool_version(binary)
            return True
        if not self.install:
            self.unavailable[package] = 'not installed (--no-install)'
            return False
        if shutil.which('apt-get') is None:
            self.unavailable[package] = 'not installed and there is no apt-get here'
            return False
        if os.geteuid() != 0:
            self.unavailable[package] = 'not installed and apt-get install needs root'
            return False
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        cmd = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', package]
        log(f'  installing {package} with apt-get')
        rc, last = self._run(cmd, env)
        if rc != 0 and not self.apt_updated:
            self.apt_updated = True
            self._run(['apt-get', 'update', '-q'], env)
            rc, last = self._run(cmd, env)
        if rc != 0 or not shutil.which(binary):
            self.unavailable[package] = f'apt-get install {package} failed: {last}'
            return False
        self.installed.append(f'{package} (apt-get)')
        self.present[package] = _tool_version(binary)
        return True


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return '?'


def _tool_version(binary: str) -> str:
    for flag in ('--version', '-V'):
        try:
            out = subprocess.run([binary, flag], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout + out.stderr).strip()
        for line in text.splitlines():
            m = re.search(r'\d+\.\d+(\.\d+)?', line)
            if m:
                return m.group(0)
    return '?'


def compile_c(name: str, sources: list[str], extra: list[str],
              libs: tuple[str, ...] | list[str] = ('-lpcap',)) -> tuple[str | None, str]:
    """Compile a C program into results/; returns (path or None, command shown)."""
    out = os.path.join(RESULTS, name)
    files = [f for s in sources for f in (sorted(glob.glob(os.path.join(REPO, s)))
                                          if '*' in s else [s])]
    cmd = ['cc', '-O2', '-DNDEBUG', *extra, '-o', out, *files, *libs]
    shown = ' '.join(['cc', '-O2', '-DNDEBUG', *extra, '-o', rel(out),
                      *(rel(s) if os.path.isabs(s) else s for s in sources), *libs])
    if shutil.which('cc') is None:
        return None, 'no C compiler (cc)'
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return None, f'{shown} failed: {lines[-1] if lines else proc.returncode}'
    return out, shown


# ------------------------------------------------------------------ tools

@dataclass
class Tool:
    id: str
    label: str
    kind: str                      # 'ours', 'floor' or 'peer'
    command: str                   # as shown: F = the capture, TMP = a temporary folder
    argv: Callable[[str, str], list[str]]     # (capture, tmpdir) -> argv
    parse: Callable[[str], dict]   # child's stdout -> {'seconds', ...}
    python: bool = False
    needs_tmp: bool = False        # the parent makes (and removes) TMP
    compare: str | None = None     # the row of ours a peer is compared with
    note: str = ''
    scope: str = 'peers'           # 'core' (every capture), 'files' or 'peers'
    stdout_null: bool = False      # the tool's output goes to /dev/null
    available: bool = True
    reason: str = ''


def parse_task(out: str) -> dict:
    for line in reversed(out.splitlines()):
        if line.startswith('RESULT '):
            return json.loads(line[7:])
    raise ValueError('no RESULT line')


def parse_pcap_loop(out: str) -> dict:
    n, seconds, _ = out.split()
    return {'seconds': float(seconds), 'packets': int(n)}


def parse_trace_file(out: str) -> dict:
    m = re.search(r'frames (\d+) traced (\d+) flows (\d+) (\S+) ([\d.]+) s', out)
    if not m:
        raise ValueError('unexpected output: ' + out.strip()[:200])
    return {'seconds': float(m.group(5)), 'packets': int(m.group(1)), 'flows': int(m.group(3))}


def parse_wall(out: str) -> dict:
    return {}


def python_tool(task: str, label: str, kind: str, command: str, **kw: Any) -> Tool:
    def argv(capture: str, tmp: str) -> list[str]:
        return [PY, rel(TASKS), task, rel(capture)]
    return Tool(task, label, kind, command, argv, parse_task, python=True, **kw)


def make_tools(env: Env, mode: dict) -> list[Tool]:
    tools: list[Tool] = []
    nofiles = "trace_format='benchmark-no-output'"
    # ---- ours
    tools.append(python_tool(
        'extract', 'extract(), no output', 'ours',
        'pcapkit_tcpflow.extract(F, nofile=True, trace=True, tcp=True, flow_files=False)',
        scope='core'))
    tools.append(python_tool(
        'extract-files', 'extract(), per-flow pcap files', 'ours',
        'pcapkit_tcpflow.extract(F, nofile=True, trace=True, tcp=True, trace_fout=TMP)',
        scope='files'))
    tools.append(python_tool(
        'flows', 'flows(), pandas DataFrame', 'ours', 'pcapkit_tcpflow.flows(F)',
        scope='files'))
    tools.append(python_tool(
        'trace-ours', 'TCP().trace() per packet', 'ours',
        "tracer = pcapkit_tcpflow.TCP(TMP, 'benchmark-no-output'); "
        'for p in packets: tracer.trace(p)',
        note='pcapkit Packet records decoded before the clock starts; no output files',
        scope='files'))
    # ---- the C core without Python, and the floors
    core, shown = compile_c('trace_file', ['csrc/tests/trace_file.c', 'csrc/core/*.c'],
                            ['-std=c11', '-Icsrc/core'])
    tools.append(Tool('c-core', 'C core alone (trace_file.c)', 'ours',
                      f'{rel(os.path.join(RESULTS, "trace_file"))} F',
                      lambda c, t: [rel(os.path.join(RESULTS, 'trace_file')), rel(c)],
                      parse_trace_file, scope='core',
                      note='csrc/tests/trace_file.c: the same C loop, no Python'))
    env.builds['trace_file'] = shown
    tools.append(Tool('pcap-loop', 'bare libpcap pcap_next_ex loop (C)', 'floor',
                      f'{rel(os.path.join(RESULTS, "pcap_loop"))} F',
                      lambda c, t: [rel(os.path.join(RESULTS, 'pcap_loop')), rel(c)],
                      parse_pcap_loop, scope='core',
                      note='benchmarks/pcap_loop.c'))
    writer, shown = compile_c('write_files', ['benchmarks/write_files.c'], ['-std=c11'], [])
    env.builds['write_files'] = shown
    tools.append(python_tool(
        'files-floor', 'flow-file floor: the same files written by write_files.c', 'floor',
        'write_files SRC TMP: open, one write, close per file (SRC: the files of extract-files)',
        scope='files', note='benchmarks/write_files.c; only the writing is timed',
        available=writer is not None, reason='' if writer else shown))
    tools.append(python_tool(
        'read', 'plain read of the file', 'floor',
        "open(F, 'rb', buffering=0).read(1 << 20) until the end", scope='core',
        note='from the page cache'))
    # ---- peers
    tools.append(python_tool(
        'pcapkit', 'pcapkit extract(), flow files', 'peer',
        'pcapkit.extract(fin=F, nofile=True, store=False, trace=True, tcp=True, '
        'trace_fout=TMP)', compare='extract-files'))
    tools.append(python_tool(
        'pcapkit-nofiles', 'pcapkit extract(), no output', 'peer',
        'pcapkit.extract(fin=F, nofile=True, store=False, trace=True, tcp=True, '
        f'trace_fout=TMP, {nofiles})', compare='extract',
        note='an unknown trace_format: pcapkit writes no flow files'))
    tools.append(python_tool(
        'pcapkit-dpkt', "pcapkit extract(engine='dpkt'), flow files", 'peer',
        'pcapkit.extract(fin=F, nofile=True, store=False, trace=True, tcp=True, '
        "trace_fout=TMP, engine='dpkt')", compare='extract-files'))
    tools.append(python_tool(
        'pcapkit-dpkt-nofiles', "pcapkit extract(engine='dpkt'), no output", 'peer',
        'pcapkit.extract(fin=F, nofile=True, store=False, trace=True, tcp=True, '
        f"trace_fout=TMP, {nofiles}, engine='dpkt')", compare='extract'))
    tools.append(python_tool(
        'trace-pcapkit', "pcapkit's TCP().trace() per packet", 'peer',
        "tracer = pcapkit.foundation.traceflow.tcp.TCP(TMP, 'benchmark-no-output'); "
        'for p in packets: tracer.trace(p)', compare='trace-ours',
        note='the same Packet records as ours'))
    tools.append(python_tool(
        'dpkt-loop', 'dpkt loop, same grouping', 'peer',
        'for ts, buf in dpkt.pcap.UniversalReader(f): dpkt.ethernet.Ethernet(buf) ... '
        '(benchmarks/tasks.py task_dpkt_loop)', compare='extract',
        note='one-way flows keyed by (src, sport, dst, dport), a FIN closes the flow, '
             'frame numbers per flow'))
    tools.append(python_tool(
        'scapy', 'scapy PcapReader, same grouping', 'peer',
        'for pkt in scapy.utils.PcapReader(F): pkt.getlayer(TCP) ... '
        '(benchmarks/tasks.py task_scapy)', compare='extract'))
    tools.append(Tool('tshark-stream', 'tshark, tcp.stream per packet', 'peer',
                      'tshark -r F -T fields -e tcp.stream > /dev/null',
                      lambda c, t: ['tshark', '-r', rel(c), '-T', 'fields', '-e', 'tcp.stream'],
                      parse_wall, compare='extract', stdout_null=True,
                      note='whole process; connections (both directions), not one-way flows'))
    tools.append(Tool('tshark-conv', 'tshark, conv,tcp table', 'peer',
                      'tshark -r F -q -z conv,tcp > /dev/null',
                      lambda c, t: ['tshark', '-r', rel(c), '-q', '-z', 'conv,tcp'],
                      parse_wall, compare='extract', stdout_null=True,
                      note='whole process; connections (both directions), not one-way flows'))
    tools.append(Tool('tcpflow-demux', 'tcpflow, demultiplex only', 'peer',
                      'tcpflow -FX -o TMP -r F',
                      lambda c, t: ['tcpflow', '-FX', '-o', rel(t), '-r', rel(c)],
                      parse_wall, compare='extract', needs_tmp=True, stdout_null=True,
                      note='whole process; -FX: no flow files, only the DFXML report listing '
                           'the flows; one-way flows'))
    tools.append(Tool('tcpflow-files', 'tcpflow, per-flow files', 'peer',
                      'tcpflow -o TMP -r F',
                      lambda c, t: ['tcpflow', '-o', rel(t), '-r', rel(c)],
                      parse_wall, compare='extract-files', needs_tmp=True, stdout_null=True,
                      note='whole process; a file of reassembled payload per one-way flow '
                           '(ours: a pcap file of the packets)'))

    # ---- what is available
    by_id = {t.id: t for t in tools}

    def off(ids: list[str], reason: str) -> None:
        for i in ids:
            by_id[i].available = False
            by_id[i].reason = reason

    try:
        import pcapkit_tcpflow  # noqa: F401
        env.present['pcapkit-tcpflow'] = _dist_version('pcapkit-tcpflow')
    except ImportError as error:
        off(['extract', 'extract-files', 'flows', 'trace-ours'],
            f'pcapkit_tcpflow does not import ({error}): python3 -m pip install -e .')
    if not env.pip('pandas', 'pandas'):
        off(['flows'], env.unavailable['pandas'])
    if core is None:
        off(['c-core'], shown)
    loop, shown_loop = compile_c('pcap_loop', [os.path.join(HERE, 'pcap_loop.c')], [])
    if loop is None:
        off(['pcap-loop'], shown_loop)
    else:
        env.builds['pcap_loop'] = shown_loop
    if not env.pip('pcapkit', 'pypcapkit==1.4.1.post2'):
        off(['pcapkit', 'pcapkit-nofiles', 'pcapkit-dpkt', 'pcapkit-dpkt-nofiles',
             'trace-pcapkit', 'trace-ours'], env.unavailable['pypcapkit==1.4.1.post2'])
    if not env.pip('dpkt', 'dpkt'):
        off(['pcapkit-dpkt', 'pcapkit-dpkt-nofiles', 'dpkt-loop'], env.unavailable['dpkt'])
    if not env.pip('scapy', 'scapy'):
        off(['scapy'], env.unavailable['scapy'])
    if not env.apt('tshark', 'tshark'):
        off(['tshark-stream', 'tshark-conv'], env.unavailable['tshark'])
    if not env.apt('tcpflow', 'tcpflow'):
        off(['tcpflow-demux', 'tcpflow-files'], env.unavailable['tcpflow'])
    for t in tools:
        if t.id in mode['limits']:
            t.note = (t.note + '; ' if t.note else '') + \
                f'on at most {mode["limits"][t.id]:,} packets, extrapolated per packet'
    return tools


# --------------------------------------------------------------- children

SPAWN: str | None = None   # results/spawn, built from benchmarks/spawn.c
FLOW_DIR: str | None = None  # where flow files are written (children: TMPDIR)


def fs_type(path: str) -> str:
    """File system type of the mount holding path ('?' when unknown)."""
    best, kind = '', '?'
    try:
        with open('/proc/mounts') as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and (os.path.realpath(path) + '/').startswith(
                        parts[1].rstrip('/') + '/') and len(parts[1]) >= len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def default_flow_dir() -> str:
    """A memory-backed folder for flow files when the system has one (the
    shared-memory tmpfs of Linux), else the system's temporary folder: file
    creation on a busy disk varies by 10x between runs and would swamp the
    tools' own work."""
    shm = os.path.join(os.sep, 'dev', 'shm')
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and fs_type(shm) == 'tmpfs':
        return shm
    return tempfile.gettempdir()


def run_child(argv: list[str], stdout_null: bool, timeout: float = CHILD_TIMEOUT_S) -> dict:
    """Run argv (cwd: the repository) and return wall seconds, peak RSS (MB),
    exit code, stdout and the last line of stderr.  Through benchmarks/spawn.c
    when it could be built (see there why); otherwise wait4() from here, and
    the peak RSS is at least this process's."""
    with tempfile.TemporaryFile(mode='w+') as out, tempfile.TemporaryFile(mode='w+') as err, \
            tempfile.NamedTemporaryFile(mode='r', dir=RESULTS, prefix='spawn-') as report:
        cmd = [SPAWN, report.name, *argv] if SPAWN else argv
        start = time.perf_counter()
        env = dict(os.environ, TMPDIR=FLOW_DIR) if FLOW_DIR else None
        proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL if stdout_null else out, stderr=err,
                                start_new_session=True, env=env)

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
        rss_kb = usage.ru_maxrss
        if SPAWN:
            fields = report.read().split()
            if len(fields) == 3:
                rss_kb, wall, rc = int(fields[0]), float(fields[1]), int(fields[2])
            elif rc == 0:
                rc = -1
        out.seek(0)
        err.seek(0)
        errors = [ln for ln in err.read().splitlines() if ln.strip()
                  and 'Running as user "root"' not in ln]
        if rc < 0 or rc == 128 + signal.SIGKILL:
            errors.append(f'killed (signal {-rc if rc < 0 else rc - 128}); timeout {timeout} s')
        return {'wall': wall, 'rss_mb': rss_kb / 1024, 'rc': rc,
                'stdout': out.read(), 'stderr': errors[-1].strip() if errors else ''}


def measure_once(tool: Tool, capture: str) -> dict:
    tmp = tempfile.mkdtemp(prefix='out-', dir=FLOW_DIR) if tool.needs_tmp else ''
    try:
        res = run_child(tool.argv(capture, tmp), tool.stdout_null)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if res['rc'] != 0:
        raise RuntimeError(res['stderr'] or f'exit status {res["rc"]}')
    parsed = tool.parse(res['stdout'])
    if 'seconds' not in parsed:
        parsed['seconds'] = res['wall']
    parsed['rss_mb'] = res['rss_mb']
    parsed['wall'] = res['wall']
    return parsed


# --------------------------------------------------------------- captures

@dataclass
class Capture:
    name: str
    path: str
    packets: int
    kind: str          # 'loopback', 'generated', 'concurrency'
    info: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {'name': self.name, 'path': rel(self.path), 'packets': self.packets,
                'bytes': os.path.getsize(self.path), 'kind': self.kind, **self.info}


def generated(packets: int, concurrent: int, per_conn: int, kind: str, name: str) -> Capture:
    path = os.path.join(RESULTS, f'gen-v{capgen.GENERATOR_VERSION}-{packets}-c{concurrent}'
                                 f'-k{per_conn}.pcap')
    if not os.path.exists(path):
        log(f'  generating {rel(path)} ({packets:,} packets, {concurrent:,} concurrent '
            f'connections of {per_conn} packets)')
        start = time.perf_counter()
        capgen.make_capture(path, packets, concurrent, per_conn)
        log(f'    {time.perf_counter() - start:.1f} s, {os.path.getsize(path) / 1e6:,.0f} MB')
    return Capture(name, path, packets, kind, {
        'concurrent_connections': concurrent, 'packets_per_connection': per_conn,
        **capgen.flow_counts(packets, concurrent, per_conn),
        'generator': f'benchmarks/capgen.py (version {capgen.GENERATOR_VERSION})'})


def prefix_of(capture: Capture, records: int) -> tuple[str, int]:
    path = os.path.join(RESULTS, f'{os.path.splitext(os.path.basename(capture.path))[0]}'
                                 f'-first{records}.pcap')
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(capture.path):
        capgen.prefix_capture(capture.path, path, records)
    return path, capgen.count_records(path)


def warm(path: str) -> None:
    with open(path, 'rb', buffering=0) as f:
        while f.read(1 << 22):
            pass


def fmt_name(n: int) -> str:
    e = round(math.log10(n)) if n > 0 else 0
    if 10 ** e == n:
        return f'1e{e}'
    return f'{n / 10 ** (len(str(n)) - 1):g}e{len(str(n)) - 1}'


# ------------------------------------------------------------------ suite

class Suite:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = dict(QUICK if args.quick else FULL)
        if args.rounds:
            self.mode['rounds'] = args.rounds
        self.env = Env(install=not args.no_install)
        self.json_path = args.json
        self.data: dict[str, Any] = {
            'suite': 'pcapkit-tcpflow benchmarks', 'format': 1,
            'mode': 'quick' if args.quick else 'full', 'rounds': self.mode['rounds'],
            'created': datetime.datetime.now(datetime.timezone.utc).strftime(
                '%Y-%m-%d %H:%M UTC'),
            'captures': [], 'results': [], 'failed': [], 'skipped': [],
            'scaling': {}, 'multicore': {}, 'notes': [],
        }
        self.failed: dict[str, str] = {}

    # ---------------------------------------------------------- helpers
    def save(self) -> None:
        tmp = self.json_path + '.part'
        with open(tmp, 'w') as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.json_path)

    def skip(self, tool: str, reason: str, capture: str | None = None) -> None:
        entry = {'tool': tool, 'reason': reason}
        if capture:
            entry['capture'] = capture
        if entry not in self.data['skipped']:
            self.data['skipped'].append(entry)

    def tool_plan(self, capture: Capture) -> list[Tool]:
        plan = []
        for tool in self.tools:
            if not tool.available:
                continue
            if tool.id in self.failed:
                continue
            if tool.scope == 'peers' and capture.packets > self.mode['peers_up_to']:
                continue
            if tool.scope == 'files' and capture.packets > self.mode['files_up_to']:
                continue
            plan.append(tool)
        return plan

    def run_tools(self, captures: list[Capture], section: str,
                  plan_for: Callable[[Capture], list[Tool]]) -> None:
        """Round-robin over (capture, tool) pairs for the given rounds; a
        failing tool is dropped (with the reason) from the rest of the run."""
        jobs = []
        for cap in captures:
            for tool in plan_for(cap):
                target, measured, limit = cap.path, cap.packets, self.mode['limits'].get(tool.id)
                if limit is not None and cap.packets > limit:
                    target, measured = prefix_of(cap, limit)
                jobs.append({'cap': cap, 'tool': tool, 'target': target, 'measured': measured,
                             'runs': []})
        for path in {j['target'] for j in jobs}:
            warm(path)
        rounds = self.mode['rounds']
        for r in range(rounds):
            log(f'  round {r + 1}/{rounds} ({len(jobs)} runs)')
            order = jobs[r % len(jobs):] + jobs[:r % len(jobs)] if jobs else []
            for job in order:
                tool = job['tool']
                if tool.id in self.failed or job.get('failed'):
                    continue
                try:
                    res = measure_once(tool, job['target'])
                except (RuntimeError, ValueError, OSError) as error:
                    reason = shown(f'failed on {job["cap"].name}: {error}')
                    log(f'    {tool.label}: {reason}')
                    self.failed[tool.id] = reason
                    self.data['failed'].append({'tool': tool.id, 'label': tool.label,
                                                'capture': job['cap'].name,
                                                'command': self.command(tool, job),
                                                'reason': shown(str(error))})
                    job['failed'] = True
                    continue
                job['runs'].append(res)
                if self.args.verbose:
                    log(f'    {job["cap"].name:<14} {tool.label:<44} {res["seconds"]:9.3f} s '
                        f'{res["rss_mb"]:8.0f} MB')
        for job in jobs:
            if job['runs']:
                self.data['results'].append(self.summarise(job, section))
        self.save()

    def command(self, tool: Tool, job: dict) -> str:
        text = tool.command.replace('TMP', '<tmpdir>')
        return re.sub(r'\bF\b', rel(job['target']) if tool.python is False
                      else repr(rel(job['target'])), text)

    def summarise(self, job: dict, section: str) -> dict:
        tool, cap, runs = job['tool'], job['cap'], job['runs']
        secs = [r['seconds'] for r in runs]
        scale = cap.packets / job['measured'] if job['measured'] else 1.0
        extrapolated = job['measured'] < cap.packets
        full = [s * scale for s in secs]
        med = statistics.median(full)
        entry = {
            'tool': tool.id, 'label': tool.label, 'kind': tool.kind, 'section': section,
            'capture': cap.name, 'packets': cap.packets, 'command': self.command(tool, job),
            'argv': shown(' '.join(tool.argv(job['target'], '<tmpdir>'))),
            'median_s': med, 'min_s': min(full), 'max_s': max(full),
            'peak_rss_mb': statistics.median(r['rss_mb'] for r in runs),
            'peak_rss_mb_max': max(r['rss_mb'] for r in runs),
            'packets_per_s': cap.packets / med if med > 0 else None,
            'extrapolated': extrapolated, 'measured_packets': job['measured'],
            'measured_s': secs, 'process_wall_s': [r['wall'] for r in runs],
            'rounds': len(runs), 'compare_to': tool.compare, 'note': tool.note,
        }
        if extrapolated:
            entry['extrapolated_from'] = f'extrapolated from {job["measured"]:,} packets'
        for key in ('flows', 'files', 'segments'):
            if key in runs[-1]:
                entry[key] = runs[-1][key]
        if tool.id in self.idle:
            entry['idle_rss_mb'] = self.idle[tool.id]
        if tool.id in self.startup:
            entry['startup_s'] = self.startup[tool.id]
        return entry

    # ---------------------------------------------------------- sections
    def setup(self) -> None:
        global SPAWN, FLOW_DIR
        os.makedirs(RESULTS, exist_ok=True)
        FLOW_DIR = self.args.flow_dir or default_flow_dir()
        self.data['flow_files_fs'] = fs_type(FLOW_DIR)
        log(f'  flow files go to temporary folders on a {self.data["flow_files_fs"]} file '
            'system (--flow-dir to change)')
        log('peers and tools')
        SPAWN, shown = compile_c('spawn', [os.path.join(HERE, 'spawn.c')], [], libs=[])
        self.env.builds['spawn'] = shown
        if SPAWN is None:
            note = (f'benchmarks/spawn.c could not be built ({shown}): peak memory is read '
                    'from wait4() in the suite itself and includes its own size')
            log('  ' + note)
            self.data['notes'].append(note)
        self.tools = make_tools(self.env, self.mode)
        self.env.apt('tcpdump', 'tcpdump')
        for tool in self.tools:
            if not tool.available:
                log(f'  skipped: {tool.label}: {tool.reason}')
                self.skip(tool.id, tool.reason)
        self.data['machine'] = {
            'cpus': os.cpu_count(), 'python': sys.version.split()[0],
            'platform': f'{platform.system()} {platform.machine()}',
            'memory_gb': round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30,
                               1),
        }
        self.data['versions'] = dict(self.env.present)
        self.data['installed'] = list(self.env.installed)
        self.data['builds'] = dict(self.env.builds)
        self.data['unavailable'] = dict(self.env.unavailable)

    def captures(self) -> list[Capture]:
        log('captures')
        caps: list[Capture] = []
        if not self.args.no_loopback:
            cap = self.loopback()
            if cap is not None:
                caps.append(cap)
        for n in self.mode['sizes']:
            caps.append(generated(n, self.mode['concurrent'], 40, 'generated', f'gen-{fmt_name(n)}'))
        return caps

    def loopback(self) -> Capture | None:
        import loopback
        path = os.path.join(RESULTS, 'loopback.pcap')
        if 'tcpdump' in self.env.unavailable:
            reason = f'tcpdump: {self.env.unavailable["tcpdump"]}'
        else:
            log(f'  recording loopback traffic with tcpdump ({self.mode["loop_short"]:,} short '
                f'connections, {self.mode["loop_long"]} transfers of '
                f'{self.mode["loop_long_mb"]} MB)')
            try:
                info = loopback.capture(path, self.mode['loop_short'], self.mode['loop_long'],
                                        self.mode['loop_long_mb'])
            except (RuntimeError, OSError) as error:
                reason = str(error)
            else:
                packets = capgen.count_records(path)
                log(f'    {packets:,} packets, {os.path.getsize(path) / 1e6:.1f} MB; tcpdump: '
                    f'{info.get("captured", "?")} captured, '
                    f'{info.get("dropped_by_kernel", "?")} dropped by the kernel')
                info['load'] = (f'{info.pop("short")} short HTTP/1.0 connections and '
                                f'{info.pop("long")} transfers of {self.mode["loop_long_mb"]} MB '
                                f'from 127.0.0.1, {info.pop("errors")} errors')
                info.pop('bytes', None)
                info.pop('port', None)
                return Capture('loopback', path, packets, 'loopback', info)
        log(f'  no loopback capture: {reason}; going on with the generated captures')
        self.skip('loopback capture', reason)
        return None

    def measure_idle(self, tiny: str) -> None:
        """Memory of each Python tool's child with its imports only, and the
        start-up time of the external tools (on a 10-packet capture)."""
        self.idle: dict[str, float] = {}
        self.startup: dict[str, float] = {}
        for tool in self.tools:
            if not tool.available:
                continue
            try:
                if tool.python:
                    argv = tool.argv(tiny, '') + ['--idle']
                    res = run_child(argv, False)
                    if res['rc'] == 0:
                        self.idle[tool.id] = res['rss_mb']
                elif tool.kind == 'peer':
                    walls = [measure_once(tool, tiny)['wall'] for _ in range(3)]
                    self.startup[tool.id] = statistics.median(walls)
            except (RuntimeError, ValueError, OSError):
                pass

    def load(self, what: str) -> None:
        """Record the load average: other work on the machine shows up here."""
        try:
            self.data.setdefault('load_average', []).append(
                [what, *[round(x, 2) for x in os.getloadavg()]])
        except OSError:
            pass

    def compare(self, caps: list[Capture]) -> None:
        for cap in caps:
            self.load(f'before {cap.name}')
            log(f'compare: {cap.name} ({cap.packets:,} packets, '
                f'{os.path.getsize(cap.path) / 1e6:,.0f} MB)')
            self.run_tools([cap], 'compare', self.tool_plan)

    def concurrency(self) -> None:
        packets = self.mode['conc_packets']
        caps = []
        log(f'scaling: concurrent flows at {packets:,} packets')
        for flows in self.mode['conc_flows']:
            conns = max(1, flows // 2)
            per_conn = packets // conns
            per_conn -= per_conn % 2
            caps.append(generated(conns * per_conn, conns, per_conn, 'concurrency',
                                  f'open-{fmt_name(flows)}'))
        self.data['captures'] += [c.as_json() for c in caps]
        self.save()
        self.load('before the open-flow series')
        wanted = {'extract', 'c-core'}
        self.run_tools(caps, 'concurrency',
                       lambda cap: [t for t in self.tools if t.id in wanted and t.available
                                    and t.id not in self.failed])

    def multicore(self) -> None:
        n_threads = max(2, os.cpu_count() or 2)
        cap = generated(self.mode['threads_capture'], self.mode['concurrent'], 40, 'generated',
                        f'gen-{fmt_name(self.mode["threads_capture"])}')
        self.load('before multi-core')
        log(f'multi-core: {n_threads} threads, {cap.name}')
        argv = [PY, rel(TASKS), 'threads', rel(cap.path), '--threads', str(n_threads),
                '--rounds', str(self.mode['rounds'])]
        res = run_child(argv, False)
        if res['rc'] != 0:
            self.data['multicore'] = {'error': shown(res['stderr'])}
            log(f'  failed: {res["stderr"]}')
            return
        out = parse_task(res['stdout'])
        seq, thr = statistics.median(out['sequential']), statistics.median(out['threaded'])
        self.data['multicore'] = {
            'capture': cap.name, 'packets': cap.packets, 'threads': n_threads,
            'cpus': os.cpu_count(),
            'command': f'{n_threads} threading.Thread each calling '
                       f'pcapkit_tcpflow.extract({rel(cap.path)!r}, nofile=True, trace=True, '
                       'tcp=True, flow_files=False), against the same calls one after the '
                       'other (benchmarks/tasks.py task_threads)',
            'sequential_s': out['sequential'], 'threaded_s': out['threaded'],
            'sequential_median_s': seq, 'threaded_median_s': thr, 'speedup': seq / thr,
            'sequential_cpu_s': out.get('sequential_cpu'), 'threaded_cpu_s': out.get('threaded_cpu'),
            'threaded_cores_busy': statistics.median(
                c / w for c, w in zip(out['threaded_cpu'], out['threaded'])),
            'c_loop_share': self.c_share(cap.name),
            'peak_rss_mb': res['rss_mb'],
        }
        log(f'  sequential {seq:.2f} s, threaded {thr:.2f} s: speedup {seq / thr:.2f}x')
        self.save()

    def c_share(self, capture: str) -> float | None:
        """Share of extract()'s time that the C core alone takes (the part that
        runs without the GIL) on a capture, from the comparison rows."""
        rows = {r['tool']: r for r in self.data['results']
                if r['capture'] == capture and r['section'] == 'compare'}
        if 'extract' in rows and 'c-core' in rows:
            return rows['c-core']['median_s'] / rows['extract']['median_s']
        return None

    def scaling_summary(self) -> None:
        results = self.data['results']
        caps = {c['name']: c for c in self.data['captures']}

        def rows(section: str, tool: str) -> dict[str, dict]:
            return {r['capture']: r for r in results
                    if r['section'] == section and r['tool'] == tool}

        ext, core = rows('compare', 'extract'), rows('compare', 'c-core')
        floor = rows('compare', 'pcap-loop')
        series = []
        for name, r in sorted(ext.items(), key=lambda kv: kv[1]['packets']):
            if caps.get(name, {}).get('kind') != 'generated':
                continue
            series.append({
                'capture': name, 'packets': r['packets'], 'one_way_flows':
                r.get('flows', caps[name].get('one_way_flows')),
                'median_s': r['median_s'], 'min_s': r['min_s'],
                'max_s': r['max_s'], 'ns_per_packet': r['median_s'] / r['packets'] * 1e9,
                'peak_rss_mb': r['peak_rss_mb'],
                'c_core_median_s': core.get(name, {}).get('median_s'),
                'c_core_peak_rss_mb': core.get(name, {}).get('peak_rss_mb'),
                'floor_median_s': floor.get(name, {}).get('median_s'),
                'floor_peak_rss_mb': floor.get(name, {}).get('peak_rss_mb')})
        ext, core = rows('concurrency', 'extract'), rows('concurrency', 'c-core')
        conc = []
        for name, r in sorted(ext.items(), key=lambda kv: caps[kv[0]]['peak_open_flows']):
            c = caps[name]
            conc.append({
                'capture': name, 'open_flows': c['peak_open_flows'],
                'connections': c['connections'], 'packets_per_connection':
                c['packets_per_connection'], 'packets': r['packets'],
                'median_s': r['median_s'], 'min_s': r['min_s'], 'max_s': r['max_s'],
                'ns_per_packet': r['median_s'] / r['packets'] * 1e9,
                'peak_rss_mb': r['peak_rss_mb'],
                'c_core_median_s': core.get(name, {}).get('median_s'),
                'c_core_peak_rss_mb': core.get(name, {}).get('peak_rss_mb')})
        fits: dict[str, Any] = {}
        big = [s for s in series if s['packets'] >= 10**5]
        if len(big) >= 2:
            fits['time_exponent'] = loglog_slope([s['packets'] for s in big],
                                                 [s['median_s'] for s in big])
            fits['time_exponent_range'] = f'{big[0]["packets"]:,} to {big[-1]["packets"]:,}'
            fits['bytes_per_packet'] = lin_slope([s['packets'] for s in big],
                                                 [s['peak_rss_mb'] * 2**20 for s in big])
            if all(s['c_core_peak_rss_mb'] for s in big):
                fits['c_core_bytes_per_packet'] = lin_slope(
                    [s['packets'] for s in big], [s['c_core_peak_rss_mb'] * 2**20 for s in big])
        many = [c for c in conc if c['open_flows'] >= 10**3]
        if len(many) >= 2:
            fits['bytes_per_open_flow'] = lin_slope([c['open_flows'] for c in many],
                                                    [c['peak_rss_mb'] * 2**20 for c in many])
            if all(c['c_core_peak_rss_mb'] for c in many):
                fits['c_core_bytes_per_open_flow'] = lin_slope(
                    [c['open_flows'] for c in many], [c['c_core_peak_rss_mb'] * 2**20
                                                      for c in many])
            fits['open_flow_range'] = f'{many[0]["open_flows"]:,} to {many[-1]["open_flows"]:,}'
            fits['time_ratio_most_to_fewest_open_flows'] = conc[-1]['median_s'] / \
                conc[0]['median_s']
            fits['seconds_per_flow'] = lin_slope([c['open_flows'] for c in many],
                                                 [c['median_s'] for c in many])
            if all(c['c_core_median_s'] for c in many):
                fits['c_core_seconds_per_flow'] = lin_slope(
                    [c['open_flows'] for c in many], [c['c_core_median_s'] for c in many])
        self.data['scaling'] = {'packets': series, 'concurrency': conc, 'fits': fits,
                                'concurrent_connections': self.mode['concurrent'],
                                'concurrency_packets': self.mode['conc_packets']}
        self.save()

    def run(self) -> int:
        began = time.perf_counter()
        self.setup()
        caps = self.captures()
        self.data['captures'] = [c.as_json() for c in caps]
        self.save()
        tiny_src = next(c for c in caps if c.kind == 'generated')
        tiny, _ = prefix_of(tiny_src, 10)
        self.measure_idle(tiny)
        if 'compare' in self.args.sections:
            self.compare(caps)
        if 'concurrency' in self.args.sections:
            self.concurrency()
        self.scaling_summary()
        if 'multicore' in self.args.sections:
            self.multicore()
        self.load('end')
        self.data['duration_s'] = time.perf_counter() - began
        self.save()
        plot_path = PLOT if not self.args.quick else os.path.join(RESULTS, 'scaling.png')
        try:
            plot(self.data, plot_path)
            self.data['plot'] = rel(plot_path)
            log(f'plot: {rel(plot_path)}')
        except ImportError as error:
            self.skip('plot', f'matplotlib is missing ({error})')
            log(f'no plot: matplotlib is missing ({error})')
        self.save()
        log(f'results: {rel(self.json_path)} ({self.data["duration_s"] / 60:.1f} minutes)\n')
        print(tables(self.data))
        return 0


# ------------------------------------------------------------------ maths

def loglog_slope(xs: list[float], ys: list[float]) -> float:
    return lin_slope([math.log(x) for x in xs], [math.log(y) for y in ys])


def lin_slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float('nan')


# ------------------------------------------------------------------- plot

def plot(data: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    series = data['scaling'].get('packets', [])
    conc = data['scaling'].get('concurrency', [])
    import matplotlib.ticker  # noqa: F401 - formatters below
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4))
    panels = [
        (axes[0], series, 'packets', 'packets in the capture',
         f'extract(), {data["scaling"].get("concurrent_connections", "?"):,} connections open'),
        (axes[1], conc, 'open_flows', 'one-way flows open at once',
         f'extract(), {data["scaling"].get("concurrency_packets", 0):,} packets'),
    ]
    for ax, rows, key, xlabel, title in panels:
        if not rows:
            ax.set_axis_off()
            continue
        xs = [r[key] for r in rows]
        sec = ax
        mem = ax.twinx()
        sec.loglog(xs, [r['median_s'] for r in rows], 'o-', color='tab:blue',
                   label='extract() seconds (median)')
        sec.fill_between(xs, [r['min_s'] for r in rows], [r['max_s'] for r in rows],
                         color='tab:blue', alpha=0.15)
        if all(r.get('c_core_median_s') for r in rows):
            sec.loglog(xs, [r['c_core_median_s'] for r in rows], 'o:', color='tab:blue',
                       alpha=0.6, label='C core alone, seconds')
        if key == 'packets' and all(r.get('floor_median_s') for r in rows):
            sec.loglog(xs, [r['floor_median_s'] for r in rows], 'x--', color='grey',
                       label='libpcap loop (floor), seconds')
        mem.loglog(xs, [r['peak_rss_mb'] for r in rows], 's-', color='tab:orange',
                   label='extract() peak MB (whole process)')
        if all(r.get('c_core_peak_rss_mb') for r in rows):
            mem.loglog(xs, [r['c_core_peak_rss_mb'] for r in rows], 's:', color='tab:orange',
                       alpha=0.6, label='C core alone, peak MB')
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f'{v:g}')
        for axis in (sec.yaxis, mem.yaxis):
            axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        sec.set_xlabel(xlabel)
        sec.set_ylabel('seconds', color='tab:blue')
        mem.set_ylabel('peak resident memory, MB', color='tab:orange')
        sec.set_title(title, fontsize=10)
        sec.grid(True, which='major', alpha=0.3)
        handles = sec.get_legend_handles_labels()
        more = mem.get_legend_handles_labels()
        sec.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, ncol=2,
                   loc='upper center', bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.suptitle(f'pcapkit_tcpflow.extract() scaling ({data["machine"]["cpus"]} cores, '
                 f'Python {data["machine"]["python"]}; medians of {data["rounds"]} rounds)',
                 fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------- tables

def num(x: float | None, digits: int = 3) -> str:
    if x is None:
        return 'n/a'
    if x == 0:
        return '0'
    if abs(x) >= 10 ** digits:
        return f'{x:,.0f}'
    return f'{x:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))}f}'


def ratio(x: float) -> str:
    return f'{x:,.0f}x' if x >= 100 else f'{x:.1f}x' if x >= 1 else f'{x:.2f}x'


def rst_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = '  '.join('=' * w for w in widths)
    out = [line, '  '.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), line]
    for r in rows:
        out.append('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    out.append(line)
    return '\n'.join(out)


def heading(text: str, char: str = '-') -> str:
    return f'{text}\n{char * len(text)}\n'


def tables(data: dict) -> str:
    out: list[str] = []
    res = [r for r in data['results'] if r['section'] == 'compare']
    caps = [c for c in data['captures'] if c['kind'] in ('loopback', 'generated')
            and any(r['capture'] == c['name'] for r in res)]
    by = {(r['capture'], r['tool']): r for r in res}
    m = data.get('machine', {})
    out.append(heading('pcapkit-tcpflow benchmarks', '='))
    out.append(f'{data["mode"]} run of {data["created"]}, {data.get("duration_s", 0) / 60:.0f} '
               f'minutes; {m.get("cpus")} cores, {m.get("memory_gb")} GiB, Python '
               f'{m.get("python")}; medians of {data["rounds"]} alternating rounds.  Times: '
               'Python rows time the call inside the child process (start-up and imports '
               'excluded); the C rows time their own loop; tshark and tcpflow rows are the '
               'whole process.  Memory: peak RSS of the whole child process.  "e": '
               'extrapolated per packet from a prefix of the capture.\n')
    out.append(heading('Captures'))
    rows = []
    for c in caps:
        what = (f'{c.get("load")}; tcpdump: {c.get("dropped_by_kernel", "?")} packets '
                'dropped by the kernel') if c['kind'] == 'loopback' else (
            f'{c["concurrent_connections"]:,} connections open at a time, '
            f'{c["packets_per_connection"]} packets each')
        rows.append([c['name'], f'{c["packets"]:,}', f'{c["bytes"] / 1e6:,.1f}',
                     f'``{c["path"]}``', what or ''])
    out.append(rst_table(['capture', 'packets', 'MB', 'file', 'traffic'], rows) + '\n')

    # --- ratios: ours over the floor
    out.append(heading('Ours over the floor'))
    rows = []
    for c in caps:
        f = by.get((c['name'], 'pcap-loop'))
        rd = by.get((c['name'], 'read'))
        e = by.get((c['name'], 'extract'))
        if e is None:
            continue
        row = [c['name'], num(f['median_s']) if f else 'n/a', num(rd['median_s']) if rd else 'n/a',
               num(e['median_s']), ratio(e['median_s'] / f['median_s']) if f else 'n/a',
               ratio(e['median_s'] / rd['median_s']) if rd else 'n/a']
        for tool in ('c-core', 'extract-files', 'flows'):
            r = by.get((c['name'], tool))
            row.append(ratio(r['median_s'] / f['median_s']) if r and f else 'n/a')
        ef, ff = by.get((c['name'], 'extract-files')), by.get((c['name'], 'files-floor'))
        row.append(ratio(ef['median_s'] / (f['median_s'] + ff['median_s']))
                   if ef and ff and f else 'n/a')
        row.append(ratio(ff['median_s'] / e['median_s']) if ff else 'n/a')
        rows.append(row)
    out.append(rst_table(['capture', 'floor s', 'read s', 'extract() s', 'extract() / floor',
                          'extract() / read', 'C core / floor', 'files / floor',
                          'flows() / floor', 'files / (floor + file floor)',
                          'file floor / extract()'], rows) + '\n')
    out.append('floor: the bare libpcap loop; read: a plain read of the file; files: '
               'extract() writing a pcap file per flow; file floor: writing the same flow '
               'files and nothing else (benchmarks/write_files.c: open, one write, close '
               'each); C core: the same C loop without Python (csrc/tests/trace_file.c).\n')

    # --- ratios: peers over ours
    out.append(heading("Each peer's time over ours"))
    peers = []
    for r in res:
        if r['kind'] == 'peer' and r['tool'] not in peers:
            peers.append(r['tool'])
    rows = []
    peer_caps = [c for c in caps if any(by.get((c['name'], p)) for p in peers)]
    for p in peers:
        sample = next(r for r in res if r['tool'] == p)
        row = [sample['label'], sample['compare_to'] or '']
        for c in peer_caps:
            r = by.get((c['name'], p))
            ours = by.get((c['name'], r['compare_to'])) if r else None
            if r is None or ours is None:
                row.append('n/a')
            else:
                row.append(ratio(r['median_s'] / ours['median_s']) +
                           (' e' if r['extrapolated'] else ''))
        rows.append(row)
    out.append(rst_table(['peer', 'against ours'] + [c['name'] for c in peer_caps], rows)
               + '\n')
    out.append('against ours: extract = extract() without output; extract-files = '
               'extract() writing per-flow pcap files; trace-ours = the drop-in '
               'TCP().trace() on the same Packet records.\n')

    # --- per capture
    for c in caps:
        rows = []
        for r in sorted((r for r in res if r['capture'] == c['name']),
                        key=lambda r: ('ours', 'floor', 'peer').index(r['kind'])):
            mb = num(r['peak_rss_mb'], 3)
            if 'idle_rss_mb' in r:
                mb += f' ({num(r["idle_rss_mb"], 2)})'
            rows.append([r['label'], num(r['median_s']) + (' e' if r['extrapolated'] else ''),
                         f'{num(r["min_s"])} - {num(r["max_s"])}', mb,
                         f'{r["packets_per_s"]:,.0f}' if r['packets_per_s'] else 'n/a',
                         r.get('extrapolated_from', '')])
        out.append(heading(f'{c["name"]}: {c["packets"]:,} packets'))
        out.append(rst_table(['run', 'median s', 'min - max s', 'peak MB (idle)', 'packets/s',
                              'note'], rows) + '\n')
    out.append('peak MB (idle): the child process\'s peak RSS, and in brackets the same '
               'child with its imports only.\n')

    # --- commands
    out.append(heading('Commands'))
    rows, seen = [], set()
    for r in res:
        if r['tool'] in seen:
            continue
        seen.add(r['tool'])
        cmd = re.sub(r"'?benchmarks/results/[^' ]+\.pcap'?", 'F', r['command'])
        extra = f'; start-up {num(r["startup_s"])} s' if 'startup_s' in r else ''
        rows.append([r['label'], f'``{cmd}``', (r['note'] or '') + extra])
    out.append(rst_table(['run', 'command (F: the capture)', 'note'], rows) + '\n')
    if data.get('builds'):
        out.append('Built by the suite: ' + '; '.join(f'``{cmd}``' for cmd in
                                                   data['builds'].values()) + '.\n')

    # --- scaling
    sc = data.get('scaling', {})
    if sc.get('packets'):
        out.append(heading(f'Scaling with packets ({sc.get("concurrent_connections", 0):,} '
                           'connections open at a time)'))
        rows = [[f'{s["packets"]:,}', f'{s["one_way_flows"]:,}', num(s['median_s']),
                 f'{s["ns_per_packet"]:,.0f}', num(s['peak_rss_mb']),
                 num(s['c_core_median_s']), num(s['c_core_peak_rss_mb']),
                 num(s['floor_median_s'])] for s in sc['packets']]
        out.append(rst_table(['packets', 'flows', 'extract() s', 'ns/packet', 'peak MB',
                              'C core s', 'C core MB', 'floor s'], rows) + '\n')
    if sc.get('concurrency'):
        out.append(heading(f'Scaling with open flows ({sc.get("concurrency_packets", 0):,} '
                           'packets)'))
        rows = [[f'{s["open_flows"]:,}', f'{s["connections"]:,}',
                 f'{s["packets_per_connection"]:,}', num(s['median_s']),
                 f'{s["ns_per_packet"]:,.0f}', num(s['peak_rss_mb']),
                 num(s['c_core_median_s']), num(s['c_core_peak_rss_mb'])]
                for s in sc['concurrency']]
        out.append(rst_table(['open flows', 'connections', 'packets/conn.', 'extract() s',
                              'ns/packet', 'peak MB', 'C core s', 'C core MB'], rows) + '\n')
        out.append('Every connection of a capture is open at once (all flows are open '
                   'together, then all close), so open flows = one-way flows.\n')
    fits = sc.get('fits', {})
    if fits:
        lines = []
        if 'time_exponent' in fits:
            lines.append(f'- time ~ packets^{fits["time_exponent"]:.2f} '
                         f'({fits["time_exponent_range"]} packets; 1.00 is linear)')
        if 'bytes_per_packet' in fits:
            lines.append(f'- peak memory: {fits["bytes_per_packet"]:,.0f} bytes per packet '
                         'for the whole process (20 packets a flow), '
                         f'{fits.get("c_core_bytes_per_packet", float("nan")):,.0f} for the C '
                         'core alone')
        if 'bytes_per_open_flow' in fits:
            lines.append(f'- peak memory per open flow ({fits["open_flow_range"]} open flows, '
                         f'packets fixed, so frame numbers are constant): '
                         f'{fits["bytes_per_open_flow"]:,.0f} bytes for the whole process, '
                         f'{fits.get("c_core_bytes_per_open_flow", float("nan")):,.0f} for '
                         'the C core alone')
            lines.append(f'- time with the most open flows over time with the fewest: '
                         f'{fits["time_ratio_most_to_fewest_open_flows"]:.2f}x; each flow adds '
                         f'{fits["seconds_per_flow"] * 1e6:.2f} us '
                         f'({fits.get("c_core_seconds_per_flow", float("nan")) * 1e6:.2f} us in '
                         'the C core alone)')
        out.append(heading('Fits') + '\n' + '\n'.join(lines) + '\n')
    mc = data.get('multicore', {})
    if mc.get('speedup'):
        out.append(heading('Threads'))
        out.append(rst_table(
            ['capture', 'threads', 'one after the other s', 'at once s', 'speedup'],
            [[mc['capture'], str(mc['threads']), num(mc['sequential_median_s']),
              num(mc['threaded_median_s']), f'{mc["speedup"]:.2f}x']]) + '\n')
        out.append(f'{mc["command"]}; {mc["cpus"]} cores.  CPU time over wall time while the '
                   f'threads ran: {mc.get("threaded_cores_busy", 0):.2f} cores busy.' +
                   (f'  The C loop (no GIL) is {mc["c_loop_share"]:.0%} of one extract() '
                    'call; the rest (building the Python result) holds the GIL.'
                    if mc.get('c_loop_share') else '') + '\n')
    if data.get('load_average'):
        out.append(heading('Load'))
        out.append('Load average (1, 5, 15 minutes) of the machine during the run: ' +
                   '; '.join(f'{w}: {a}, {b}, {c}' for w, a, b, c in data['load_average']) +
                   '.  Above the number of cores, other work competed for the CPUs.\n')
        if data.get('flow_files_fs'):
            out.append(f'Flow files were written to a {data["flow_files_fs"]} file system.\n')
    if data.get('failed') or data.get('skipped'):
        out.append(heading('Skipped and failed'))
        for s in data.get('skipped', []):
            out.append(f'- skipped: {s["tool"]}: {s["reason"]}')
        for s in data.get('failed', []):
            out.append(f'- failed: {s["label"]} on {s["capture"]}: {s["reason"]}')
        out.append('')
    if data.get('installed') or data.get('versions'):
        out.append(heading('Versions'))
        out.append(', '.join(f'{k} {v}' for k, v in sorted(data.get('versions', {}).items())) +
                   '.  Installed by this run: ' + (', '.join(data.get('installed', [])) or
                                                  'nothing') + '.\n')
    return '\n'.join(out)


# ------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 2)[2])
    parser.add_argument('--quick', action='store_true', help='a scaled-down run')
    parser.add_argument('--rounds', type=int, default=0, help='rounds (default: 5, quick: 2)')
    parser.add_argument('--table', action='store_true',
                        help='print the tables of an earlier run and exit')
    parser.add_argument('--json', default=None, help='results file (default: '
                        'benchmarks/results/results.json, quick: results-quick.json)')
    parser.add_argument('--no-install', action='store_true', help='install nothing')
    parser.add_argument('--no-loopback', action='store_true',
                        help='no tcpdump capture of loopback traffic')
    parser.add_argument('--sections', default='compare,concurrency,multicore',
                        help='comma-separated: compare, concurrency, multicore')
    parser.add_argument('--flow-dir', default=None,
                        help='where flow files are written (default: a memory-backed '
                             'temporary folder when there is one)')
    parser.add_argument('-v', '--verbose', action='store_true', help='print every run')
    args = parser.parse_args()
    if args.json is None:
        args.json = os.path.join(RESULTS, 'results-quick.json' if args.quick else 'results.json')
    if args.table:
        if not os.path.exists(args.json):
            print(f'no results yet: {rel(args.json)}; run python3 benchmarks/run.py first')
            return 1
        with open(args.json) as f:
            print(tables(json.load(f)))
        return 0
    args.sections = set(args.sections.split(','))
    return Suite(args).run()


if __name__ == '__main__':
    sys.exit(main())
