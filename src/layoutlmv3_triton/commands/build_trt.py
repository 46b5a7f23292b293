"""Build the TensorRT engine (model.plan) of the model step from its exported ONNX model.

Needs TensorRT and a GPU: run it in the workflow image, on the serving GPU, with the same
release pin as the server (an engine only loads on the TensorRT version that built it).
The engine is checked against ONNX Runtime and not written if its logits drift.  --fp16 keeps
LayerNorm in FP32; on TensorRT 11, which builds only strongly typed networks, the engine is built
from an FP16 graph of the model (LayerNorm and softmax in FP32) that this command writes itself.

examples:
  layoutlmv3-triton build-repo --model artifacts/model --variant tensorrt-plan --repository model_repository
  layoutlmv3-triton build-trt --repository model_repository --fp16
  layoutlmv3-triton build-trt --onnx model.onnx --int32-onnx model.int32.onnx   # no TensorRT needed
  layoutlmv3-triton build-trt --onnx model.onnx --fp16-onnx model.fp16.onnx     # no TensorRT needed
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from layoutlmv3_triton import contract


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repository",
        type=Path,
        default=Path("model_repository"),
        help="model repository whose model step gets the engine (default: %(default)s)",
    )
    p.add_argument(
        "--onnx", type=Path, help=f"ONNX model (default: REPOSITORY/{contract.MODEL}/1/{contract.ONNX_FILE})"
    )
    p.add_argument("--output", type=Path, help=f"engine (default: REPOSITORY/{contract.MODEL}/1/{contract.PLAN_FILE})")
    p.add_argument(
        "--fp16",
        action="store_true",
        help="FP16 engine with LayerNorm kept in FP32 (TensorRT >= 11: built from the FP16 graph)",
    )
    p.add_argument(
        "--max-batch-size",
        type=int,
        default=contract.DEFAULT_MAX_WINDOWS,
        help="largest batch of the profile; keep it equal to the config's max_batch_size " "(default: %(default)s)",
    )
    p.add_argument(
        "--profiles",
        choices=("single", "per-bucket"),
        default="single",
        help="one profile over all sequence buckets, or one per bucket (default: %(default)s)",
    )
    p.add_argument("--opt-batch", type=int, help="batch the kernels are tuned for (default: max batch / 2)")
    p.add_argument("--opt-seq", type=int, help="sequence length the kernels are tuned for (default: middle bucket)")
    p.add_argument("--workspace-gib", type=float, default=4.0, help="builder workspace (default: %(default)s)")
    p.add_argument("--atol", type=float, help="absolute logit tolerance (default: 1e-3 fp32, 5e-2 fp16)")
    p.add_argument("--rtol", type=float, help="relative logit tolerance (default: 1e-3 fp32, 5e-2 fp16)")
    p.add_argument("--vocab-size", type=int, help="for the check inputs (default: read from the ONNX graph)")
    p.add_argument(
        "--tool",
        choices=("auto", "python", "trtexec"),
        default="auto",
        help="TensorRT Python API, or trtexec (default: the API when importable)",
    )
    p.add_argument(
        "--int32-onnx",
        type=Path,
        metavar="OUT.onnx",
        help="only write the INT32-input ONNX model to OUT.onnx and stop (no TensorRT needed)",
    )
    p.add_argument(
        "--fp16-onnx",
        type=Path,
        metavar="OUT.onnx",
        help="only write the FP16 graph (LayerNorm and softmax in FP32, same inputs and outputs) to "
        "OUT.onnx, checked against the FP32 model on ONNX Runtime's CPU provider, and stop; "
        "served as model.onnx it makes the onnxruntime-trt variant FP16 (no TensorRT needed)",
    )


def run(args: argparse.Namespace) -> int:
    import onnx

    from layoutlmv3_triton.errors import ParityError
    from layoutlmv3_triton.export.fp16 import Fp16ConversionError, write_fp16_onnx
    from layoutlmv3_triton.export.tensorrt import TensorRTBuildError, build_engine, infer_vocab_size, write_int32_onnx

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    version_dir = args.repository / contract.MODEL / "1"
    onnx_path = args.onnx or version_dir / contract.ONNX_FILE
    if args.int32_onnx:
        print(f"wrote {write_int32_onnx(onnx_path, args.int32_onnx)}")
        return 0
    try:
        if args.fp16_onnx:
            vocab_size = args.vocab_size or infer_vocab_size(onnx.load(str(onnx_path)))
            if not vocab_size:
                raise TensorRTBuildError("cannot find the word-embedding table in the ONNX graph: pass --vocab-size")
            print(f"wrote {args.fp16_onnx}\n{write_fp16_onnx(onnx_path, args.fp16_onnx, vocab_size)}")
            return 0
        result = build_engine(
            onnx_path,
            args.output or version_dir / contract.PLAN_FILE,
            fp16=args.fp16,
            max_batch=args.max_batch_size,
            strategy=args.profiles,
            opt_batch=args.opt_batch,
            opt_seq=args.opt_seq,
            workspace_gib=args.workspace_gib,
            atol=args.atol,
            rtol=args.rtol,
            vocab_size=args.vocab_size,
            tool=args.tool,
        )
    except (TensorRTBuildError, Fp16ConversionError, ParityError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    how = f", FP16 from the {result.fp16_method}" if result.fp16_method else ""
    print(f"wrote {result.plan_path} ({result.tool}, {len(result.profiles)} profile(s){how})\n{result.parity}")
    return 0
