"""Build-time checks of the Docker images: fail the build, not the first user.

Each check builds what it needs offline (a tiny tokenizer, processor and model from
:mod:`layoutlmv3_triton.training.scratch`) and runs it through the same code that the
image serves or trains with:

* ``workflow`` (docker/workflow.Dockerfile): transformers sees the image's torch (transformers
  5 disables torch below 2.6, and NGC's ``2.6.0a0`` counts as below), and a tiny LayoutLMv3
  model and processor load and run a page.
* ``server`` (docker/server.Dockerfile): Tesseract reads a rendered page through tesserocr,
  a tiny processor loads through the image's transformers and encodes it, and torch stays
  out of the image (``--no-torch``: the server image has none).

  python -m layoutlmv3_triton.images.checks workflow
  python -m layoutlmv3_triton.images.checks server --no-torch
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError

SAMPLE_WORDS = ["Invoice", "Number", "12345", "Date", "2024-10-01", "Total", "Amount", "Due", "Name", "Address"]


class ImageCheckError(LayoutLMv3TritonError):
    """The image lacks something that serving or training needs."""


def check_transformers_sees_torch() -> str:
    import torch
    import transformers
    from transformers.utils import is_torch_available

    if not is_torch_available():
        raise ImageCheckError(
            f"transformers {transformers.__version__} does not see torch {torch.__version__}: transformers 5 "
            "disables torch below 2.6 (a pre-release such as 2.6.0a0 counts as below). "
            "Build on a newer release pin (TRITON_RELEASE in .env)."
        )
    return f"transformers {transformers.__version__} sees torch {torch.__version__}"


def build_tiny_processor(out_dir: Path) -> Path:
    """A LayoutLMv3 processor (tokenizer trained on a few words + image processor) in ``out_dir``."""
    from layoutlmv3_triton.training.scratch import make_processor, train_tokenizer

    texts = [" ".join(SAMPLE_WORDS)] * 4
    make_processor(train_tokenizer(texts, vocab_size=300)).save_pretrained(out_dir)
    return out_dir


def sample_page():
    """A white page with the sample words in a large font, and their pixel boxes."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1000, 400), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    boxes, x, y = [], 20, 40
    for word in SAMPLE_WORDS:
        left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        if right > image.width - 20:
            x, y = 20, y + 80
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        draw.text((x, y), word, fill="black", font=font)
        boxes.append((left, top, right, bottom))
        x = right + 30
    return image, boxes


def encode_sample(processor_dir: Path):
    from layoutlmv3_triton.serving.encoding import PageEncoder

    image, boxes = sample_page()
    window = PageEncoder(processor_dir).encode(image, SAMPLE_WORDS, boxes)
    expected = (3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)
    if window.pixel_values.shape != expected or int(window.attention_mask.sum()) < len(SAMPLE_WORDS):
        raise ImageCheckError(
            f"the processor encoded the sample page wrongly: pixel_values "
            f"{window.pixel_values.shape} (want {expected}), {int(window.attention_mask.sum())} tokens"
        )
    return window


def check_workflow(work: Path) -> list[str]:
    """transformers sees torch; a tiny LayoutLMv3 model and processor load and label a page."""
    import numpy as np
    import torch
    from transformers import LayoutLMv3ForTokenClassification

    from layoutlmv3_triton.synth import FUNSD_LABELS, corpus_texts
    from layoutlmv3_triton.training.scratch import build_from_scratch

    notes = [check_transformers_sees_torch()]
    folder = build_from_scratch(work / "tiny", corpus_texts(20, seed=0), FUNSD_LABELS, preset="tiny", vocab_size=600)
    model = LayoutLMv3ForTokenClassification.from_pretrained(str(folder), local_files_only=True).eval()
    window = encode_sample(folder)
    with torch.no_grad():
        logits = model(**{k: torch.from_numpy(np.asarray(v)[None]) for k, v in window.model_inputs().items()}).logits
    if tuple(logits.shape) != (1, len(window.input_ids), len(FUNSD_LABELS)):
        raise ImageCheckError(f"tiny LayoutLMv3 returned logits of shape {tuple(logits.shape)}")
    notes.append(f"tiny LayoutLMv3 ({sum(p.numel() for p in model.parameters())} parameters) labelled a page")
    notes.append(check_ppocr_files())
    return notes


