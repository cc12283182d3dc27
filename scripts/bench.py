#!/usr/bin/env python3
"""`make bench`: runs the benchmark suite (Benchmarks/, ordo-one/benchmark) several times, pinned
to one CPU (`taskset -c 0`) and unpinned, and writes docs/benchmarks/results.json, results.md and
chart.svg. Medians over runs; ratios are taken within each run, then their median is reported.

Every benchmark target starts its own nats-server (HemeraTesting's NATSTestServer).
Environment: BENCH_RUNS (default 3), BENCH_TARGETS (default "NATSRequest HemeraAct JSONBenchmarks"),
BENCH_MODES (default "pinned unpinned"). Python standard library only.
"""
import glob, json, os, platform, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "Benchmarks")
OUT = os.path.join(ROOT, "docs", "benchmarks")
SWIFT = os.environ.get("SWIFT", "swift")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TARGETS = os.environ.get("BENCH_TARGETS", "NATSRequest HemeraAct JSONBenchmarks").split()
MODES = os.environ.get("BENCH_MODES", "pinned unpinned").split()
SUFFIX = ".histogram.percentiles.tsv"

# Ratios reported (numerator, denominator, kind): same run, then median over runs.
LATENCY_RATIOS = [
    ("HemeraNATS request, 1 in flight", "raw cnats request, 1 in flight", "NATS layer / raw, p50 (target <= 1.2)"),
    ("act typed 100 B, 1 in flight", "raw cnats request 100 B, 1 in flight", "typed act / raw, p50 (target <= 1.3)"),
    ("HemeraNATS request, 1 in flight, reply executor", "raw cnats request, 1 in flight", "NATS layer with reply executor / raw, p50"),
    ("act typed 100 B, 1 in flight, reply executor", "raw cnats request 100 B, 1 in flight", "typed act with reply executor / raw, p50"),
    ("act untyped 100 B, 1 in flight", "raw cnats request 100 B, 1 in flight", "untyped act / raw, p50"),
    ("act typed 100 B, 1 in flight, coalesced service", "raw cnats request 100 B, 1 in flight", "typed act, coalesced service / raw, p50"),
    ("act typed 1 KiB, 1 in flight", "raw cnats request 1 KiB, 1 in flight", "typed act 1 KiB / raw, p50"),
    ("act typed 16 KiB, 1 in flight", "raw cnats request 16 KiB, 1 in flight", "typed act 16 KiB / raw, p50"),
]
THROUGHPUT_RATIOS = [
    ("HemeraNATS pipelined, 256 in flight", "raw cnats pipelined, 256 in flight", "NATS layer / raw at 256 (target >= 0.8)"),
    ("HemeraNATS pipelined, 256 in flight, coalesced", "raw cnats pipelined, 256 in flight", "NATS layer coalesced / raw at 256"),
    ("HemeraNATS pipelined, 1024 in flight", "raw cnats pipelined, 1024 in flight", "NATS layer / raw at 1024"),
    ("HemeraNATS pipelined, 1024 in flight, coalesced", "raw cnats pipelined, 1024 in flight", "NATS layer coalesced / raw at 1024"),
    ("act typed pipelined 100 B, 256 in flight", "raw cnats pipelined 100 B, 256 in flight", "typed act / raw at 256 (target >= 0.8)"),
    ("act untyped pipelined 100 B, 256 in flight", "raw cnats pipelined 100 B, 256 in flight", "untyped act / raw at 256"),
    ("act typed pipelined 100 B, 256 in flight, coalesced", "raw cnats pipelined 100 B, 256 in flight", "typed act, both coalesced / raw at 256"),
]
# nats.swift as measured on this machine (issue 5): p50 95-173 us on one CPU, 28-40k req/s at 256.
NATS_SWIFT = {"p50_us_best": 95.0, "rps_256_best": 40000.0}


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:
            return "unknown"
    return {
        "cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(), "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "swift": out([SWIFT, "--version"]), "nats_server": out(["nats-server", "--version"]),
        "libnats": out(["pkg-config", "--modversion", "libnats"]), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_average_at_start": os.getloadavg(),
    }


