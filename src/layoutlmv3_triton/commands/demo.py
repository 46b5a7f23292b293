"""Start a local tritonserver on a model repository, send the sample pages through the
ensemble with the torch-free client, print each page's fields (question -> answer) and the
entities they come from, write annotated page images, and stop the server.

examples:
  layoutlmv3-triton demo
  layoutlmv3-triton demo --repository model_repository --samples samples/ --annotate artifacts/demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from layoutlmv3_triton import contract


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repository", type=Path, default=Path("model_repository"))
    p.add_argument("--samples", type=Path, default=Path("samples"), help="folder of page images (default: %(default)s)")
    p.add_argument(
        "--annotate",
        type=Path,
        default=Path("artifacts/demo"),
        help="write annotated pages here (default: %(default)s)",
    )
    p.add_argument("--max-entities", type=int, default=12, help="fields and entities printed per page")


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_client import DocumentClient
    from layoutlmv3_client.annotate import write_annotations
    from layoutlmv3_client.files import expand
    from layoutlmv3_triton.local.server import LocalTritonServer
    from layoutlmv3_triton.repository.writer import check_repository

    problems = check_repository(args.repository)
    if problems:
        print("error: " + "; ".join(problems) + " (run `make repo` or `layoutlmv3-triton build-repo`)", file=sys.stderr)
        return 2
    files = expand([str(args.samples)]).files
    if not files:
        print(f"error: no page images in {args.samples}", file=sys.stderr)
        return 2
    log_file = Path("artifacts/demo-tritonserver.log")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"starting tritonserver on 127.0.0.1 with {args.repository} (log: {log_file}) ...", flush=True)
    with LocalTritonServer(args.repository, log_file=log_file) as server, DocumentClient(server.grpc_url) as client:
        print(f"ready: gRPC {server.grpc_url}, HTTP {server.http_url}\n")
        for path in files:
            data = Path(path).read_bytes()
            result = client.infer(data)
            for page in result["pages"]:
                print_page(path, page, args.max_entities)
            written = write_annotations(data, result, args.annotate, Path(path).stem, pdf=contract.is_pdf(data))
            print(f"  annotated: {', '.join(str(w) for w in written)}\n")
    print("tritonserver stopped")
    return 0


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_page(path, page: dict, limit: int) -> None:
    """The page's fields (question -> answer, what a user came for), then the entities they come from."""
    entities, fields = page["entities"], page.get("fields") or []
    print(
        f"{path}: {page['width']}x{page['height']} px, {len(page['words'])} words, {len(entities)} entities, "
        f"{len(fields)} fields"
    )
    if fields:
        print("  fields (question -> answer):")
        for field in fields[:limit]:
            print(f"    {clip(field['key'], 32):<32} -> {clip(field['value'], 40):<40} {field['score']:.2f}")
        if len(fields) > limit:
            print(f"    ... and {len(fields) - limit} more")
    print("  entities:")
    for entity in entities[:limit]:
        print(f"    {entity['label']:<10} {entity['score']:.2f}  {str(entity['box']):<24} {clip(entity['text'], 48)}")
    if len(entities) > limit:
        print(f"    ... and {len(entities) - limit} more")
