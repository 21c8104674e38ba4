#!/usr/bin/env python3
"""Sizes: the release binary (one multi-call `custos`, every check a link to it), the whole
suite as `make install` lays it out (the binary, links, man pages, definitions, docs), and the
Debian package (xz) that `make deb` builds.
"""
import os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import record  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def tree_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def run(bindir):
    binaries = {"custos": os.path.getsize(os.path.join(bindir, "custos"))}
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["make", "-s", "-C", ROOT, "install-files", f"DESTDIR={d}", f"BINARIES={bindir}"],
                       check=True, stdout=subprocess.DEVNULL)
        installed = tree_bytes(d)
        out = subprocess.run(["sh", "pkg/deb.sh", bindir, os.path.join(d, "deb")], cwd=ROOT, check=True,
                             env=dict(os.environ, DEB_COMPRESS="xz"), stdout=subprocess.PIPE, text=True).stdout
        deb = os.path.getsize(out.strip())
    record("size", "binaries", binaries)
    record("size", "installed_bytes", installed)
    record("size", "deb_bytes", deb)
    print(f"  custos {binaries['custos']} bytes; installed {installed}; .deb {deb}")


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