def check_ppocr_files() -> str:
    """build-repo's PP-OCR networks (--ocr-engine ppocr, the GPU variants' default) come from
    the rapidocr wheel's files; its code and dependencies are not needed, nor installed."""
    import importlib.metadata

    try:
        distribution = importlib.metadata.distribution("rapidocr")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ImageCheckError(
            "the rapidocr wheel is missing: build-repo cannot write the ppocr engine's models"
        ) from exc
    onnx_files = [f for f in distribution.files or () if str(f).endswith(".onnx")]
    if len(onnx_files) < 2:
        raise ImageCheckError(f"rapidocr {distribution.version} carries {len(onnx_files)} ONNX files, not PP-OCR's two")
    return f"rapidocr {distribution.version} carries PP-OCR's ONNX files"


def check_server(work: Path, no_torch: bool = False) -> list[str]:
    """Tesseract reads a page; a tiny processor loads through transformers and encodes it;
    with ``no_torch``, torch is not installed (transformers would import it if it were)."""
    import importlib.util

    import tesserocr

    from layoutlmv3_triton.serving.ocr import TesseractEngine

    image, _ = sample_page()
    with TesseractEngine() as engine:
        words = engine.read(image)
    found = {w.text for w in words} & set(SAMPLE_WORDS)
    if len(found) < len(SAMPLE_WORDS) // 2:
        raise ImageCheckError(f"Tesseract {tesserocr.tesseract_version().splitlines()[0]} read only {sorted(found)}")
    window = encode_sample(build_tiny_processor(work / "processor"))
    if no_torch and importlib.util.find_spec("torch") is not None:
        raise ImageCheckError("torch is installed: the server image's extra (serving) must not pull it in")
    return [
        f"{tesserocr.tesseract_version().splitlines()[0]} read {len(words)} words",
        f"tiny processor encoded the page into {len(window.input_ids)} tokens",
        check_ppocr_host(image),
    ]


def check_ppocr_host(image) -> str:
    """PP-OCR's host side (ocr_engine=ppocr: the networks run as Triton models) works with what
    the image has, numpy and Pillow: a text line found on a probability map, cut out and decoded."""
    import numpy as np

    from layoutlmv3_triton.serving.ppocr import detection, recognition

    prob = np.zeros((64, 256), dtype=np.float32)
    prob[20:30, 20:200] = 0.9
    boxes = detection.boxes_from_map(prob, image.size)
    crops = [recognition.crop_line(image, box, 2400) for box in boxes]
    line = recognition.ctc_decode(np.array([0, 1, 1, 0, 2]), np.ones(5), ["", "o", "k"], 5)
    if len(crops) != 1 or crops[0].image.height != recognition.HEIGHT or line.text != "ok":
        raise ImageCheckError("PP-OCR's box extraction, line crops or CTC decoding failed")
    return "PP-OCR's box extraction, line crops and CTC decoding ran (numpy and Pillow only)"


CHECKS = {"workflow": check_workflow, "server": check_server}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m layoutlmv3_triton.images.checks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", choices=sorted(CHECKS))
    parser.add_argument("--no-torch", action="store_true", help="server: fail if torch is installed")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="image-check-") as tmp:
        try:
            kwargs = {"no_torch": True} if args.no_torch else {}
            notes = CHECKS[args.image](Path(tmp), **kwargs)
        except ImageCheckError as exc:
            print(f"image check ({args.image}) failed: {exc}", file=sys.stderr)
            return 1
    for note in notes:
        print(f"image check ({args.image}): {note}")
    print(f"image check ({args.image}): passed in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
