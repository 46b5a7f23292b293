"""Render the benchmark report (a JSON-ready dict) as Markdown and as a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

ROW_NAIVE = "(a) naive: pytesseract → HF processor → PyTorch eager"
ROW_PER_REQUEST = "(b) per-request (original example): pytesseract subprocess → processor → ORT batch 1"
ROW_ENSEMBLE = "(c) this ensemble, tritonserver + perf_analyzer, concurrency {c}"
ROW_BOUND = "(d) compute bound: {cores} cores / sum of stage costs"


def _num(value, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}{suffix}"


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * value:.0f}%"


def table_rows(report: dict) -> list[dict]:
    """The rows of the main table: (a), (b), every concurrency of (c), (d)."""
    rows = []
    for key, label in (("naive", ROW_NAIVE), ("per_request", ROW_PER_REQUEST)):
        r = report[key]
        rows.append(
            {
                "system": label,
                "docs_per_s": r["docs_per_s"],
                "p50_ms": r["p50_ms"],
                "p95_ms": r["p95_ms"],
                "p99_ms": r["p99_ms"],
                "vs_naive": r.get("vs_naive"),
                "vs_per_request": r.get("vs_per_request"),
                "of_bound": r.get("fraction_of_bound"),
            }
        )
    best = report.get("ensemble_best_concurrency")
    for point in report["ensemble"]:
        label = ROW_ENSEMBLE.format(c=point["concurrency"]) + (" (best)" if point["concurrency"] == best else "")
        rows.append(
            {
                "system": label,
                "docs_per_s": point["docs_per_s"],
                "p50_ms": point["p50_ms"],
                "p95_ms": point["p95_ms"],
                "p99_ms": point["p99_ms"],
                "vs_naive": point["vs_naive"],
                "vs_per_request": point["vs_per_request"],
                "of_bound": point["fraction_of_bound"],
            }
        )
    bound = report["stages"]
    rows.append(
        {
            "system": ROW_BOUND.format(cores=bound["cores"]),
            "docs_per_s": bound["compute_bound_docs_per_s"],
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
            "vs_naive": bound.get("vs_naive"),
            "vs_per_request": bound.get("vs_per_request"),
            "of_bound": 1.0,
        }
    )
    return rows


def _pages_kind(pages: dict) -> str:
    """What was measured: rendered synthetic forms, or the images of ``bench --pages-dir``."""
    source = pages.get("source")
    if not source or source.startswith("synthetic"):
        return "synthetic form pages"
    return f"pages from {'/'.join(Path(source).parts[-2:])}/"


def markdown(report: dict) -> str:
    """The report as Markdown: the main table and headline, then one section per measurement."""
    lines = (
        _summary(report)
        + _targets(report)
        + _stage_costs(report)
        + _served_cpu(report)
        + _ocr_engines(report)
        + _quantization(report)
        + _setup(report)
    )
    return "\n".join(lines) + "\n"


def _summary(report: dict) -> list[str]:
    """Title, what was measured, the table of systems (a)-(d) and the headline."""
    s = report["settings"]
    lines = [
        f"# LayoutLMv3 serving benchmark ({s['preset']} model, {s.get('quantize') or 'fp32'})",
        "",
        f"{report['pages']['count']} {_pages_kind(report['pages'])} (first: {report['pages']['width']}×"
        f"{report['pages']['height']} px, "
        f"{_num(report['pages']['mean_words'], 0)} words and {_num(report['pages']['mean_tokens'], 0)} tokens on "
        f"average), the same bytes for every system; {report['machine']['cores']} CPU cores"
        f"{', quick mode' if s.get('quick') else ''}.",
        "",
        "| System | docs/s | p50 ms | p95 ms | p99 ms | × naive (a) | × per-request (b) | % of bound (d) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table_rows(report):
        lines.append(
            f"| {row['system']} | {_num(row['docs_per_s'])} | {_num(row['p50_ms'], 0)} | "
            f"{_num(row['p95_ms'], 0)} | {_num(row['p99_ms'], 0)} | {_num(row['vs_naive'], 2, '×')} | "
            f"{_num(row['vs_per_request'], 2, '×')} | {_pct(row['of_bound'])} |"
        )
    lines += [
        "",
        f"Headline (best concurrency, {report['ensemble_best_concurrency']}): "
        f"**{_num(report['speedup_vs_naive'], 2)}× naive**, "
        f"**{_num(report['speedup_vs_per_request'], 2)}× per-request**, "
        f"**{_pct(report['fraction_of_bound'])} of the compute bound**; "
        f"overhead at concurrency 1: **{_num(report['overhead_ms_at_concurrency_1'], 1)} ms** "
        f"(p50 latency minus the median page's summed stage latencies); "
        f"served CPU ÷ stage sum: **{_num(report.get('served_cpu_vs_stages_at_concurrency_1'), 2, '×')}** at "
        f"concurrency 1, **{_num(report.get('served_cpu_vs_stages'), 2, '×')}** at worst.",
        *cpu_lines(report),
    ]
    return lines


def _targets(report: dict) -> list[str]:
    """Each target, its value and whether it was met."""
    lines = [
        "",
        "## Targets",
        "",
        "| Target | Value | Threshold | Met |",
        "|---|---:|---:|:---:|",
    ]
    names = {
        "speedup_vs_naive": "ensemble docs/s ÷ naive (a)",
        "fraction_of_bound": "ensemble docs/s ÷ compute bound (d)",
        "overhead_ms_at_concurrency_1": "overhead at concurrency 1 (ms)",
        "served_cpu_vs_stages": "served CPU per document ÷ stage sum (worst concurrency)",
    }
    for key, target in report["targets"].items():
        fmt = _pct if key == "fraction_of_bound" else (lambda v: _num(v, 2))
        relation = "≤" if key.startswith(("overhead", "served_cpu")) else "≥"
        lines.append(
            f"| {names.get(key, key)} | {fmt(target['value'])} | {relation} {fmt(target['threshold'])} | "
            f"{'yes' if target['met'] else 'no'} |"
        )
    return lines


def _stage_costs(report: dict) -> list[str]:
    """(d): each stage alone on one core, the model's batching variants, the compute bound."""
    st = report["stages"]
    lines = [
        "",
        "## Stage costs (d)",
        "",
        "Each stage of the ensemble, run alone in one process on one core "
        "(core-seconds per page, mean over the pages).",
        "",
        "| Stage | ms per page (1 core) | share |",
        "|---|---:|---:|",
    ]
    total = sum(st["core_seconds"].values())
    for stage, seconds in st["core_seconds"].items():
        lines.append(f"| {stage} | {_num(seconds * 1e3, 1)} | {_pct(seconds / total if total else math.nan)} |")
    lines += [
        f"| **total** | {_num(total * 1e3, 1)} | 100% |",
        "",
        f"Model at batch 1: {_num(st['model_batch1_ms'], 1)} ms/page; in batches of {st['model_batch_size']} "
        f"grouped by length (as served): {_num(st['model_batched_ms'], 1)} ms/page (the bound uses the cheaper); "
        f"padded to the longest page instead: {_num(st.get('model_padded_ms'), 1)} ms/page. "
        f"Compute bound: {st['cores']} / {_num(total, 3)} s = **{_num(st['compute_bound_docs_per_s'])} docs/s**.",
    ]
    return lines


