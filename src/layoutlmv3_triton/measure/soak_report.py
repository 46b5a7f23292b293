"""The soak's report: JSON, Markdown and plots of one run (throughput, RSS per process), and
several runs side by side (the same process in each, e.g. before and after an allocator change).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from layoutlmv3_triton.measure.soak import SoakReport


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(report: SoakReport, path: Path) -> None:
    """Throughput on top, RSS per process below."""
    plt = _pyplot()
    t = [s.t / 60 for s in report.samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(t, [s.docs_per_s for s in report.samples], label="docs/s")
    failed = [(x, s.failed_in_window) for x, s in zip(t, report.samples) if s.failed_in_window]
    if failed:
        top.scatter(*zip(*failed), color="red", label="failed in window", zorder=3)
    top.set_ylabel("throughput (docs/s)")
    top.set_ylim(bottom=0)
    top.legend(loc="lower right")
    names = sorted({name for sample in report.samples for name in sample.processes})
    for name in names:
        curve = [(x, s.processes[name]) for x, s in zip(t, report.samples) if name in s.processes]
        bottom.plot(*zip(*curve), label=name)
    if names:
        steady_from = report.summary.get("memory_steady_from_s")
        if steady_from is not None:
            bottom.axvline(steady_from / 60, color="grey", linestyle=":", label="judged from here")
        bottom.set_ylim(bottom=0)
        bottom.legend(loc="upper left", fontsize="x-small", ncol=2)
    bottom.set_ylabel("RSS per process (MiB)")
    bottom.set_xlabel("minutes")
    s = report.summary
    fig.suptitle(f"soak at concurrency {report.config['concurrency']}: {s['succeeded']} ok, {s['failed']} failed")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(reports: dict[str, SoakReport], path: Path) -> None:
    """One panel per run, RSS per process over time, on a shared memory axis."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(reports), figsize=(5 * len(reports), 4), sharey=True, squeeze=False)
    top = max((v for r in reports.values() for s in r.samples for v in s.processes.values()), default=1.0)
    for ax, (label, report) in zip(axes[0], reports.items()):
        t = [s.t / 60 for s in report.samples]
        for name in sorted({n for s in report.samples for n in s.processes}):
            ax.plot(
                *zip(*[(x, s.processes[name]) for x, s in zip(t, report.samples) if name in s.processes]), label=name
            )
        steady_from = report.summary.get("memory_steady_from_s")
        if steady_from is not None:
            ax.axvline(steady_from / 60, color="grey", linestyle=":")
        s = report.summary
        worst = max((g["mib_per_min"] for g in s.get("processes", {}).values()), default=float("nan"))
        ax.set_title(
            f"{label}\n{s.get('succeeded', 0)} ok, {s.get('failed', 0)} failed; " f"worst {worst:+.2f} MiB/min",
            fontsize="small",
        )
        ax.set_xlabel("minutes")
        ax.set_ylim(0, top * 1.25)
    axes[0][0].set_ylabel("RSS per process (MiB)")
    axes[0][0].legend(loc="upper left", fontsize="x-small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- outputs -----------------------------------------------------------------------------
def write_outputs(report: SoakReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "soak.json", "markdown": out_dir / "soak.md", "plot": out_dir / "soak.png"}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    paths["markdown"].write_text(markdown(report))
    plot(report, paths["plot"])
    return paths


def _fmt(value, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value}{unit}"


def markdown(report: SoakReport) -> str:
    s, c = report.summary, report.config
    lines = [
        "# Soak test",
        "",
        f"perf_analyzer at concurrency {c['concurrency']} for {c['duration_s'] / 60:.1f} min against "
        f"`{c['url']}` ({c['protocol']}); server counters sampled every {c['sample_s']:g} s; "
        f"{c['cpu_count']} CPUs, 1-min load average {c['loadavg_1m_at_start']} at start, "
        f"{c.get('loadavg_1m_at_end', 'n/a')} at end.",
        "",
        "| | |",
        "|---|---|",
        f"| verdict | **{s['verdict']}** |",
        f"| requests | {s['succeeded']} ok, **{s['failed']} failed** (server counters; tritonserver 2.51 "
        f"counts a failed ensemble request twice) |",
        f"| throughput | {s['mean_docs_per_s']} docs/s mean; windows {s['min_window_docs_per_s']}"
        f"..{s['max_window_docs_per_s']} |",
        f"| server RSS (tritonserver + stubs) | start {_fmt(s.get('rss_start_mib'), ' MiB')}, end "
        f"{_fmt(s.get('rss_end_mib'), ' MiB')}, max {_fmt(s.get('rss_max_mib'), ' MiB')} |",
        f"| RSS growth after warm-up (all) | {_fmt(s.get('rss_steady_growth_mib_per_min'), ' MiB/min')} "
        f"from {_fmt(s.get('rss_steady_start_mib'), ' MiB')} "
        f"over the last {_fmt(s.get('memory_steady_minutes'), ' min')} |",
        f"| memory flat (every process < {_fmt(s.get('memory_flat_threshold_mib_per_min'), ' MiB/min')}) | "
        f"{'too short to tell' if s.get('rss_flat') is None else s['rss_flat']} |",
        f"| perf_analyzer starts | {len(report.perf_runs)} |",
        f"| allocator | {_fmt(c.get('allocator'))} |",
        "",
    ]
    if s.get("processes"):
        lines += [
            "| process | RSS at steady start (MiB) | end (MiB) | max (MiB) | growth (MiB/min) | "
            "growth (MiB per 1000 requests) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | {g['start_mib']} | {g['end_mib']} | {g['max_mib']} | {g['mib_per_min']} | "
            f"{_fmt(g['mib_per_1000_requests'])} |"
            for name, g in s["processes"].items()
        ]
        lines.append("")
    if s["perf_analyzer_errors"]:
        lines += ["perf_analyzer reported:", "", *[f"- `{e}`" for e in s["perf_analyzer_errors"]], ""]
    lines += [
        "![throughput and memory over time](soak.png)",
        "",
        "| t (s) | docs/s | failed | latency (ms) | RSS (MiB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {x.t:.0f} | {x.docs_per_s} | {x.failed_in_window} | {_fmt(x.mean_latency_ms)} | {_fmt(x.rss_mib)} |"
        for x in report.samples
    ]
    return "\n".join(lines) + "\n"
