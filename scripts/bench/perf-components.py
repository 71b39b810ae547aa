#!/usr/bin/env python3
"""Groups a `perf report --no-children --sort dso,sym -g none` of the service into components.

Usage: perf report -i perf.data --no-children --sort dso,sym --stdio -g none | scripts/bench/perf-components.py
JIT frames need the service started with DOTNET_PerfMapEnabled=1 (and DOTNET_EnableWriteXorExecute=0 so
perf finds the code in the perf map). Prints the share of samples per component, largest first.
"""
import re
import sys

RULES = [  # (component, test on "dso sym"), first match wins
    ("kernel: scheduler (context switches, sched_yield)", lambda d, s: d == "[kernel.kallsyms]" and re.search(r"finish_task_switch|sched_yield|__schedule|_raw_spin_unlock_irqrestore|schedule|futex|irqentry_exit|rseq", s)),
    ("kernel: network (TCP, epoll, syscalls)", lambda d, s: d == "[kernel.kallsyms]"),
    ("thread pool (spin-wait, dispatch)", lambda d, s: re.search(r"LowLevelLifoSemaphore|ThreadPoolWorkQueue|PortableThreadPool|WorkerThread|SpinWait|__sched_yield", s)),
    ("RocksDB (write-behind)", lambda d, s: "rocksdb" in d or "rocksdb::" in s),
    ("engine (ReadStates.Core)", lambda d, s: "[ReadStates.Core]" in s),
    ("service edge (ReadStates: API, mapping)", lambda d, s: re.search(r"\[ReadStates\]", s)),
    ("protobuf", lambda d, s: "[Google.Protobuf]" in s),
    ("gRPC server (Grpc.AspNetCore)", lambda d, s: "[Grpc." in s),
    ("Kestrel HTTP/2", lambda d, s: "Kestrel" in s),
    ("ASP.NET Core hosting, routing, http", lambda d, s: "[Microsoft.AspNetCore" in s or "[Microsoft.Extensions" in s),
    ("pipelines, sockets", lambda d, s: "[System.IO.Pipelines]" in s or "[System.Net" in s or "libSystem.Native" in d),
    ("runtime (coreclr, GC, JIT, stubs)", lambda d, s: d in ("libcoreclr.so", "libclrjit.so") or s.startswith("stub ") or "[System.Private.CoreLib]" in s or "CastHelpers" in s),
    ("libc", lambda d, s: d.startswith("libc") or d.startswith("ld-linux")),
]

totals = {}
line_re = re.compile(r"^\s*([\d.]+)%\s+(\[JIT\] tid \d+|\S+)\s+\[[.k]\]\s+(.*)$")
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
    for name, test in RULES:
        if test(dso, sym):
            break
    else:
        name = "other (" + dso + ")"
    totals[name] = totals.get(name, 0.0) + pct

for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {pct:.1f}% |")
