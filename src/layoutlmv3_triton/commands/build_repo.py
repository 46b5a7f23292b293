"""Export a from_pretrained LayoutLMv3 token classifier to ONNX (dynamo exporter), check
parity against PyTorch at several (batch, seq) shapes, place the processor and labels,
and write every config.pbtxt from the contract.

examples:
  layoutlmv3-triton build-repo --model artifacts/demo-model --repository model_repository
  layoutlmv3-triton build-repo --tiny                       # random tiny model, offline
  layoutlmv3-triton build-repo --model m/ --variant onnxruntime-gpu --repository /srv/models
  layoutlmv3-triton build-repo --preset base --quantize int8   # serve a dynamically quantized INT8 model
  layoutlmv3-triton build-repo --tiny --ocr-engine ppocr   # read pages with PP-OCR (needs the rapidocr wheel)
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository.configs import MODEL_VARIANTS, ServingOptions

TINY_MODEL_DIR = Path("artifacts/tiny-model")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="from_pretrained folder with model, tokenizer and processor files")
    src.add_argument(
        "--tiny",
        action="store_true",
        help=f"build a tiny randomly initialised model offline into {TINY_MODEL_DIR} and use it",
    )
    src.add_argument(
        "--preset",
        choices=("tiny", "small", "base"),
        help="like --tiny, with a model size preset (random weights: for benchmarks)",
    )
    p.add_argument("--repository", type=Path, default=Path("model_repository"), help="output (default: %(default)s)")
    p.add_argument(
        "--variant",
        choices=MODEL_VARIANTS,
        default="local",
        help="how the model step runs (default: %(default)s; the others are for the NGC container)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="serve a dynamically quantized model (ONNX Runtime quantize_dynamic); its logit "
        "difference and label agreement vs fp32 are printed and kept in the manifest",
    )
    p.add_argument(
        "--tolerance", type=float, default=1e-3, help="max |logit diff| ONNX vs PyTorch (default: %(default)s)"
    )
    defaults = ServingOptions()
    p.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    p.add_argument("--preprocess-instances", type=int, default=defaults.preprocess_instances)
    p.add_argument("--model-instances", type=int, default=defaults.model_instances)
    p.add_argument(
        "--model-threads",
        type=int,
        default=defaults.model.intra_op_threads,
        help="onnxruntime intra-op threads per model instance",
    )
    p.add_argument("--max-queue-delay-us", type=int, default=defaults.max_queue_delay_us)
    p.add_argument(
        "--ocr-engine",
        choices=contract.OCR_ENGINES,
        default=None,
        help="how pages are read: tesseract, or ppocr (PP-OCR's networks as the ocr_detection and "
        "ocr_recognition models, from the installed rapidocr wheel); default: ppocr on the GPU "
        "variants, tesseract on the others (docs/ocr.md)",
    )
    p.add_argument(
        "--ocr-lang", default=defaults.preprocess.ocr.lang, help="Tesseract language(s), e.g. eng or eng+deu"
    )
    p.add_argument("--ocr-psm", type=int, default=defaults.preprocess.ocr.psm, help="Tesseract page segmentation mode")


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_triton.repository.writer import build_repository, with_ocr_engine

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    defaults = ServingOptions()
    preprocess = replace(
        defaults.preprocess, ocr=replace(defaults.preprocess.ocr, lang=args.ocr_lang, psm=args.ocr_psm)
    )
    options = ServingOptions(
        variant=args.variant,
        max_batch_size=args.max_batch_size,
        preprocess_instances=args.preprocess_instances,
        model_instances=args.model_instances,
        max_queue_delay_us=args.max_queue_delay_us,
        preprocess=preprocess,
        model=replace(defaults.model, intra_op_threads=args.model_threads),
    )
    options = with_ocr_engine(options, args.ocr_engine)
    model_dir = args.model
    if args.tiny or args.preset:
        preset = args.preset or "tiny"
        from layoutlmv3_triton.training.scratch import random_model

        model_dir = random_model(preset, Path(f"artifacts/{preset}-model"))
        print(f"built a random {preset} LayoutLMv3 in {model_dir}")
    result = build_repository(
        model_dir, args.repository, options, tolerance=args.tolerance, quantize=getattr(args, "quantize", None)
    )
    print(f"parity: {result.parity}")
    if result.quantization:
        print(f"quantization: {result.quantization}")
    print(
        f"wrote {result.repository} (variant {result.variant}, OCR {options.preprocess.ocr.engine}, "
        f"{len(result.labels)} labels: {', '.join(result.labels)})"
    )
    return 0
