"""One benchmark run, end to end, with a progress display.

Order: pages -> build -> for each OCR engine: (d) stage costs -> (c) served sweep, with
(a) naive and (b) per-request after the first engine's -> report.  No server of ours runs
while anything is measured in-process, so nothing else of ours competes for the cores.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from layoutlmv3_triton.measure.bench import cpu, metrics
from layoutlmv3_triton.measure.bench import report as report_mod
from layoutlmv3_triton.measure.bench.pages import read_pages_dir, render_pages
from layoutlmv3_triton.measure.bench.prepare import BenchArtifacts, ensure_built, quantization_report
from layoutlmv3_triton.repository.configs import ServingOptions

QUICK_PAGES = 4
FULL_PAGES = 16
QUICK_CONCURRENCY = (1, 4)
FULL_CONCURRENCY = (1, 2, 4, 6, 8)


@dataclass
class BenchConfig:
    output: Path = Path("reports/bench")
    work_dir: Path = Path("artifacts/bench")
    preset: str = "base"
    quantize: str | None = "int8"
    quick: bool = False
    pages: int | None = None
    pages_dir: Path | None = None  # the user's page images instead of rendered forms
    concurrency: Sequence[int] | None = None
    passes: int | None = None  # passes over the pages per concurrency level
    serving: ServingOptions = field(default_factory=ServingOptions)
    # OCR engines to measure, each with its stage costs, bound and served sweep; the first one
    # fills the report's headline (ppocr needs the rapidocr wheel: build-repo --ocr-engine)
    ocr_engines: Sequence[str] = ("tesseract",)
    stage_repeats: int | None = None
    rebuild: bool = False
    progress: bool = True
    server_timeout_s: float = 600.0
    busy_load: float = 0.5  # load average per core above which a warning is shown at the start
    busy_share: float = 0.05  # share of the CPU capacity other processes may use before the run counts as busy

    def resolved(self) -> BenchConfig:
        quick = self.quick
        return replace(
            self,
            output=Path(self.output),
            work_dir=Path(self.work_dir),
            pages=self.pages or (None if self.pages_dir else QUICK_PAGES if quick else FULL_PAGES),
            concurrency=tuple(sorted(set(self.concurrency or (QUICK_CONCURRENCY if quick else FULL_CONCURRENCY)))),
            passes=self.passes or (2 if quick else 3),
            stage_repeats=self.stage_repeats or (1 if quick else 2),
        )


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Progress:
    """A rich progress display (or plain lines when disabled or not a terminal)."""

    def __init__(self, enabled: bool):
        self.rich = None
        if enabled:
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
                from rich.progress import Progress as RichProgress

                self.rich = RichProgress(
                    SpinnerColumn(),
                    TextColumn("{task.description:<44}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    transient=False,
                )
            except ImportError:  # pragma: no cover - rich is a dependency of the bench extra
                self.rich = None
        self.enabled = enabled
        self.loads: list[float] = []  # 1-minute load average at each phase boundary

    def __enter__(self) -> Progress:
        if self.rich:
            self.rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.rich:
            self.rich.stop()

    @contextmanager
    def phase(self, description: str, total: int) -> Iterator:
        start = time.perf_counter()
        self.loads.append(round(os.getloadavg()[0], 2))
        if self.rich:
            task = self.rich.add_task(description, total=total)

            def advance(*_args, **_kwargs):
                self.rich.advance(task)

            yield advance
            self.rich.update(task, completed=total)
        else:
            if self.enabled:
                print(f"[bench] {description} ...", flush=True)
            yield lambda *_a, **_k: None
            if self.enabled:
                print(f"[bench] {description}: {time.perf_counter() - start:.1f}s", flush=True)
        self.loads.append(round(os.getloadavg()[0], 2))

    def log(self, message: str) -> None:
        if self.rich:
            self.rich.console.log(message)
        elif self.enabled:
            print(f"[bench] {message}", flush=True)


def _versions() -> dict[str, str]:
    out = {}
    try:
        import pytesseract

        out["pytesseract_version"] = str(pytesseract.get_tesseract_version())
    except Exception:  # noqa: BLE001 - informational only
        pass
    try:
        import tesserocr

        out["tesserocr_version"] = tesserocr.tesseract_version().split()[1]
    except Exception:  # noqa: BLE001
        pass
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def word_agreement(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]) -> tuple[int, float]:
    """(pages with identical word lists, fraction of words the two OCR runs share, order aside)."""
    from collections import Counter

    identical, shared, total = 0, 0, 0
    for x, y in zip(a, b):
        identical += int(list(x) == list(y))
        shared += sum((Counter(x) & Counter(y)).values())
        total += max(len(x), len(y))
    return identical, (shared / total if total else 1.0)


def _clean(value):
    """NaN/inf -> None, so that the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def run_bench(config: BenchConfig) -> tuple[dict, dict[str, Path]]:
    """Measure everything (:func:`_measure`), then write the report; return it and its files."""
    cfg = config.resolved()
    out = cfg.output
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    started = time.perf_counter()
    n_cores = cores()
    load_start = [round(v, 2) for v in os.getloadavg()]
    machine_start, own_start = cpu.machine_busy_seconds(), cpu.own_cpu_seconds()
    with Progress(cfg.progress) as progress:
        if load_start[0] > cfg.busy_load * n_cores:
            progress.log(f"warning: load average {load_start[0]} on {n_cores} cores: other work competes for the CPU")
        measured = _measure(cfg, out, progress)
    others = cpu.other_cpu_share(machine_start, own_start, time.perf_counter() - started, n_cores)
    machine = {
        "cores": n_cores,
        "cpu": _cpu_model(),
        "load_average_start": load_start,
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "load_average_1min_during": measured.phase_loads,
        "other_cpu_share": None if others is None else round(others, 4),
        "busy": others is not None and others > cfg.busy_share,
    }
    result = _clean(_result(cfg, measured, machine, started))
    paths = report_mod.write_all(result, out)
    return result, paths


