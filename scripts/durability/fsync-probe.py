#!/usr/bin/env python3
"""fsync / fdatasync latency of a directory's filesystem: 2,000 appends of 512 bytes, each synced.
Usage: python3 scripts/durability/fsync-probe.py [DIR ...]   (default: /tmp and the current directory)"""
import os, sys, time, statistics

for directory in sys.argv[1:] or ["/tmp", "."]:
    path = os.path.join(directory, "fsync-probe.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for name, sync in (("fdatasync", os.fdatasync), ("fsync", os.fsync)):
            lat = []
            for _ in range(2000):
                os.write(fd, b"x" * 512)
                t = time.perf_counter()
                sync(fd)
                lat.append((time.perf_counter() - t) * 1e6)
            lat.sort()
            print(f"{directory} {name}: p50 {lat[len(lat) // 2]:.0f} us, p99 {lat[int(len(lat) * .99)]:.0f} us, "
                  f"max {lat[-1]:.0f} us, mean {statistics.mean(lat):.0f} us")
    finally:
        os.close(fd)
        os.unlink(path)
