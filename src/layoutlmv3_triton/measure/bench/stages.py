"""(d) What each stage of the ensemble costs on its own, on one core.

The stages are exactly the code the served steps run (the same classes, the same
files), called in this process without a server:

* ``ocr``: decode the encoded image and read it with the repository's OCR engine: Tesseract
  (tesserocr, one reused engine; its bundled Tesseract is single-threaded), or PP-OCR, whose
  two networks are then stages of their own, ``detection`` and ``recognition`` (the
  repository's ONNX graphs in single-threaded onnxruntime sessions), while ``ocr`` keeps what
  stays on the CPU when they run on a GPU (page scaling, box extraction, line crops, decoding);
* ``encode``: tokenizer + image processor, padded to the sequence bucket;
* ``model``: ONNX Runtime with one intra-op thread at the page's bucket length;
* ``decode``: first-sub-token labels, entities and the JSON result.

Each stage runs single-threaded and its cost is the CPU time this process spent on it
(``time.process_time``): core-seconds, which other work on a shared machine does not
inflate the way it inflates wall time.  ``cores / sum(stage costs)`` bounds the
documents per second of any pipeline made of these stages on this machine
(:func:`.metrics.compute_bound`).  For the model the cheaper of batch 1 and batches of
``batch_size`` (grouped by length, as the model step runs them) counts, so the bound
stays an upper bound whatever the batcher does; batches padded to their longest page
are timed too, to show what padding costs.  Wall times are kept too: they are the stage latencies a request sees.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.records import PageRecord

if TYPE_CHECKING:  # the serving classes are imported when the stages run
    from layoutlmv3_triton.serving.decoding import Postprocessor
    from layoutlmv3_triton.serving.encoding import EncodedWindow, PageEncoder
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier
    from layoutlmv3_triton.serving.ocr_engines import OcrEngine

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
    seq_lengths: list[int] = field(default_factory=list)  # bucket length per page
    tokens: list[int] = field(default_factory=list)  # real tokens per page
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


def _record(run: "StageRun", stage: str, timing: tuple[float, float, object]):
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


def _ocr_engine(repository: Path) -> tuple[OcrEngine, _NetworkClock | None]:
    """The repository's OCR engine as its preprocess step builds it, and a clock on the ppocr
    engine's networks (None for Tesseract)."""
    from layoutlmv3_triton.serving.ocr_engines import open_engine
    from layoutlmv3_triton.serving.pipeline import repository_ocr_models, repository_parameters
    from layoutlmv3_triton.serving.settings import PreprocessParameters

    params = PreprocessParameters.from_parameters(repository_parameters(repository, contract.PREPROCESS))
    clock = []

    def models():
        made = repository_ocr_models(repository)
        clock.append(_NetworkClock(made))
        return made

    engine = open_engine(params.ocr, params.ppocr, models)
    return engine, (clock[0] if clock else None)


