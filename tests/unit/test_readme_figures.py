"""The README quotes the demo model's figures from the file its recipe's measurement wrote."""

from __future__ import annotations

from pathlib import Path

from layoutlmv3_triton.measure.demo_figures import load, readme_quotes

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quotes_the_measured_demo_figures():
    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks fall anywhere
    missing = {name: quote for name, quote in readme_quotes(load(ROOT)).items() if quote not in readme}
    assert not missing, f"README.md lacks these measured figures (docs/demo-model-figures.json): {missing}"


def test_the_figures_describe_the_recipe_make_model_trains():
    from layoutlmv3_triton.training.config import DEMO_RECIPE, DEMO_SCRATCH_RECIPE

    figures = load(ROOT)
    recipe = DEMO_RECIPE if figures["recipe"] == "demo" else DEMO_SCRATCH_RECIPE
    for option, value in recipe.items():
        assert figures["options"].get(option) == value, f"{option}: measured {figures['options'].get(option)!r}"