@dataclass
class EngineRun:
    """One OCR engine's part of the run: its stage costs, compute bound and served sweep."""

    stages: Any  # stages.StageRun: (d) each stage on one core
    core_seconds: dict[str, float]
    bound: float  # (d) the compute bound, docs/s
    points: list  # perf.Point per concurrency level: (c)


@dataclass
class _Measured:
    """Everything one run measured, before it is summarised."""

    pages: list
    artifacts: BenchArtifacts
    runs: dict[str, EngineRun]  # per OCR engine, the first one the headline's
    naive: Any  # pipelines' runs: (a) and (b)
    per_request: Any
    requests_per_level: int
    phase_loads: list[float]  # the 1-minute load average at each phase boundary

    @property
    def headline(self) -> EngineRun:
        return next(iter(self.runs.values()))


def _measure(cfg: BenchConfig, out: Path, progress: Progress) -> _Measured:
    """pages -> build -> per OCR engine: (d) stage costs -> (c) served sweep, with (a) naive and
    (b) per-request after the first engine's."""
    from layoutlmv3_triton.measure.bench.pipelines import NaivePipeline, PerRequestPipeline
    from layoutlmv3_triton.measure.perf_data import write_input_data
    from layoutlmv3_triton.repository.writer import with_ocr_engine, write_configs, write_ocr_models

    if cfg.pages_dir is not None:
        pages = read_pages_dir(cfg.pages_dir, cfg.pages)
    else:
        with progress.phase(f"render {cfg.pages} pages", cfg.pages):
            pages = render_pages(cfg.pages, out / "pages")
    n_pages = len(pages)
    documents = [p.data for p in pages]
    with progress.phase(f"build {cfg.preset} model ({cfg.quantize or 'fp32'})", 1):
        artifacts = ensure_built(cfg.work_dir, cfg.preset, cfg.quantize, out / "logs" / "build.log", cfg.rebuild)
    repository = artifacts.served_repository
    input_data = write_input_data([p.path for p in pages], out / "perf_data.json")
    requests_per_level = cfg.passes * n_pages
    runs: dict[str, EngineRun] = {}
    for engine in cfg.ocr_engines:
        options = with_ocr_engine(cfg.serving, engine)
        write_configs(repository, options)
        write_ocr_models(repository, options)
        stages = _stage_costs(cfg, engine, artifacts, documents, progress)
        core_seconds = stages.core_seconds()
        points = _served_sweep(cfg, engine, repository, input_data, n_pages, requests_per_level, out, progress)
        runs[engine] = EngineRun(stages, core_seconds, metrics.compute_bound(core_seconds, cores()), points)
        if len(runs) == 1:
            with progress.phase("(a) naive: pytesseract → HF → PyTorch", n_pages) as tick:
                naive = NaivePipeline(artifacts.model_dir).run(documents, progress=tick)
            with progress.phase("(b) per-request: pytesseract → ORT batch 1", n_pages) as tick:
                per_request = PerRequestPipeline(artifacts.model_dir, artifacts.fp32_onnx).run(documents, progress=tick)
    return _Measured(pages, artifacts, runs, naive, per_request, requests_per_level, list(progress.loads))


