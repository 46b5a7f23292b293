"""The demo model (`make repo`) on real scanned forms: an entity-F1 floor, served.

The demo model is trained on synthetic pages only (no real form), yet must read real
1980s-90s business forms.  This serves the repository `make repo` built from it on a few
FUNSD forms (from ``$FUNSD_DIR``) and asserts a floor on the served entity F1.  It skips
cleanly without ``$FUNSD_DIR`` or when the demo repository has not been built (CI builds
it with ``make repo`` before the tests).  The floor sits a margin under what the demo recipe
measured on these forms (docs/demo-model-figures.json, docs/evaluation.md "Reading real
forms"), far above what the from-scratch recipes scored, so that a slide back shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layoutlmv3_triton.measure.demo_figures import FIGURES_FILE, load

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "model_repository"
DEMO_MODEL = ROOT / "artifacts" / "demo-model"
FIGURES = ROOT / FIGURES_FILE  # what the demo recipe measured (scripts/measure_demo_model.py)
N_FORMS = 10
MARGIN = 0.08  # below the measured figure: another machine's OCR and last-bit rounding move a few words
# Where the text-model wheel cannot be installed, `make model` trains the from-scratch recipe, which
# measured about 0.17 on these 10 forms (0.132 on all 149); the recipe before it: 0.085.
SCRATCH_FLOOR_F1 = 0.10


def floor_f1() -> float:
    """The floor for the model `make model` built: its recipe's measured figure less a margin."""
    summary = json.loads((DEMO_MODEL / "training_summary.json").read_text())
    if str(summary.get("model", "")).startswith("from-scratch") or not FIGURES.is_file():
        return SCRATCH_FLOOR_F1  # no measured figure for this recipe yet: at least the scratch recipe's floor
    measured = load(ROOT)["served"]["funsd"][f"first_{N_FORMS}_entity_f1"]
    return round(measured - MARGIN, 2)


@pytest.fixture(scope="module")
def demo_server():
    manifest = REPOSITORY / "build_manifest.json"
    if not manifest.is_file() or not (DEMO_MODEL / "config.json").is_file():
        pytest.skip("the demo model repository is not built (run `make repo`)")
    source = Path(json.loads(manifest.read_text()).get("source_model", ""))
    if source.resolve() != DEMO_MODEL.resolve():
        pytest.skip(f"{REPOSITORY} serves {source}, not the demo model")
    from layoutlmv3_triton.local.server import LocalTritonServer

    with LocalTritonServer(REPOSITORY) as server:
        yield server


def test_demo_model_reads_real_forms(demo_server, funsd_dir):
    from layoutlmv3_triton.measure.evaluation import EvalConfig, evaluate

    run = evaluate(
        EvalConfig(
            url=demo_server.grpc_url,
            data=str(funsd_dir),
            split="training",
            limit=N_FORMS,
            concurrency=2,
            progress=False,
        )
    )
    report = run.report
    assert report["pages"] == N_FORMS and not report["pages_failed"]
    floor = floor_f1()
    print(f"demo model on {N_FORMS} FUNSD forms: entity F1 {run.f1:.3f} (floor {floor})")
    assert run.f1 >= floor
