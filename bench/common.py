"""Shared measuring for custos' benchmarks (bench/run.py drives them; results land in
target/bench/results.json and bench/report.py turns them into BENCHMARKS.md).

Each group of commands does the same work. hyperfine (-N: no shell; -i: a plugin's exit 1-3 is
not a failure) runs them in ROUNDS rounds, the order reversed every other round so that no
command always runs first or last; wall is the median of all runs, CPU the mean user+sys that
hyperfine reads from the children's rusage. Peak RSS is the median of RSS_RUNS separate runs
under GNU time (`/usr/bin/time -v`, "Maximum resident set size").
"""
import json, os, shlex, statistics, subprocess, tempfile

RUNS = int(os.environ.get("RUNS", "30"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
RSS_RUNS = int(os.environ.get("RSS_RUNS", "5"))
RESULTS = os.environ.get("CUSTOS_BENCH_RESULTS", "target/bench/results.json")


def load():
    try:
        with open(RESULTS) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(data):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, RESULTS)


def record(section, key, value):
    """Stores one result (merged into results.json, so that sections can be re-run alone)."""
    data = load()
    data.setdefault(section, {})[key] = value
    save(data)


def peak_rss_kib(argv, env):
    out = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True).stderr
    for line in out.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"no RSS from /usr/bin/time for {argv}: {out[-300:]}")


def first_line(argv, env):
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = p.stdout.decode(errors="replace")
    return p.returncode, (text.splitlines() or [""])[0][:200]


def measure(group, cmds, env, runs=None, section="peers"):
    """Runs each (name, argv) of `cmds` on the same work and records
    {name: {wall_ms, cpu_ms, rss_mib, runs, exit, first_line}} under section/group, the first
    command being custos (the reference of the ratios)."""
    runs = runs or RUNS
    per_round = max(2, -(-runs // ROUNDS))
    samples = {name: {"times": [], "cpu": [], "codes": []} for name, _ in cmds}
    info = {}
    for name, argv in cmds:
        code, line = first_line(argv, env)
        print(f"    {name} (exit {code}): {line}", flush=True)
        if code not in (0, 1, 2, 3):
            raise SystemExit(f"{name} exited {code}: not a plugin result, nothing to compare")
        info[name] = (code, line)
    for rnd in range(ROUNDS):
        order = cmds if rnd % 2 == 0 else list(reversed(cmds))
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            # hyperfine warns on stderr about every non-zero exit it ignores: kept quiet.
            p = subprocess.run(["hyperfine", "-N", "-i", "--style", "none", "--warmup", "2",
                                "--runs", str(per_round), "--export-json", out.name,
                                *[shlex.join(argv) for _, argv in order]],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
            if p.returncode != 0:
                raise SystemExit(f"hyperfine failed on {group}: {p.stderr[-500:]}")
            res = json.load(open(out.name))["results"]
        for (name, _), r in zip(order, res):
            samples[name]["times"].extend(r["times"])
            samples[name]["cpu"].append((r["user"] + r["system"], len(r["times"])))
    result = {}
    for name, argv in cmds:
        s = samples[name]
        n = sum(k for _, k in s["cpu"])
        rss = [peak_rss_kib(argv, env) for _ in range(RSS_RUNS)]
        result[name] = {
            "wall_ms": statistics.median(s["times"]) * 1000,
            "cpu_ms": sum(c * k for c, k in s["cpu"]) / n * 1000,
            "rss_mib": statistics.median(rss) / 1024,
            "runs": len(s["times"]),
            "exit": info[name][0],
            "first_line": info[name][1],
            "command": shlex.join(argv),
        }
        r = result[name]
        print(f"  {name}: {r['wall_ms']:.1f} ms wall, {r['cpu_ms']:.1f} ms CPU, {r['rss_mib']:.1f} MiB ({r['runs']} runs)", flush=True)
    record(section, group, {"order": [n for n, _ in cmds], "rows": result})
    return result
