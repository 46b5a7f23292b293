"""The demo model's measured figures (docs/demo-model-figures.json) as the README quotes them.

scripts/measure_demo_model.py measures the model ``make model`` trains and writes the file;
the README's sentences about that model must contain each quote below, word for word
(tests/unit/test_readme_figures.py), so that a new recipe cannot leave old figures behind.
"""

from __future__ import annotations

import json
from pathlib import Path

FIGURES_FILE = Path("docs") / "demo-model-figures.json"


def load(root: Path) -> dict:
    return json.loads((root / FIGURES_FILE).read_text())


def readme_quotes(figures: dict) -> dict[str, str]:
    """What the README says about the demo model, rendered from its figures."""
    served = figures["served"]
    funsd, synthetic = served["funsd"], served["synthetic_test"]
    minutes = figures["training_seconds"] / 60
    return {
        "parameters": f"{figures['parameters'] / 1e6:.2f}M parameters",
        "training time": f"Training took {minutes:.0f} minutes",
        "synthetic": f"entity F1 {synthetic['entity_f1']:.2f} on {synthetic['pages']} held-out synthetic pages",
        "real forms": f"**{funsd['entity_f1']:.3f} on {funsd['pages']} real scanned FUNSD forms**",
        "ground-truth words": f"{figures['funsd_gt_words_entity_f1']:.3f} on their ground-truth words",
        "tokens per word": f"{figures['tokens_per_funsd_word']:.2f} tokens per FUNSD word",
    }
