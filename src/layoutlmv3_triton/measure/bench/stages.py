"""(d) What each stage of the ensemble costs on its own, on one core.

The stages are exactly the work the served steps do (the same classes, the same files,
the repository's own ``config.pbtxt`` parameters), called in this process without a server:

* ``ocr``: load the document (decode, limits) and read it with the repository's OCR engine
  (``Preprocessor.read``): Tesseract (tesserocr, one reused engine; its bundled Tesseract is
  single-threaded), or PP-OCR, whose two networks are then stages of their own, ``detection``
  and ``recognition`` (the repository's ONNX graphs in single-threaded onnxruntime sessions),
  while ``ocr`` keeps what stays on the CPU when they run on a GPU (page scaling, box
  extraction, line crops, decoding);
* ``encode``: tokenizer + image processor into the page's windows (a page longer than one
  sequence becomes several overlapping windows), stacked into the step's output tensors with
  the page record as JSON, as the preprocess step returns them;
* ``model``: ONNX Runtime with one intra-op thread on all the page's windows at once (one
  request of the model step);
* ``decode``: the postprocess step's ``documents`` on the page's windows: merged per-word
  labels, entities and the JSON result.

Each stage runs single-threaded and its cost is the CPU time this process spent on it
(``time.process_time``): core-seconds, which other work on a shared machine does not
inflate the way it inflates wall time.  ``cores / sum(stage costs)`` bounds the
documents per second of any pipeline made of these stages on this machine
(:func:`.metrics.compute_bound`).  For the model the cheaper of one page per run and
batches of ``batch_size`` pages (grouped by length, as the model step runs them) counts,
so the bound stays an upper bound whatever the batcher does; batches padded to their
longest page are timed too, to show what padding costs.  Wall times are kept too: they
are the stage latencies a request sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from layoutlmv3_triton import contract

if TYPE_CHECKING:  # the serving classes are imported when the stages run
    from layoutlmv3_triton.serving.decoding import Postprocessor
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier
    from layoutlmv3_triton.serving.page import Page
    from layoutlmv3_triton.serving.preprocessor import Preprocessor
    from layoutlmv3_triton.serving.settings import ModelParameters

STAGES = ("ocr", "encode", "model", "decode")
OCR_NETWORK_STAGES = ("detection", "recognition")  # the ppocr engine's networks, timed apart from "ocr"


@dataclass
class StageRun:
    per_page: dict[str, list[float]]  # stage -> CPU seconds per page, single-threaded
    per_page_wall: dict[str, list[float]]  # stage -> wall seconds per page
    model_batched_per_page: float  # CPU seconds per page in batches of batch_size, grouped by length
    batch_size: int
    model_served_threads: int
    model_served_latency: list[float]  # model seconds per page at batch 1 with the served thread count
    model_padded_per_page: float = 0.0  # CPU seconds per page in batches padded to their longest page
    words: list[list[str]] = field(default_factory=list)
    seq_lengths: list[int] = field(default_factory=list)  # bucket length of each page's windows
    windows: list[int] = field(default_factory=list)  # windows (model rows) per page
    tokens: list[int] = field(default_factory=list)  # real tokens per page, over all its windows
    accuracy: dict | None = None  # served model vs fp32 on these pages (quantized variant only)

    def core_seconds(self) -> dict[str, float]:
        """Mean cost per document of each stage; the model's is the cheaper of batch 1 and batched."""
        costs = {stage: float(np.mean(values)) for stage, values in self.per_page.items()}
        costs["model"] = min(costs["model"], self.model_batched_per_page)
        return costs

    def served_latencies(self) -> dict[str, list[float]]:
        """Per-page stage latencies (wall) as the served configuration runs them at concurrency 1."""
        out = {k: list(v) for k, v in self.per_page_wall.items()}
        out["model"] = list(self.model_served_latency)
        return out