def _served_cpu(report: dict) -> list[str]:
    """Server and client CPU per document at each concurrency (when perf_analyzer's run measured it)."""
    served = [p for p in report["ensemble"] if p.get("server_cpu_s_per_doc")]
    if not served:
        return []
    lines = [
        "",
        "## Served CPU (c)",
        "",
        "CPU time of tritonserver and its python-backend stubs, and of perf_analyzer, per document, "
        "against the summed stage costs; utilization is (server + client CPU) ÷ (wall time × cores).",
        "",
        "| Concurrency | server CPU ms/doc | × stage sum | perf_analyzer CPU ms/doc | CPU utilization | "
        "model batches (docs/execution) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in served:
        model = p.get("server_us", {}).get("layoutlmv3_model", {})
        per_exec = (
            (model.get("inference_count", 0) / model["execution_count"]) if model.get("execution_count") else None
        )
        lines.append(
            f"| {p['concurrency']} | {_num(p['server_cpu_s_per_doc'] * 1e3, 0)} | "
            f"{_num(p.get('server_cpu_vs_stages'), 2, '×')} | {_num((p.get('client_cpu_s_per_doc') or 0) * 1e3, 0)} | "
            f"{_pct(p.get('cpu_utilization'))} | {_num(per_exec, 2)} |"
        )
    return lines


def _quantization(report: dict) -> list[str]:
    """What INT8 costs in agreement with fp32, on the bench pages and at build time."""
    q = report.get("quantization")
    if not q:
        return []
    lines = ["", "## INT8 accuracy cost", ""]
    if q.get("pages"):
        p = q["pages"]
        lines.append(
            f"On the {p['pages']} bench pages, INT8 vs fp32: max |logit diff| {_num(p['max_abs_logit_diff'], 3)}, "
            f"token label agreement {_pct(p['token_label_agreement'])}, first-sub-token (word) label "
            f"agreement {_pct(p['word_label_agreement'])}."
        )
    if q.get("build"):
        b = q["build"]
        lines.append(
            f"At build time on random inputs: max |logit diff| {_num(max(b['max_abs_diff']), 3)}, "
            f"label agreement ≥ {_pct(min(b['label_agreement']))}; model file "
            f"{b['fp32_bytes'] / 1e6:.0f} MB → {b['quantized_bytes'] / 1e6:.0f} MB."
        )
    lines.append("(Random weights give near-tied logits, so agreement understates what a trained model keeps.)")
    return lines


def _setup(report: dict) -> list[str]:
    """How the run was set up, and how busy the machine was."""
    s = report["settings"]
    pages = report["pages"]
    serving = report["serving_options"]
    return [
        "",
        "## Setup",
        "",
        f"- Served configuration: preprocess × {serving['preprocess_instances']}, model × {serving['model_instances']} "
        f"({serving['model_threads']} ONNX Runtime thread{'s' if serving['model_threads'] != 1 else ''} each), "
        f"postprocess × {serving['postprocess_instances']}; max batch {serving['max_batch_size']}, "
        f"queue delay {serving['max_queue_delay_us']} µs.",
        f"- perf_analyzer: gRPC, {s['requests_per_level']} requests per concurrency level "
        f"({s['passes']} pass{'es' if s['passes'] != 1 else ''} over the pages), real page images as input data.",
        f"- OCR words: pytesseract (Tesseract {pages.get('pytesseract_version', '?')}, (a)/(b)) and tesserocr "
        f"(bundled Tesseract {pages.get('tesserocr_version', '?')}, (c)/(d)) read the same words on "
        f"{pages['ocr_identical_pages']}/{pages['count']} pages in the same order and share "
        f"{_pct(pages['ocr_word_match'])} of their words; sequences are {_num(pages['mean_tokens_pytesseract'], 0)} "
        f"and {_num(pages['mean_tokens'], 0)} tokens on average.",
        f"- Load average (1, 5, 15 min) before/after: {report['machine']['load_average_start']} / "
        f"{report['machine']['load_average_end']}; 1-min load at each phase: "
        f"{report['machine'].get('load_average_1min_during', [])}; other processes used "
        f"{_pct(report['machine'].get('other_cpu_share'))} of the CPU capacity"
        + (
            " — **other work shared the cores during the run: wall-clock numbers (docs/s, latency, % of bound) "
            "are lower than this machine can do; the CPU columns are not**"
            if report["machine"].get("busy")
            else ""
        ),
        f"- Total run time {report['run_seconds']:.0f} s.",
    ]


def _ocr_engines(report: dict) -> list[str]:
    """The OCR engines side by side: CPU per page, what a GPU host keeps on its CPU, bounds, served."""
    engines = report.get("ocr_engines") or {}
    if not engines:
        return []
    cores = report["machine"]["cores"]
    lines = [
        "",
        "## OCR engines",
        "",
        "Each engine's stage costs (d) and served sweep (c) on the same pages. PP-OCR's two networks "
        "(detection, recognition) are stages of their own; its *host OCR* is what stays on the CPU when they "
        "run on a GPU (page scaling, box extraction, line crops, CTC decoding).",
        "",
        "| Engine | OCR CPU ms/page | of which networks | host OCR ms/page | words/page | "
        f"bound on {cores} cores, docs/s | served best docs/s | × naive (a) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in engines.items():
        lines.append(
            f"| {name} | {_num(e['ocr_cpu_s_per_page'] * 1e3, 0)} | {_num(e['ocr_networks_s_per_page'] * 1e3, 0)} | "
            f"{_num(e['host_ocr_cpu_s_per_page'] * 1e3, 0)} | {_num(e['mean_words'], 0)} | "
            f"{_num(e['compute_bound_docs_per_s'])} | {_num(e['ensemble_docs_per_s'])} | "
            f"{_num(e['vs_naive'], 2, '×')} |"
        )
    stage_names = sorted({k for e in engines.values() for k in e["core_seconds"]})
    lines += ["", "| Stage (ms per page, 1 core) | " + " | ".join(engines) + " |", "|---|" + "---:|" * len(engines)]
    for stage in stage_names:
        lines.append(
            f"| {stage} | "
            + " | ".join(_num(e["core_seconds"].get(stage, math.nan) * 1e3, 1) for e in engines.values())
            + " |"
        )
    gpu = [
        f"{n} cores: "
        + ", ".join(f"{name} {_num(e['gpu_host_ocr_bound_docs_per_s'][n], 1)}" for name, e in engines.items())
        for n in next(iter(engines.values()))["gpu_host_ocr_bound_docs_per_s"]
    ]
    lines += [
        "",
        "On a GPU host the model (and PP-OCR's networks) run on the GPU, and the host's cores bound the "
        "OCR left on them: N cores ÷ host OCR CPU per page, in pages/s — " + "; ".join(gpu) + ".",
    ]
    return lines


def cpu_lines(report: dict) -> list[str]:
    """The same comparison in CPU time, which other work on the machine barely moves: what
    each system spends per document, and the ratios a machine with every core busy would see."""
    naive = report["naive"].get("cpu_s_per_doc")
    per_request = report["per_request"].get("cpu_s_per_doc")
    stage_sum = sum(report["stages"]["core_seconds"].values())
    served = [p["server_cpu_s_per_doc"] for p in report["ensemble"] if p.get("server_cpu_s_per_doc")]
    if not naive or not served:
        return []
    worst = max(served)
    return [
        "",
        f"In CPU time per document: naive (a) {_num(naive * 1e3, 0)} ms, per-request (b) "
        f"{_num((per_request or math.nan) * 1e3, 0)} ms, served (c) {_num(min(served) * 1e3, 0)}–"
        f"{_num(worst * 1e3, 0)} ms, stages (d) {_num(stage_sum * 1e3, 0)} ms. With every core busy, the served "
        f"ensemble would do **{_num(naive / worst, 2)}× naive** and **{_pct(stage_sum / worst)} of the bound** "
        f"(CPU ratios, worst concurrency; (a) counts PyTorch's and Tesseract's threads).",
    ]


def plot(report: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = report["ensemble"]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    xs = [p["docs_per_s"] for p in points]
    ax.plot(xs, [p["p50_ms"] for p in points], "o-", color="tab:blue", label="ensemble p50")
    ax.plot(xs, [p["p95_ms"] for p in points], "s--", color="tab:blue", alpha=0.5, label="ensemble p95")
    for p in points:
        ax.annotate(
            f"c={p['concurrency']}",
            (p["docs_per_s"], p["p50_ms"]),
            textcoords="offset points",
            xytext=(4, -12),
            fontsize=8,
        )
    for key, label, color in (("naive", "(a) naive", "tab:red"), ("per_request", "(b) per-request", "tab:orange")):
        r = report[key]
        ax.plot([r["docs_per_s"]], [r["p50_ms"]], "D", color=color, label=f"{label} p50")
    bound = report["stages"]["compute_bound_docs_per_s"]
    ax.axvline(bound, color="tab:green", linestyle=":", label=f"(d) compute bound {bound:.2f} docs/s")
    ax.set_xlabel("throughput (documents / s)")
    ax.set_ylabel("latency (ms)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    s = report["settings"]
    ax.set_title(f"LayoutLMv3 {s['preset']} ({s.get('quantize') or 'fp32'}) on {report['machine']['cores']} CPU cores")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_all(report: dict, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "markdown": out_dir / "bench.md", "plot": out_dir / "bench.png"}
    paths["json"].write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
    paths["markdown"].write_text(markdown(report))
    plot(report, paths["plot"])
    return paths


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