def measure_stages(repository: Path, documents: Sequence[bytes], *, repeats: int = 1, batch_size: int = 4,
                   served_threads: int = 1, reference_onnx: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> StageRun:
    """Time every stage on every page.  ``reference_onnx``: an fp32 model to compare the served one with."""
    from layoutlmv3_triton.serving.decoding import Postprocessor
    from layoutlmv3_triton.serving.encoding import PageEncoder
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    repository = Path(repository)
    tick = progress or (lambda _stage: None)
    encoder = PageEncoder(repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR)
    post = Postprocessor(repository / contract.POSTPROCESS / "1" / contract.MODEL_CONFIG_FILE)
    onnx_path = repository / contract.MODEL / "1" / contract.ONNX_FILE
    model = OnnxTokenClassifier(onnx_path, threads=1)
    engine, clock = _ocr_engine(repository)
    stages = STAGES if clock is None else (*STAGES, *OCR_NETWORK_STAGES)
    per_page: dict[str, list[float]] = {s: [] for s in stages}
    run = StageRun(per_page, {s: [] for s in stages}, 0.0, batch_size, served_threads, [])
    with engine:
        encoded, records = _ocr_and_encode(run, documents, engine, clock, encoder, repeats, tick)
    inputs = [{k: v[None] for k, v in page.model_inputs().items()} for page in encoded]
    logits = _model(run, model, inputs, repeats, tick)
    if served_threads == 1:
        run.model_served_latency = list(run.per_page_wall["model"])
    else:
        served = OnnxTokenClassifier(onnx_path, threads=served_threads)
        served.run(inputs[0])
        for feed in inputs:
            run.model_served_latency.append(_timed(lambda: served.run(feed), repeats)[1])
        del served
    _decode(run, post, logits, encoded, records, repeats, tick)
    if reference_onnx is not None and Path(reference_onnx).is_file():
        run.accuracy = _accuracy(Path(reference_onnx), inputs, logits, encoded, tick)
    return run


def _ocr_and_encode(run: StageRun, documents: Sequence[bytes], engine: OcrEngine, clock: _NetworkClock | None,
                    encoder: PageEncoder, repeats: int,
                    tick: Callable[[str], None]) -> tuple[list[EncodedWindow], list[PageRecord]]:
    """``ocr`` (with the ppocr engine's networks apart, when ``clock`` times them) and ``encode``
    of every page: (its encoded window, its page record)."""
    from layoutlmv3_triton.serving.images import decode_image
    from layoutlmv3_triton.serving.page import Page

    encoded, records = [], []
    for data in documents:
        engine.read(decode_image(data))  # warm the engine (first call loads the models)
        break
    if clock is not None:
        clock.take()
    for data in documents:
        def ocr():
            image = decode_image(data)
            return image, engine.read(image)
        image, words = _record(run, "ocr", _timed(ocr, repeats))
        if clock is not None:
            clock.split_off(run, repeats)
        texts, boxes = [w.text for w in words], [w.box for w in words]
        page = _record(run, "encode", _timed(lambda: encoder.encode(image, texts, boxes), repeats))
        encoded.append(page)
        records.append(Page(image, words=words).record())
        run.words.append(texts)
        run.seq_lengths.append(int(page.input_ids.shape[0]))
        run.tokens.append(int(page.attention_mask.sum()))
        tick("ocr")
    return encoded, records


def _model(run: StageRun, model: OnnxTokenClassifier, inputs: list[dict], repeats: int,
           tick: Callable[[str], None]) -> list[np.ndarray]:
    """``model`` at batch 1 per page (its logits), then in batches as the model step runs them
    (grouped by length, so unpadded) and padded to the longest page."""
    model.run(inputs[0])  # warm-up: the first run allocates
    logits = []
    for feed in inputs:
        logits.append(_record(run, "model", _timed(lambda: model.run(feed), repeats)))
        tick("model")
    batch_size = run.batch_size
    start = time.process_time()
    for i in range(0, len(inputs), batch_size):
        model.run_many(inputs[i:i + batch_size])
    run.model_batched_per_page = (time.process_time() - start) / len(inputs)
    start = time.process_time()
    for i in range(0, len(inputs), batch_size):
        model.run_many(inputs[i:i + batch_size], pad_across_lengths=True)
    run.model_padded_per_page = (time.process_time() - start) / len(inputs)
    tick("model")
    return logits


def _decode(run: StageRun, post: Postprocessor, logits: list[np.ndarray], encoded: list[EncodedWindow],
            records: list[PageRecord], repeats: int, tick: Callable[[str], None]) -> None:
    """``decode`` of every page, from its page record as JSON as the postprocess step receives it."""
    for out, page, record in zip(logits, encoded, records):
        def decode():
            parsed = PageRecord.from_json(record.to_json())  # the step receives the page record as JSON
            return post.document([post.page(out[0], page.word_ids, parsed)])
        _record(run, "decode", _timed(decode, repeats))
        tick("decode")


def _accuracy(reference_onnx: Path, inputs: list[dict], logits: list[np.ndarray], encoded: list[EncodedWindow],
              tick: Callable[[str], None]) -> dict:
    """How the served model's labels agree with the fp32 model ``reference_onnx`` on these pages."""
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    reference = OnnxTokenClassifier(reference_onnx, threads=1)
    diffs, agree, word_agree, n_words = [], [], 0, 0
    for feed, out, page in zip(inputs, logits, encoded):
        ref = reference.run(feed)
        d, a = label_agreement(ref[0], out[0], feed[contract.ATTENTION_MASK.name][0])
        diffs.append(d)
        agree.append(a)
        first = _first_subtokens(page.word_ids)
        word_agree += int((ref[0][first].argmax(-1) == out[0][first].argmax(-1)).sum())
        n_words += len(first)
        tick("model")
    return {
        "reference": str(reference_onnx),
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
