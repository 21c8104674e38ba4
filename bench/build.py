#!/usr/bin/env python3
"""The build: a clean release build of the suite as `make build` does it (the multi-call
`custos`, fat LTO, one codegen unit), its time and size; and the start-up of a check through
the multi-call binary next to the same check's own binary built with the same profile (the
cost of one binary for all). BUILD_DESIGNS="all" (or some of the keys of DESIGNS, separated by
spaces) also builds the other designs measured when
choosing: the multi-call binary with thin LTO and without LTO, linked statically (glibc's
static-pie) and as a position-dependent executable (no PIE), and the 14 separate fat-LTO
binaries of before (about 25 minutes on 2 cores); the start-up table then has a row for each
multi-call variant.
"""
import os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RUNS, measure, record  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CHECKS = sorted(d for d in os.listdir(os.path.join(ROOT, "crates")) if d.startswith("check_"))
# The flags of the static and non-PIE variants apply to the target only (`--target`), not to
# build scripts and proc macros, which must stay dynamic and position-independent.
TRIPLE = "x86_64-unknown-linux-gnu"
TARGET_FLAGS = "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS"
DESIGNS = {
    "multi-fat": ("one multi-call binary, fat LTO, 1 codegen unit (chosen: make build)", {}, ["custos"]),
    "multi-static": ("the same, glibc linked statically (static-pie)",
                     {TARGET_FLAGS: "-C target-feature=+crt-static"}, ["custos"]),
    "multi-nopie": ("the same, position-dependent (no PIE)",
                    {TARGET_FLAGS: "-C relocation-model=static"}, ["custos"]),
    "multi-thin": ("one multi-call binary, thin LTO, 16 codegen units",
                   {"CARGO_PROFILE_RELEASE_LTO": "thin", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16"}, ["custos"]),
    "multi-nolto": ("one multi-call binary, no LTO, 16 codegen units",
                    {"CARGO_PROFILE_RELEASE_LTO": "false", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16"}, ["custos"]),
    "separate-fat": ("14 binaries, fat LTO, 1 codegen unit each (before)", {}, CHECKS),
}


def binary(key, target, name):
    """Where design `key` puts binary `name`."""
    sub = [TRIPLE] if TARGET_FLAGS in DESIGNS[key][1] else []
    return os.path.join(target, *sub, "release", name)


def build(key, target):
    label, env, packages = DESIGNS[key]
    shutil.rmtree(target, ignore_errors=True)
    args = ["cargo", "build", "--release", "--locked", *[a for p in packages for a in ("-p", p)]]
    if TARGET_FLAGS in env:
        args += ["--target", TRIPLE]
    start = time.monotonic()
    subprocess.run(args, cwd=ROOT, env=dict(os.environ, CARGO_TARGET_DIR=target, **env), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    size = sum(os.path.getsize(binary(key, target, p)) for p in packages)
    record("build", key, {"label": label, "seconds": seconds, "bytes": size})
    print(f"  {label}: {seconds:.0f} s, {size} bytes", flush=True)


def run(bindir):
    asked = os.environ.get("BUILD_DESIGNS", "").split()
    if asked == ["all"]:
        wanted = list(DESIGNS)
    else:
        unknown = [k for k in asked if k not in DESIGNS]
        if unknown:
            sys.exit(f"BUILD_DESIGNS: unknown design(s) {unknown}; known: all {' '.join(DESIGNS)}")
        wanted = ["multi-fat"] + [k for k in asked if k != "multi-fat"]
    base = os.path.join(ROOT, "target", "bench-build")
    for key in wanted:
        build(key, os.path.join(base, key))
    # Start-up: check_cron_file through custos and as its own binary, both fat LTO (the crate's
    # own binary target, linked in the chosen design's target directory).
    target = os.path.join(base, "multi-fat")
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "check_cron_file"], cwd=ROOT,
                   env=dict(os.environ, CARGO_TARGET_DIR=target), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as d:
        state = os.path.join(d, "state")
        with open(state, "w") as f:
            f.write(f"{int(time.time()) + 365 * 86400}|0|OK|queues normal\n")
        cmds = []
        for key in [k for k in wanted if k.startswith("multi-")]:
            os.mkdir(os.path.join(d, key))
            link = os.path.join(d, key, "check_cron_file")
            os.symlink(binary(key, os.path.join(base, key), "custos"), link)
            name = "custos (multi-call) check_cron_file" if key == "multi-fat" else f"custos {key} check_cron_file"
            cmds.append((name, [link, state]))
        cmds.insert(1, ("check_cron_file (its own binary)", [os.path.join(target, "release", "check_cron_file"), state]))
        measure("startup_cron_file", cmds, dict(os.environ), RUNS * 3, section="build")


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
