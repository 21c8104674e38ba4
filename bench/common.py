"""Shared measuring for custos' peer benchmarks: wall time, CPU (user+sys) and peak RSS of a
command, alternating between the commands of a group, medians of RUNS runs.

Wall comes from a monotonic clock around fork/exec/wait; CPU from wait4(2)'s rusage; peak RSS from
GNU time's %M in separate runs (the rusage of a child forked by Python counts Python's own pages
copied before exec).
"""
import os, platform, statistics, subprocess, time

RUNS = int(os.environ.get("RUNS", "30"))


def rss_kib(cmd, env):
    out = subprocess.run(["/usr/bin/time", "-f", "RSS %M", *cmd], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    return int([l for l in out.splitlines() if l.startswith("RSS ")][-1].split()[1])


def once(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, code, out.decode(errors="replace")


def header():
    print(f"Machine: {os.cpu_count()} cores, {platform.platform()}; {RUNS} runs each, alternating.\n")


def compare(title, cmds, env, runs=RUNS):
    """Runs each (name, argv) of `cmds` `runs` times, alternating, and prints a Markdown table;
    the first command is the reference for the ratios. Returns {name: (wall, cpu, rss)}."""
    for _, cmd in cmds:  # warm-up, and show what each prints
        _, _, code, out = once(cmd, env)
        first = out.splitlines()[0][:160] if out else ""
        print(f"    {os.path.basename(cmd[0])} (exit {code}): {first}")
        if code not in (0, 1, 2, 3):
            raise SystemExit(f"{cmd[0]} exited {code}: not a plugin result, nothing to compare")
    samples = {name: [] for name, _ in cmds}
    rss = {name: [] for name, _ in cmds}
    for _ in range(runs):
        for name, cmd in cmds:
            samples[name].append(once(cmd, env)[:2])
            rss[name].append(rss_kib(cmd, env))
    print(f"\n#### {title}\n")
    print("| command | wall ms | CPU ms | peak RSS MiB | wall vs first | CPU vs first |")
    print("|---|---|---|---|---|---|")
    result, base = {}, None
    for name, _ in cmds:
        s = samples[name]
        wall = statistics.median(x[0] for x in s) * 1000
        cpu = statistics.median(x[1] for x in s) * 1000
        peak = statistics.median(rss[name]) / 1024
        base = base or (wall, cpu)
        result[name] = (wall, cpu, peak)
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {peak:.1f} | {wall / base[0]:.2f}x | {cpu / base[1]:.2f}x |")
    print()
    return result
