"""A real capture: TCP traffic on the loopback interface recorded with tcpdump.

    python benchmarks/loopback.py OUT.pcap [--short N] [--long M] [--long-mb S]

Starts a small threaded HTTP server on 127.0.0.1 (an ephemeral port), starts
``tcpdump -i lo`` filtered on that port, then runs a bounded load: N short
connections (one GET of a 1 KB page each, HTTP/1.0, the server closes) from
a few client threads, and M long transfers of S MB each.  Every count is
fixed, every socket has a timeout and the whole load has a deadline, so it
stops by itself.  tcpdump is stopped with SIGINT (it flushes and prints its
counters) and the capture is checked to be non-empty.  Only 127.0.0.1 is
ever contacted.
"""
from __future__ import annotations

import argparse
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SMALL = b'<html>' + b'z' * 1000 + b'</html>\n'
CHUNK = b'q' * 65536
DEADLINE_S = 120.0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith('/big/'):
            size = min(int(self.path[5:]), 256 << 20)
            self.send_response(200)
            self.send_header('Content-Length', str(size))
            self.end_headers()
            while size > 0:
                part = CHUNK[:min(size, len(CHUNK))]
                self.wfile.write(part)
                size -= len(part)
            return
        self.send_response(200)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(SMALL)))
        self.end_headers()
        self.wfile.write(SMALL)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _get(port: int, path: str) -> int:
    """One HTTP/1.0 GET on its own connection; returns the bytes received."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(f'GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'.encode())
        total = 0
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return total
            total += len(data)


def run_load(port: int, short: int, long: int, long_bytes: int, threads: int = 8) -> dict:
    """The bounded load against 127.0.0.1:port; returns counts."""
    deadline = time.monotonic() + DEADLINE_S
    done = {'short': 0, 'long': 0, 'bytes': 0, 'errors': 0}
    lock = threading.Lock()

    def job(path: str, kind: str) -> None:
        if time.monotonic() > deadline:
            return
        try:
            n = _get(port, path)
        except OSError:
            with lock:
                done['errors'] += 1
            return
        with lock:
            done[kind] += 1
            done['bytes'] += n

    with ThreadPoolExecutor(max_workers=threads + long) as pool:
        futures = [pool.submit(job, f'/big/{long_bytes}', 'long') for _ in range(long)]
        futures += [pool.submit(job, '/', 'short') for _ in range(short)]
        for future in futures:
            future.result()
    return done


def capture(out: str, short: int = 5000, long: int = 4, long_mb: int = 16) -> dict:
    """Record the load with tcpdump into `out`.  Returns a dict with the
    counters, or raises RuntimeError with the reason it could not capture."""
    tcpdump = shutil.which('tcpdump')
    if tcpdump is None:
        raise RuntimeError('tcpdump is not installed')
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    port = server.server_address[1]
    serve = threading.Thread(target=server.serve_forever, daemon=True)
    serve.start()
    tmp = out + '.part'
    # -Z root: keep the privileges needed to write where we are told;
    # -U: write each packet out at once; -B: a larger kernel buffer (KiB).
    cmd = [tcpdump, '-i', 'lo', '-n', '-U', '-B', '32768', '-Z', 'root', '-w', tmp,
           'tcp', 'port', str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    try:
        # wait until tcpdump says it listens (or dies)
        start = time.monotonic()
        assert proc.stderr is not None
        while True:
            line = proc.stderr.readline()
            if line:
                err_lines.append(line.strip())
            if 'listening on' in line:
                break
            if not line and proc.poll() is not None or time.monotonic() - start > 20:
                raise RuntimeError('tcpdump could not capture on lo: '
                                   + ('; '.join(err_lines) or f'exit status {proc.poll()}'))
        reader = threading.Thread(target=lambda: err_lines.extend(
            ln.strip() for ln in proc.stderr), daemon=True)  # type: ignore[union-attr]
        reader.start()
        began = time.monotonic()
        counts = run_load(port, short, long, long_mb << 20)
        counts['load_seconds'] = round(time.monotonic() - began, 2)
        time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.shutdown()
        server.server_close()
    reader.join(timeout=5)
    for line in err_lines:
        for key in ('captured', 'received by filter', 'dropped by kernel'):
            if line.endswith('packets ' + key) or line.endswith('packet ' + key):
                counts[key.replace(' ', '_')] = int(line.split()[0])
    if proc.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f'tcpdump exited with status {proc.returncode}: '
                           + '; '.join(err_lines))
    size = os.path.getsize(tmp) if os.path.exists(tmp) else 0
    if size <= 24:
        raise RuntimeError('tcpdump wrote an empty capture: ' + '; '.join(err_lines))
    os.replace(tmp, out)
    counts['port'] = port
    counts['bytes_in_file'] = size
    counts['command'] = ' '.join(['tcpdump'] + cmd[1:-4] + ['OUT.pcap', 'tcp', 'port', 'PORT'])
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out')
    parser.add_argument('--short', type=int, default=5000)
    parser.add_argument('--long', type=int, default=4)
    parser.add_argument('--long-mb', type=int, default=16)
    args = parser.parse_args()
    try:
        info = capture(args.out, args.short, args.long, args.long_mb)
    except RuntimeError as error:
        print(f'no loopback capture: {error}')
        return 1
    print(info)
    return 0


if __name__ == '__main__':
    sys.exit(main())