def _stage_costs(cfg: BenchConfig, engine: str, artifacts: BenchArtifacts, documents: list[bytes], progress: Progress):
    """(d): every stage of the repository as it stands (read with ``engine``) on one core."""
    from layoutlmv3_triton.measure.bench.stages import measure_stages

    n_pages = len(documents)
    stage_units = 3 * n_pages + 1 + (n_pages if cfg.quantize else 0)
    with progress.phase(f"(d) [{engine}] stage costs, one core each", stage_units) as tick:
        return measure_stages(
            artifacts.served_repository,
            documents,
            repeats=cfg.stage_repeats,
            batch_size=min(cfg.serving.max_batch_size, 4, n_pages),
            served_threads=cfg.serving.model.intra_op_threads,
            reference_onnx=artifacts.fp32_onnx if cfg.quantize else None,
            progress=tick,
        )


def _served_sweep(
    cfg: BenchConfig,
    engine: str,
    repository: Path,
    input_data: Path,
    n_pages: int,
    requests_per_level: int,
    out: Path,
    progress: Progress,
) -> list:
    """(c): the ensemble (reading with ``engine``) on a real tritonserver, warmed up, at each
    concurrency level."""
    from layoutlmv3_triton.local.server import LocalTritonServer
    from layoutlmv3_triton.measure.bench import perf

    serving = cfg.serving
    points = []
    with progress.phase(
        f"(c) [{engine}] ensemble: concurrency {','.join(map(str, cfg.concurrency))}", len(cfg.concurrency) + 2
    ) as tick:
        server = LocalTritonServer(repository, log_file=out / "logs" / f"tritonserver-{engine}.log")
        server.start(cfg.server_timeout_s)
        try:
            tick()
            warm = max(2, serving.preprocess_instances + serving.model_instances)
            pgid = server.process.pid  # started in its own session: the stubs share its process group
            perf.run_point(
                server.grpc_url, input_data, warm, max(n_pages, 2 * warm), out / "perf", tag=f"warmup-{engine}-"
            )
            tick()
            for concurrency in cfg.concurrency:
                point = perf.run_point(
                    server.grpc_url,
                    input_data,
                    concurrency,
                    requests_per_level,
                    out / "perf",
                    server_pgid=pgid,
                    tag=f"{engine}-",
                )
                points.append(point)
                progress.log(
                    f"[{engine}] concurrency {concurrency}: {point.docs_per_s:.2f} docs/s, "
                    f"p50 {point.latency.p50 * 1e3:.0f} ms"
                )
                tick()
        finally:
            server.stop()
    return points


