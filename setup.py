"""Build of the C extension pcapkit_tcpflow._core.

Environment variables:
  PCAPKIT_TCPFLOW_WERROR=1    warnings are errors (CI sets it)
  PCAPKIT_TCPFLOW_SANITIZE=1  build with AddressSanitizer and UBSan
  PCAPKIT_TCPFLOW_DEBUG=1     no optimisation, debug symbols, assertions
"""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
CORE = sorted(str(p.relative_to(HERE)) for p in (HERE / 'csrc' / 'core').glob('*.c'))
BINDING = sorted(str(p.relative_to(HERE)) for p in (HERE / 'csrc' / 'binding').glob('*.c'))
HEADERS = sorted(str(p.relative_to(HERE)) for p in (HERE / 'csrc').rglob('*.h'))


def _flag(name: str) -> bool:
    return os.environ.get(name, '') not in ('', '0')


def _libpcap() -> tuple[list[str], list[str]]:
    """Compiler and linker flags for libpcap, from pkg-config or pcap-config."""
    for cmd in (['pkg-config', '--cflags', '--libs', 'libpcap'], ['pcap-config', '--cflags', '--libs']):
        if shutil.which(cmd[0]):
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode == 0:
                flags = shlex.split(out.stdout)
                return [f for f in flags if not f.startswith('-l') and not f.startswith('-L')], \
                    [f for f in flags if f.startswith('-l') or f.startswith('-L')]
    if Path('/usr/include/pcap/pcap.h').exists():
        return [], ['-lpcap']
    sys.exit('libpcap headers not found: install libpcap-dev (Debian/Ubuntu) or libpcap-devel')


PCAP_CFLAGS, PCAP_LIBS = _libpcap()

compile_args = ['-std=c11', '-Wall', '-Wextra', '-Wshadow', '-Wstrict-prototypes',
                '-Wno-missing-field-initializers', '-Wno-cast-function-type']
link_args = []
if _flag('PCAPKIT_TCPFLOW_WERROR'):
    compile_args.append('-Werror')
if _flag('PCAPKIT_TCPFLOW_DEBUG'):
    compile_args += ['-O0', '-g', '-UNDEBUG']
if _flag('PCAPKIT_TCPFLOW_SANITIZE'):
    san = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined',
           '-fno-omit-frame-pointer', '-g']
    compile_args += san
    link_args += san

setup(
    ext_modules=[
        Extension(
            'pcapkit_tcpflow._core',
            sources=CORE + BINDING,
            depends=HEADERS,
            include_dirs=['csrc/core'],
            extra_compile_args=compile_args + PCAP_CFLAGS,
            extra_link_args=link_args + PCAP_LIBS,
        ),
    ],
)
