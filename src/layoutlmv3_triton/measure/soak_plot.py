"""The soak's plots: one run (throughput, RSS per process), and several runs side by side
(the same process in each, e.g. before and after an allocator change)."""
from __future__ import annotations

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
            ax.plot(*zip(*[(x, s.processes[name]) for x, s in zip(t, report.samples) if name in s.processes]),
                    label=name)
        steady_from = report.summary.get("memory_steady_from_s")
        if steady_from is not None:
            ax.axvline(steady_from / 60, color="grey", linestyle=":")
        s = report.summary
        worst = max((g["mib_per_min"] for g in s.get("processes", {}).values()), default=float("nan"))
        ax.set_title(f"{label}\n{s.get('succeeded', 0)} ok, {s.get('failed', 0)} failed; "
                     f"worst {worst:+.2f} MiB/min", fontsize="small")
        ax.set_xlabel("minutes")
        ax.set_ylim(0, top * 1.25)
    axes[0][0].set_ylabel("RSS per process (MiB)")
    axes[0][0].legend(loc="upper left", fontsize="x-small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