def _result(cfg: BenchConfig, m: _Measured, machine: dict, started: float) -> dict:
    """The report's JSON: headline ratios (the first OCR engine's), each baseline, the served
    sweep, stages, every engine side by side, pages, settings."""
    n_cores = machine["cores"]
    headline = m.headline
    stages, core_seconds, bound = headline.stages, headline.core_seconds, headline.bound
    naive_s = metrics.throughput(len(m.pages), m.naive.wall_seconds)
    per_request_s = metrics.throughput(len(m.pages), m.per_request.wall_seconds)
    best_s, best_point = metrics.best((p.docs_per_s, p) for p in headline.points)
    c1 = next((p for p in headline.points if p.concurrency == 1), None)
    overhead_ms = (metrics.overhead_seconds(c1.latency.p50, stages.served_latencies()) * 1e3) if c1 else math.nan
    speedup_naive = metrics.ratio(best_s, naive_s)
    fraction = metrics.ratio(best_s, bound)
    compare = _Comparison(naive_s, per_request_s, bound)
    ensemble = [compare.point(p, sum(core_seconds.values()), n_cores) for p in headline.points]
    served_ratio = metrics.served_cpu_vs_stages(
        [p.get("server_cpu_s_per_doc") for p in ensemble], sum(core_seconds.values())
    )
    quant = None
    if cfg.quantize:
        quant = {
            "mode": cfg.quantize,
            "pages": stages.accuracy,
            "build": quantization_report(m.artifacts.served_repository),
        }
    return {
        "schema": "layoutlmv3-triton-bench/1",
        "speedup_vs_naive": speedup_naive,
        "speedup_vs_per_request": metrics.ratio(best_s, per_request_s),
        "fraction_of_bound": fraction,
        "ensemble_docs_per_s": best_s,
        "ensemble_best_concurrency": best_point.concurrency,
        "overhead_ms_at_concurrency_1": overhead_ms,
        "served_cpu_vs_stages": served_ratio,
        "served_cpu_vs_stages_at_concurrency_1": next(
            (p.get("server_cpu_vs_stages") for p in ensemble if p["concurrency"] == 1), None
        ),
        "targets": metrics.Targets().check(speedup_naive, fraction, overhead_ms, served_ratio),
        "naive": compare.baseline(m.naive, naive_s),
        "per_request": compare.baseline(m.per_request, per_request_s),
        "ensemble": ensemble,
        "stages": {
            "cores": n_cores,
            "core_seconds": core_seconds,
            "compute_bound_docs_per_s": bound,
            "vs_naive": metrics.ratio(bound, naive_s),
            "vs_per_request": metrics.ratio(bound, per_request_s),
            **_stage_latencies(stages),
            "repeats": cfg.stage_repeats,
        },
        "quantization": quant,
        "ocr_engines": {
            engine: engine_summary(run, _Comparison(naive_s, per_request_s, run.bound), n_cores)
            for engine, run in m.runs.items()
        },
        "pages": _pages_section(cfg, m),
        "serving_options": {
            **{k: v for k, v in asdict(cfg.serving).items() if k not in ("preprocess", "model", "postprocess")},
            "model_threads": cfg.serving.model.intra_op_threads,
        },
        "settings": {
            "preset": cfg.preset,
            "quantize": cfg.quantize,
            "quick": cfg.quick,
            "pages": len(m.pages),
            "concurrency": list(cfg.concurrency),
            "passes": cfg.passes,
            "requests_per_level": m.requests_per_level,
            "repository": str(m.artifacts.served_repository),
            "model_dir": str(m.artifacts.model_dir),
            "ocr_engines": list(cfg.ocr_engines),
        },
        "machine": machine,
        "run_seconds": time.perf_counter() - started,
    }


@dataclass(frozen=True)
class _Comparison:
    """Throughputs every row of the report is compared with (documents per second)."""

    naive: float
    per_request: float
    bound: float

    def ratios(self, docs_per_s: float) -> dict:
        return {
            "vs_naive": metrics.ratio(docs_per_s, self.naive),
            "vs_per_request": metrics.ratio(docs_per_s, self.per_request),
            "fraction_of_bound": metrics.ratio(docs_per_s, self.bound),
        }

    def baseline(self, run, docs_per_s: float) -> dict:
        """One in-process baseline: throughput, latencies, ratios."""
        return {
            "docs_per_s": docs_per_s,
            **metrics.LatencySummary.of(run.latencies).as_ms(),
            **self.ratios(docs_per_s),
            "wall_seconds": run.wall_seconds,
            "mean_tokens": float(np.mean(run.tokens)),
            "cpu_s_per_doc": run.cpu_seconds / len(run.latencies),
        }

    def point(self, point, stage_core_seconds: float, n_cores: int) -> dict:
        """One concurrency level of the served sweep, with its ratios and CPU use."""
        d = point.as_dict()
        d.update(self.ratios(point.docs_per_s))
        if d.get("server_cpu_s_per_doc"):
            # how much more CPU a served document costs than the stages alone
            d["server_cpu_vs_stages"] = metrics.ratio(d["server_cpu_s_per_doc"], stage_core_seconds)
            busy = d["server_cpu_s_per_doc"] + (d.get("client_cpu_s_per_doc") or 0.0)
            d["cpu_utilization"] = metrics.ratio(busy * point.docs_per_s, n_cores)
        return d


