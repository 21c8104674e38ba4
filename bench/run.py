#!/usr/bin/env python3
"""make bench: runs the benchmark sections against the harness' throwaway servers, records
target/bench/results.json, and writes BENCHMARKS.md from bench/BENCHMARKS.md.in.

    custos-harness run -- python3 bench/run.py BINDIR [SECTION...]

Sections: machine size build host postgres web rabbitmq zulip hostcost scale (default: all). A section run
alone replaces its own results and keeps the others'.
"""
import importlib, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

SECTIONS = ["machine", "size", "build", "host", "postgres", "web", "rabbitmq", "zulip", "hostcost", "scale"]


def main():
    bindir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release")
    wanted = sys.argv[2:] or SECTIONS
    for name in wanted:
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name}; known: {' '.join(SECTIONS)}")
        start = time.monotonic()
        print(f"== {name}", flush=True)
        importlib.import_module(name).run(bindir)
        print(f"== {name}: {time.monotonic() - start:.0f} s", flush=True)
    report.main()


if __name__ == "__main__":
    main()