def parse_dir(path):
    """{benchmark name: {metric: {"unit": str, "p": {percentile: value}}}} from the TSV exports."""
    results = {}
    for file in glob.glob(os.path.join(path, "*" + SUFFIX)):
        base = os.path.basename(file)[: -len(SUFFIX)]
        _baseline, target, rest = base.split(".", 2)
        name, metric = rest.rsplit(".", 1)
        name = name.replace("_", " ")
        with open(file) as handle:
            header = handle.readline().rstrip("\n").split("\t")[1]
            values = {}
            for line in handle:
                percentile, value = line.split("\t")
                values[int(percentile)] = float(value)
        unit = re.search(r"\(([^()]*)\)\s*\*?\s*$", header)
        unit = unit.group(1) if unit else ""
        scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(unit, 1.0)
        if unit in ("K", "M", "G"):
            unit = ""
        if metric == "latency":  # per request, timed inside the loop; exported in the target's time unit (µs)
            unit = "μs"
        metric_name = {"wallClock": "time", "mallocCountTotal": "mallocs", "requests_s": "requests/s"}.get(metric, metric)
        results.setdefault(name, {"target": target})[metric_name] = {
            "unit": unit, "p50": values[50] * scale, "p99": values[99] * scale, "p90": values[90] * scale}
    # One-in-flight benchmarks time each request inside their loop (`latency`): that is their
    # latency; the harness's wall clock per iteration is then a mean and is dropped.
    for entry in results.values():
        if "latency" in entry:
            entry["time"] = entry.pop("latency")
    return results


def run_once(mode, index):
    path = tempfile.mkdtemp(prefix="hemera-bench-")
    args = [SWIFT, "package", "--allow-writing-to-package-directory", "benchmark", "--no-progress",
            "--format", "histogramPercentiles", "--path", path]
    for target in TARGETS:
        # JSON against Foundation is a same-process comparison that varies little: first run only,
        # which keeps `make bench` near a quarter of an hour.
        if target == "JSONBenchmarks" and index > 0:
            continue
        args += ["--target", target]
    if mode == "pinned":
        args = ["taskset", "-c", "0"] + args
    print(f"== run {index + 1}/{RUNS} {mode}: {' '.join(args)}", flush=True)
    proc = subprocess.run(args, cwd=BENCH, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"benchmark run failed ({proc.returncode})")
    results = parse_dir(path)
    shutil.rmtree(path, ignore_errors=True)
    return results


def ratios(run):
    out = {}
    for num, den, label in LATENCY_RATIOS:
        if num in run and den in run and "time" in run[num] and "time" in run[den]:
            out[label] = run[num]["time"]["p50"] / run[den]["time"]["p50"]
    for num, den, label in THROUGHPUT_RATIOS:
        if num in run and den in run and "requests/s" in run[num] and "requests/s" in run[den]:
            out[label] = run[num]["requests/s"]["p50"] / run[den]["requests/s"]["p50"]
    return out


def median_of(runs, name, metric, key):
    values = [r[name][metric][key] for r in runs if name in r and metric in r[name]]
    return statistics.median(values) if values else None


def summarize(runs):
    names = sorted({n for r in runs for n in r})
    rows = {}
    for name in names:
        row = {"target": next(r[name]["target"] for r in runs if name in r)}
        for metric in ("time", "mallocs", "requests/s"):
            for key in ("p50", "p99", "p90"):
                value = median_of(runs, name, metric, key)
                if value is not None:
                    row[f"{metric} {key}"] = value
            unit = next((r[name][metric]["unit"] for r in runs if name in r and metric in r[name]), None)
            if unit is not None and metric == "time":
                row["time unit"] = unit
        rows[name] = row
    per_run = [ratios(r) for r in runs]
    labels = sorted({l for r in per_run for l in r})
    ratio_medians = {l: statistics.median([r[l] for r in per_run if l in r]) for l in labels}
    return {"benchmarks": rows, "ratios": ratio_medians, "ratios_per_run": per_run, "runs": len(runs)}


def fmt(value, digits=1):
    if value is None:
        return "-"
    if value >= 10000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(summary):
    lines = []
    for mode, data in summary["modes"].items():
        lines.append(f"\n### {mode} (median of {data['runs']} runs)\n")
        lines.append("| benchmark | p50 | p99 | unit | requests/s | mallocs p50 |")
        lines.append("|---|---:|---:|---|---:|---:|")
        for name, row in data["benchmarks"].items():
            if row["target"] == "JSONBenchmarks":
                continue
            lines.append(f"| {name} | {fmt(row.get('time p50'))} | {fmt(row.get('time p99'))} | {row.get('time unit', '')} | "
                         f"{fmt(row.get('requests/s p50'), 0)} | {fmt(row.get('mallocs p50'), 0)} |")
        lines.append("\n| ratio (same run, median over runs) | value |")
        lines.append("|---|---:|")
        for label, value in data["ratios"].items():
            lines.append(f"| {label} | {value:.2f} |")
        json_rows = [(n, r) for n, r in data["benchmarks"].items() if r["target"] == "JSONBenchmarks"]
        if json_rows:
            lines.append("\n| JSON benchmark | p50 | p99 | unit | mallocs p50 |")
            lines.append("|---|---:|---:|---|---:|")
            for name, row in json_rows:
                lines.append(f"| {name} | {fmt(row.get('time p50'), 2)} | {fmt(row.get('time p99'), 2)} | {row.get('time unit', '')} | {fmt(row.get('mallocs p50'), 0)} |")
    return "\n".join(lines)