# GPU hosts the report sizes the OCR bound for (N cores / OCR CPU per page).
GPU_HOST_CORES = (8, 16, 32)


def engine_summary(run: EngineRun, compare: _Comparison, n_cores: int) -> dict:
    """What the report compares across engines: CPU per page, what a GPU host keeps on its CPU, bounds."""
    from layoutlmv3_triton.measure.bench.stages import OCR_NETWORK_STAGES

    costs = run.core_seconds
    networks = sum(costs.get(s, 0.0) for s in OCR_NETWORK_STAGES)
    host_ocr = costs["ocr"]  # ppocr: what stays on the CPU when the networks run on a GPU
    points = [compare.point(p, sum(costs.values()), n_cores) for p in run.points]
    best = max((p["docs_per_s"] for p in points), default=math.nan)
    words = [len(w) for w in run.stages.words]
    return {
        "core_seconds": costs,
        "ocr_cpu_s_per_page": host_ocr + networks,
        "ocr_networks_s_per_page": networks,
        "host_ocr_cpu_s_per_page": host_ocr,
        "compute_bound_docs_per_s": run.bound,
        "mean_words": float(np.mean(words)) if words else 0.0,
        "ensemble": points,
        "ensemble_docs_per_s": best,
        "vs_naive": metrics.ratio(best, compare.naive),
        # a GPU host runs the model (and the ppocr networks) on its GPU; its cores bound the rest
        "gpu_host_ocr_bound_docs_per_s": {str(n): metrics.ratio(n, host_ocr) for n in GPU_HOST_CORES},
        "cores": n_cores,
    }


def _stage_latencies(stages) -> dict:
    """(d)'s per-page times and the model's batch-size and threading variants, in ms."""
    return {
        "per_page_ms": {k: [v * 1e3 for v in vals] for k, vals in stages.per_page.items()},
        "model_batch1_ms": float(np.mean(stages.per_page["model"])) * 1e3,
        "model_batched_ms": stages.model_batched_per_page * 1e3,
        "model_padded_ms": stages.model_padded_per_page * 1e3,
        "model_batch_size": stages.batch_size,
        "served_model_threads": stages.model_served_threads,
        "served_model_latency_ms": [v * 1e3 for v in stages.model_served_latency],
        "median_page_stage_latency_ms": metrics.percentile(metrics.per_page_totals(stages.served_latencies()), 50)
        * 1e3,
    }


def _pages_section(cfg: BenchConfig, m: _Measured) -> dict:
    """The pages measured: size, words, tokens, buckets, and how the two OCR runs agree."""
    stages = m.headline.stages
    identical, match = word_agreement(m.naive.words, stages.words)
    return {
        "count": len(m.pages),
        "width": m.pages[0].width,
        "height": m.pages[0].height,
        "source": str(cfg.pages_dir) if cfg.pages_dir is not None else "synthetic forms (synth.render_page)",
        "mean_words": float(np.mean([len(w) for w in stages.words])),
        "mean_tokens": float(np.mean(stages.tokens)),
        "mean_tokens_pytesseract": float(np.mean(m.naive.tokens)),
        "seq_buckets": {str(k): int(v) for k, v in zip(*np.unique(stages.seq_lengths, return_counts=True))},
        "windows": {str(k): int(v) for k, v in zip(*np.unique(stages.windows, return_counts=True))},
        "mean_windows": float(np.mean(stages.windows)),
        "ocr_identical_pages": identical,
        "ocr_word_match": match,
        **_versions(),
    }