def _timed(fn: Callable, repeats: int) -> tuple[float, float, object]:
    """(mean CPU seconds, mean wall seconds, last result) over ``repeats`` calls."""
    cpu, wall, result = [], [], None
    for _ in range(max(1, repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.mean(cpu)), float(np.mean(wall)), result


def _record(run: StageRun, stage: str, timing: tuple[float, float, object]):
    run.per_page[stage].append(timing[0])
    run.per_page_wall[stage].append(timing[1])
    return timing[2]


def label_agreement(reference: np.ndarray, other: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(max |logit diff|, fraction of argmax labels that agree) over the masked tokens."""
    mask = mask.astype(bool)
    diff = float(np.abs(reference - other)[mask].max()) if mask.any() else 0.0
    agree = float((reference.argmax(-1) == other.argmax(-1))[mask].mean()) if mask.any() else 1.0
    return diff, agree


class _NetworkClock:
    """CPU seconds spent inside the ppocr engine's two networks, per page read."""

    def __init__(self, models):
        self.seconds = dict.fromkeys(OCR_NETWORK_STAGES, 0.0)
        self.wall = dict.fromkeys(OCR_NETWORK_STAGES, 0.0)
        models.detect = self._timed("detection", models.detect)
        models.recognise = self._timed("recognition", models.recognise)

    def _timed(self, stage: str, fn: Callable) -> Callable:
        def run(array):
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                return fn(array)
            finally:
                self.seconds[stage] += time.process_time() - c0
                self.wall[stage] += time.perf_counter() - t0

        return run

    def take(self) -> tuple[dict[str, float], dict[str, float]]:
        out = (dict(self.seconds), dict(self.wall))
        self.seconds, self.wall = dict.fromkeys(OCR_NETWORK_STAGES, 0.0), dict.fromkeys(OCR_NETWORK_STAGES, 0.0)
        return out

    def split_off(self, run: StageRun, repeats: int) -> None:
        """The networks' share of the page's last ``ocr`` timing becomes their own stages."""
        cpu, wall = self.take()
        for stage in OCR_NETWORK_STAGES:
            run.per_page[stage].append(cpu[stage] / repeats)
            run.per_page_wall[stage].append(wall[stage] / repeats)
            run.per_page["ocr"][-1] -= cpu[stage] / repeats
            run.per_page_wall["ocr"][-1] -= wall[stage] / repeats


@dataclass
class ServedSteps:
    """The three steps' logic objects, built from a repository as its ``config.pbtxt`` files
    say, and a clock on the ppocr engine's networks (None for Tesseract)."""

    pre: Preprocessor
    post: Postprocessor
    onnx_path: Path
    model_params: ModelParameters
    dtypes: dict[str, str]  # the preprocess step's output dtypes
    clock: _NetworkClock | None

    @classmethod
    def of(cls, repository: Path) -> ServedSteps:
        from layoutlmv3_triton.serving.decoding import Postprocessor
        from layoutlmv3_triton.serving.pipeline import repository_ocr_models, repository_parameters
        from layoutlmv3_triton.serving.preprocessor import Preprocessor
        from layoutlmv3_triton.serving.settings import ModelParameters, PostprocessParameters, PreprocessParameters

        def params(kind, model: str):
            return kind.from_parameters(repository_parameters(repository, model))

        clock = []

        def ocr_models():
            made = repository_ocr_models(repository)
            clock.append(_NetworkClock(made))
            return made

        pre = Preprocessor(
            repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR,
            params(PreprocessParameters, contract.PREPROCESS),
            ocr_models,
        )
        post_params = params(PostprocessParameters, contract.POSTPROCESS)
        post = Postprocessor(repository / contract.POSTPROCESS / "1" / post_params.model_config_file)
        model_params = params(ModelParameters, contract.MODEL)
        dtypes = {t.name: t.numpy_dtype for t in contract.PREPROCESS_OUTPUTS}  # the local model step's
        return cls(
            pre,
            post,
            repository / contract.MODEL / "1" / model_params.onnx_file,
            model_params,
            dtypes,
            clock[0] if clock else None,
        )

    def model(self, threads: int) -> OnnxTokenClassifier:
        from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

        p = self.model_params
        return OnnxTokenClassifier(
            self.onnx_path,
            threads,
            allow_spinning=p.allow_spinning,
            optimization=p.graph_optimization,
            memory_arena=p.cpu_memory_arena,
        )


def measure_stages(
    repository: Path,
    documents: Sequence[bytes],
    *,
    repeats: int = 1,
    batch_size: int = 4,
    served_threads: int = 1,
    reference_onnx: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> StageRun:
    """Time every stage on every page.  ``reference_onnx``: an fp32 model to compare the served one with."""
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    tick = progress or (lambda _stage: None)
    steps = ServedSteps.of(Path(repository))
    stages = STAGES if steps.clock is None else (*STAGES, *OCR_NETWORK_STAGES)
    per_page: dict[str, list[float]] = {s: [] for s in stages}
    run = StageRun(per_page, {s: [] for s in stages}, 0.0, batch_size, served_threads, [])
    try:
        outputs = _read_and_encode(run, steps, documents, repeats, tick)
    finally:
        steps.pre.close()
    inputs = [{t.name: out[t.name] for t in contract.MODEL_INPUTS} for out in outputs]
    logits = _model(run, steps.model(threads=1), inputs, repeats, tick)
    if served_threads == 1:
        run.model_served_latency = list(run.per_page_wall["model"])
    else:
        served = steps.model(threads=served_threads)
        served.run_many(inputs[:1])
        for feed in inputs:
            run.model_served_latency.append(_timed(lambda: served.run_many([feed]), repeats)[1])
        del served
    _decode(run, steps.post, logits, outputs, repeats, tick)
    if reference_onnx is not None and Path(reference_onnx).is_file():
        run.accuracy = _accuracy(
            OnnxTokenClassifier(reference_onnx, threads=1), Path(reference_onnx), inputs, outputs, logits, tick
        )
    return run


def _read_and_encode(
    run: StageRun, steps: ServedSteps, documents: Sequence[bytes], repeats: int, tick: Callable[[str], None]
) -> list[dict[str, np.ndarray]]:
    """``ocr`` (with the ppocr engine's networks apart, when the steps' clock times them) and
    ``encode`` of every page; returns what the preprocess step would send on, per page."""
    for data in documents[:1]:
        steps.pre.read(data)  # warm the engine (the first call loads the models)
    clock = steps.clock
    if clock is not None:
        clock.take()
    outputs = []
    for data in documents:
        pages = _record(run, "ocr", _timed(lambda: steps.pre.read(data), repeats))
        if clock is not None:
            clock.split_off(run, repeats)
        out = _record(run, "encode", _timed(lambda: encode_as_served(steps, pages), repeats))
        outputs.append(out)
        run.words.append([w.text for page in pages for w in page.words])
        mask = out[contract.ATTENTION_MASK.name]
        run.seq_lengths.append(int(mask.shape[1]))
        run.windows.append(int(mask.shape[0]))
        run.tokens.append(int(mask.sum()))
        tick("ocr")
    return outputs


def encode_as_served(steps: ServedSteps, pages: list[Page]) -> dict[str, np.ndarray]:
    """The preprocess step's outputs for one document whose pages were read: its windows
    stacked into the model's input tensors, word maps and page records."""
    from layoutlmv3_triton.serving.steps.preprocess import step_outputs

    pre = steps.pre
    encoded = pre.encoder.encode_windows(
        [p.image for p in pages], [[w.text for w in p.words] for p in pages], [pre.model_boxes(p) for p in pages]
    )
    for page, windows in zip(pages, encoded):
        page.windows = windows
    return step_outputs(pages, steps.dtypes)


def _model(
    run: StageRun, model: OnnxTokenClassifier, inputs: list[dict], repeats: int, tick: Callable[[str], None]
) -> list[np.ndarray]:
    """``model`` on each page's windows as one request (its logits), then in batches of pages
    as the model step runs them (rows grouped by length, so unpadded) and padded to the longest."""
    model.run_many(inputs[:1])  # warm-up: the first run allocates
    logits = []
    for feed in inputs:
        logits.append(_record(run, "model", _timed(lambda: model.run_many([feed])[0], repeats)))
        tick("model")
    run.model_batched_per_page = _batched_cost(model, inputs, run.batch_size)
    run.model_padded_per_page = _batched_cost(model, inputs, run.batch_size, pad_across_lengths=True)
    tick("model")
    return logits


def _batched_cost(
    model: OnnxTokenClassifier, inputs: list[dict[str, np.ndarray]], batch_size: int, pad_across_lengths: bool = False
) -> float:
    """CPU seconds per page when ``batch_size`` pages' requests run together, as the model step runs them."""
    start = time.process_time()
    for i in range(0, len(inputs), batch_size):
        model.run_many(inputs[i : i + batch_size], pad_across_lengths=pad_across_lengths)
    return (time.process_time() - start) / len(inputs)


def _decode(
    run: StageRun,
    post: Postprocessor,
    logits: list[np.ndarray],
    outputs: list[dict[str, np.ndarray]],
    repeats: int,
    tick: Callable[[str], None],
) -> None:
    """``decode`` of every page from its windows, as the postprocess step receives them (page records as JSON)."""
    for out, page_logits in zip(outputs, logits):
        word_ids, page_words = out[contract.WORD_IDS.name], out[contract.PAGE_WORDS.name]
        _record(run, "decode", _timed(lambda: post.documents(page_logits, word_ids, page_words), repeats))
        tick("decode")


def _accuracy(
    reference: OnnxTokenClassifier,
    reference_path: Path,
    inputs: list[dict],
    outputs: list[dict[str, np.ndarray]],
    logits: list[np.ndarray],
    tick: Callable[[str], None],
) -> dict:
    """How the served model's logits and labels agree with ``reference`` (fp32) on the same windows."""
    diffs, agree, word_agree, n_words = [], [], 0, 0
    for feed, out, served in zip(inputs, outputs, logits):
        ref = reference.run(feed)
        d, a = label_agreement(ref, served, feed[contract.ATTENTION_MASK.name])
        diffs.append(d)
        agree.append(a)
        for row, word_ids in enumerate(out[contract.WORD_IDS.name]):
            first = _first_subtokens(word_ids)
            word_agree += int((ref[row][first].argmax(-1) == served[row][first].argmax(-1)).sum())
            n_words += len(first)
        tick("model")
    return {
        "reference": str(reference_path),
        "max_abs_logit_diff": float(max(diffs)),
        "token_label_agreement": float(np.mean(agree)),
        "word_label_agreement": word_agree / n_words if n_words else 1.0,
        "pages": len(inputs),
    }


def _first_subtokens(word_ids: np.ndarray) -> np.ndarray:
    seen, first = set(), []
    for position, word in enumerate(word_ids.tolist()):
        if word >= 0 and word not in seen:
            seen.add(word)
            first.append(position)
    return np.array(first, dtype=np.int64)
