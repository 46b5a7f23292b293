"""PP-OCR's two ONNX graphs, from the installed ``rapidocr`` wheel, made servable.

The ``rapidocr`` wheel (Apache-2.0) carries PaddleOCR's PP-OCRv6-small text detector and
recogniser as ONNX files, the recogniser's character list in its metadata.  Only those
files are used (read from the installed distribution, never imported: rapidocr's own code
needs OpenCV, shapely, pyclipper and omegaconf).  Nothing is downloaded.

What changes in the graphs (the NOTICE file says so too):

- inputs and outputs take the contract's names (``page_image`` -> ``text_probability``;
  ``line_images`` -> ``char_ids``, ``char_scores``);
- the recogniser's last layer keeps only the characters of the chosen ``charset``
  (``latin``: Latin letters, digits, punctuation, Greek, symbols, about 700 of 18,708;
  ``full``: all); its softmax then runs over those, and the graph ends in the per-column
  argmax and its probability, so a line's output is two short vectors instead of
  ``columns x 18,710`` floats.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import RepositoryError

log = logging.getLogger(__name__)

DISTRIBUTION = "rapidocr"
DISTRIBUTION_VERSION = "3.10.0"
DETECTION_FILE = "rapidocr/models/PP-OCRv6_det_small.onnx"
RECOGNITION_FILE = "rapidocr/models/PP-OCRv6_rec_small.onnx"
CHARSETS = ("latin", "full")
DEFAULT_CHARSET = "latin"
# Unicode ranges the latin charset keeps besides Basic Latin .. Latin Extended-B (< U+0250).
_LATIN_EXTRA = (
    (0x0370, 0x0400),  # Greek (mu, Omega, ...)
    (0x2000, 0x2190),  # punctuation, super- and subscripts, currency, letterlike, number forms
    (0x25A0, 0x2600),  # geometric shapes: the boxes of forms
    (0x2610, 0x2613),  # ballot boxes
    (0x2713, 0x2719),  # check marks and crosses
)


def keeps(char: str, charset: str) -> bool:
    if charset == "full":
        return True
    code = ord(char) if len(char) == 1 else -1
    return 0 <= code < 0x250 or any(low <= code < high for low, high in _LATIN_EXTRA)


def package_file(relative: str) -> Path:
    """A file of the installed rapidocr distribution, located without importing it."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise RepositoryError(
            f"the {DISTRIBUTION} wheel is not installed; the ppocr engine (the GPU variants' "
            f"default) takes its ONNX files from it: pip install --no-deps "
            f"{DISTRIBUTION}=={DISTRIBUTION_VERSION}, or build with --ocr-engine tesseract"
        ) from exc
    if distribution.version != DISTRIBUTION_VERSION:
        log.warning(
            "%s %s is installed; the ppocr engine was measured with %s",
            DISTRIBUTION,
            distribution.version,
            DISTRIBUTION_VERSION,
        )
    path = Path(str(distribution.locate_file(relative)))
    if not path.is_file():
        raise RepositoryError(f"{relative} is missing from the installed {DISTRIBUTION} {distribution.version}")
    return path


def _rename(graph, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new


def detection_graph():
    """The detector with the contract's tensor names."""
    import onnx

    model = onnx.load(str(package_file(DETECTION_FILE)))
    _rename(model.graph, model.graph.input[0].name, contract.OCR_PAGE.name)
    _rename(model.graph, model.graph.output[0].name, contract.OCR_TEXT_MAP.name)
    return model


def recognition_graph(charset: str = DEFAULT_CHARSET):
    """The recogniser cut to ``charset`` and ending in its per-column argmax; and the characters
    of its ids (id 0 is CTC's blank, written as "")."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    if charset not in CHARSETS:
        raise RepositoryError(f"unknown OCR charset {charset!r}; choose from {', '.join(CHARSETS)}")
    model = onnx.load(str(package_file(RECOGNITION_FILE)))
    graph = model.graph
    meta = {p.key: p.value for p in model.metadata_props}
    chars = ["", *meta["character"].splitlines(), " "]  # PaddleOCR's CTC classes: blank, dictionary, space
    softmax = next(n for n in graph.node if n.output[0] == graph.output[0].name)
    if softmax.op_type != "Softmax":
        raise RepositoryError(f"{RECOGNITION_FILE} does not end in a Softmax")
    producers = {out: node for node in graph.node for out in node.output}
    add = producers[softmax.input[0]]
    while add.op_type == "Identity":
        add = producers[add.input[0]]
    matmul = producers[add.input[0]]
    weights = {t.name: t for t in graph.initializer}
    weight, bias = weights[matmul.input[1]], weights[add.input[1]]
    if numpy_helper.to_array(weight).shape[-1] != len(chars):
        raise RepositoryError(f"{RECOGNITION_FILE}: {len(chars)} characters for a last layer of shape {weight.dims}")
    kept = [i for i, c in enumerate(chars) if i == 0 or keeps(c, charset)]
    weight.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(weight)[:, kept]), weight.name))
    bias.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(bias)[kept]), bias.name))
    probabilities = graph.output[0].name
    del graph.output[:]
    del graph.value_info[:]  # shapes recorded for the full layer no longer hold
    graph.node.extend(
        [
            helper.make_node("ArgMax", [probabilities], [contract.OCR_CHAR_IDS.name], axis=2, keepdims=0),
            helper.make_node("ReduceMax", [probabilities], [contract.OCR_CHAR_SCORES.name], axes=[2], keepdims=0),
        ]
    )
    graph.output.extend(
        [
            helper.make_tensor_value_info(contract.OCR_CHAR_IDS.name, onnx.TensorProto.INT64, ["batch", "columns"]),
            helper.make_tensor_value_info(contract.OCR_CHAR_SCORES.name, onnx.TensorProto.FLOAT, ["batch", "columns"]),
        ]
    )
    _rename(graph, graph.input[0].name, contract.OCR_LINES.name)
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    return model, [chars[i] for i in kept]


@dataclass
class OcrModelFiles:
    detection: Path
    recognition: Path
    charset: Path


def write_charset(chars: list[str], path: Path) -> Path:
    if any("\n" in c for c in chars):
        raise RepositoryError("a recogniser character holds a line break")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(c + "\n" for c in chars), encoding="utf-8")
    return path


def write_ocr_models(
    detection: Path, recognition: Path, charset_file: Path, charset: str = DEFAULT_CHARSET
) -> OcrModelFiles:
    """Write both graphs and the character list (one per line, line ``i`` is id ``i``)."""
    import onnx

    for path in (detection, recognition):
        path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(detection_graph(), str(detection))
    model, chars = recognition_graph(charset)
    onnx.save(model, str(recognition))
    write_charset(chars, charset_file)
    log.info("PP-OCR: detector %s, recogniser %s (%d characters, %s)", detection, recognition, len(chars), charset)
    return OcrModelFiles(detection, recognition, charset_file)


def package_models(charset: str = DEFAULT_CHARSET, threads: int = 1):
    """The two networks on onnxruntime, straight from the installed wheel, for reading pages
    where there is no model repository (training's OCR relabelling, the OCR sweep).  The graphs
    are the ones build-repo writes, kept in a temporary folder until the sessions hold them."""
    import shutil
    import tempfile

    from layoutlmv3_triton.serving.ppocr.engine import onnx_models

    folder = Path(tempfile.mkdtemp(prefix="ppocr-"))
    try:
        files = write_ocr_models(
            folder / "detection.onnx", folder / "recognition.onnx", folder / "charset.txt", charset
        )
        return onnx_models(files.detection, files.recognition, files.charset, threads)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