def svg(summary):
    """Two panels: latency percentiles at one in flight; throughput against requests in flight."""
    width, height = 1000, 430
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>']
    colors = {"raw cnats": "#444444", "HemeraNATS": "#1f77b4", "act typed": "#d62728", "act untyped": "#ff7f0e"}
    mode_dash = {"pinned": "", "unpinned": "5,3"}
    # Panel 1: latency p50/p99 bars.
    lat = [("raw cnats", "raw cnats request 100 B, 1 in flight"), ("HemeraNATS", "HemeraNATS request 100 B, 1 in flight"),
           ("act typed", "act typed 100 B, 1 in flight"), ("act untyped", "act untyped 100 B, 1 in flight")]
    x0, y0, w, h = 60, 50, 380, 300
    parts.append(f'<text x="{x0}" y="30" font-size="14">Latency, 1 in flight, 100 B (µs, p50 solid / p99 light)</text>')
    values = []
    for mode, data in summary["modes"].items():
        for label, name in lat:
            row = data["benchmarks"].get(name, {})
            values.append(row.get("time p99", 0))
    top = max(values + [1]) * 1.1
    parts.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="black"/>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + h}" stroke="black"/>')
    for tick in range(0, 6):
        value = top * tick / 5
        y = y0 + h - h * tick / 5
        parts.append(f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{value:.0f}</text>')
    slot = w / max(1, len(lat) * len(summary["modes"]))
    i = 0
    for mode, data in summary["modes"].items():
        for label, name in lat:
            row = data["benchmarks"].get(name, {})
            p50, p99 = row.get("time p50", 0), row.get("time p99", 0)
            x = x0 + i * slot + 4
            for value, opacity in ((p99, 0.35), (p50, 1.0)):
                bh = h * value / top
                parts.append(f'<rect x="{x:.1f}" y="{y0 + h - bh:.1f}" width="{slot - 8:.1f}" height="{bh:.1f}" fill="{colors[label]}" fill-opacity="{opacity}"/>')
            parts.append(f'<text x="{x + (slot - 8) / 2:.1f}" y="{y0 + h - h * p50 / top - 3:.1f}" text-anchor="middle" font-size="9">{p50:.0f}</text>')
            parts.append(f'<text transform="translate({x + (slot - 8) / 2:.1f},{y0 + h + 8}) rotate(40)" font-size="9">{label} ({mode})</text>')
            i += 1
    # Panel 2: throughput vs in flight (log2 x).
    x0, w = 560, 400
    parts.append(f'<text x="{x0}" y="30" font-size="14">Throughput vs requests in flight (requests/s, 100 B)</text>')
    series = {"raw cnats": "raw cnats pipelined, {w} in flight", "HemeraNATS": "HemeraNATS pipelined, {w} in flight",
              "act typed": "act typed pipelined 100 B, {w} in flight", "act untyped": "act untyped pipelined 100 B, {w} in flight"}
    windows = [1, 16, 64, 256, 1024]
    points = {}
    ymax = 1
    for mode, data in summary["modes"].items():
        for label, pattern in series.items():
            pts = []
            for win in windows:
                row = data["benchmarks"].get(pattern.format(w=win))
                if row and "requests/s p50" in row:
                    pts.append((win, row["requests/s p50"]))
                    ymax = max(ymax, row["requests/s p50"])
            points[(mode, label)] = pts
    ymax *= 1.1
    parts.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="black"/>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + h}" stroke="black"/>')
    def px(win):
        import math
        return x0 + w * math.log2(win) / 10
    for win in windows:
        parts.append(f'<text x="{px(win):.1f}" y="{y0 + h + 14}" text-anchor="middle">{win}</text>')
    for tick in range(0, 6):
        value = ymax * tick / 5
        y = y0 + h - h * tick / 5
        parts.append(f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{value / 1000:.0f}k</text>')
    legend_y = y0 + 5
    for (mode, label), pts in points.items():
        if not pts:
            continue
        path = " ".join(f"{px(win):.1f},{y0 + h - h * value / ymax:.1f}" for win, value in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colors[label]}" stroke-width="2" stroke-dasharray="{mode_dash.get(mode, "")}"/>')
        for win, value in pts:
            parts.append(f'<circle cx="{px(win):.1f}" cy="{y0 + h - h * value / ymax:.1f}" r="2.5" fill="{colors[label]}"/>')
        parts.append(f'<line x1="{x0 + 10}" y1="{legend_y}" x2="{x0 + 30}" y2="{legend_y}" stroke="{colors[label]}" stroke-width="2" stroke-dasharray="{mode_dash.get(mode, "")}"/>')
        parts.append(f'<text x="{x0 + 35}" y="{legend_y + 4}">{label} ({mode})</text>')
        legend_y += 14
    m = summary["machine"]
    parts.append(f'<text x="10" y="{height - 8}" font-size="9">{m["cpu"]}, {m["cpus"]} CPUs, {m["os"]}, {m["swift"]}, nats-server {m["nats_server"]}, libnats {m["libnats"]}, {m["date"]}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_thresholds(summary):
    """Rewrites Benchmarks/Thresholds/<Swift major.minor>/ with ordo-one's own `thresholds update`
    (an extra unpinned run of the two targets): the files then hold what `thresholds check`
    compares, allocations per iteration of 1,000 requests at p90."""
    version = re.search(r"Swift version (\d+\.\d+)", summary["machine"]["swift"])
    directory = os.path.join("Thresholds", version.group(1) if version else "unknown")
    args = [SWIFT, "package", "--allow-writing-to-package-directory", "benchmark", "thresholds", "update",
            "--target", "NATSRequest", "--target", "HemeraAct", "--path", directory + "/"]
    print("== " + " ".join(args), flush=True)
    proc = subprocess.run(args, cwd=BENCH, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"thresholds update failed ({proc.returncode})")
    keep_allocations_only(os.path.join(BENCH, directory))
    print(f"wrote allocation thresholds to Benchmarks/{directory}")


def keep_allocations_only(directory):
    """ordo-one's update writes every metric of every benchmark, with `_` for spaces in the file
    name, while its check reads names with spaces. Speed is not asserted here: only
    `mallocCountTotal` is kept, under the name the check reads; other files are removed."""
    for path in glob.glob(os.path.join(directory, "*_*.p90.json")):
        with open(path) as handle:
            values = json.load(handle)
        os.remove(path)
        if "mallocCountTotal" not in values:
            continue
        target = os.path.join(directory, os.path.basename(path).replace("_", " "))
        with open(target, "w") as handle:
            json.dump({"mallocCountTotal": values["mallocCountTotal"]}, handle, indent=2, sort_keys=True)
            handle.write("\n")


def main():
    if sys.argv[1:2] == ["keep-allocations-only"]:
        keep_allocations_only(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    summary = {"machine": machine(), "targets": TARGETS, "modes": {}}
    started = time.time()
    subprocess.run([SWIFT, "build", "-c", "release"], cwd=BENCH, check=True)
    all_runs = {mode: [] for mode in MODES}
    for index in range(RUNS):
        for mode in MODES:  # interleaved, so that noise hits both modes alike
            all_runs[mode].append(run_once(mode, index))
    for mode in MODES:
        summary["modes"][mode] = summarize(all_runs[mode])
    summary["nats_swift_reference"] = NATS_SWIFT
    summary["elapsed_seconds"] = round(time.time() - started)
    text = table(summary)
    m = summary["machine"]
    header = (f"# Benchmark results\n\nMachine: {m['cpu']}, {m['cpus']} CPUs, {m['os']}, kernel {m['kernel']}; "
              f"{m['swift']}; nats-server {m['nats_server']}; libnats {m['libnats']}; {m['date']}; "
              f"load average at start {m['load_average_at_start'][0]:.2f}.\n\nCommand: `make bench` "
              f"(BENCH_RUNS={RUNS}); pinned = `taskset -c 0` (benchmark, clients, responder and nats-server on one CPU).\n"
              f"Latencies are per request (one request per iteration); requests/s per pipelined burst; "
              f"mallocs per request or act.\n\n![chart](chart.svg)\n")
    with open(os.path.join(OUT, "results.md"), "w") as handle:
        handle.write(header + text + "\n")
    with open(os.path.join(OUT, "results.json"), "w") as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)
    with open(os.path.join(OUT, "chart.svg"), "w") as handle:
        handle.write(svg(summary))
    if os.environ.get("BENCH_THRESHOLDS") == "1":
        write_thresholds(summary)
    print(text)
    print(f"\nwrote {OUT}/results.md, results.json, chart.svg in {summary['elapsed_seconds']} s")


if __name__ == "__main__":
    main()
