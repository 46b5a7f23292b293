"""``layoutlmv3-triton``: one entry point, one module per sub-command.

Each module in :mod:`layoutlmv3_triton.commands` defines ``add_arguments(parser)`` and
``run(args) -> int`` and imports its heavy dependencies inside ``run`` so that
``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under layoutlmv3_triton.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("synth", "render synthetic FUNSD-style form pages into a HF dataset"),
    "train": ("train", "fine-tune LayoutLMv3 for token classification with PyTorch Lightning"),
    "build-repo": ("build_repo", "export a from_pretrained model to ONNX and write the Triton model repository"),
    "build-trt": ("build_trt", "build a TensorRT engine (model.plan) and check it against ONNX Runtime"),
    "perf-data": ("perf_data", "write page images as perf_analyzer --input-data JSON for the ensemble"),
    "serve": ("serve", "run a local tritonserver (CPU, loopback) on a model repository"),
    "demo": ("demo", "serve the repository locally and print the entities found on the sample pages"),
    "evaluate": ("evaluate", "score the served ensemble on a labelled dataset (entity-level F1)"),
    "bench": ("bench", "benchmark the served ensemble against the naive pipeline"),
    "soak": ("soak", "drive the served ensemble at high concurrency and watch failures and memory"),
}

EPILOG = """examples:
  layoutlmv3-triton build-repo --tiny --repository model_repository
  layoutlmv3-triton serve --repository model_repository --http-port 8000 --grpc-port 8001 --metrics-port 8002
  layoutlmv3-client infer page.png --url 127.0.0.1:8001 --protocol grpc
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layoutlmv3-triton",
        description="Serve LayoutLMv3 document understanding on NVIDIA Triton.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"layoutlmv3_triton.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"layoutlmv3_triton.commands.{module_name}":
                raise
            continue  # command not part of this installation
        p = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
