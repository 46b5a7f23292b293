"""Find TrueType fonts for rendering, with a fallback that always works.

Why: page variety needs several families (sans, serif, mono, typewriter, condensed) in
regular and bold, but a machine may have none installed.  We look for DejaVu (Debian's
``fonts-dejavu-core``) and Liberation in the usual font folders and, when nothing is found,
fall back to Pillow's bundled default font, which is a scalable TrueType font in
Pillow >= 10.1.  Italic, oblique and extra-light faces are skipped: Tesseract reads them
less reliably, and the served model is scored on Tesseract's words.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

FONT_DIRS = (
    "/usr/share/fonts/truetype",
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
# family prefix -> preferred regular / bold file names
FAMILIES = {
    "DejaVuSans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVuSerif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "DejaVuSansMono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    "DejaVuSansCondensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    "DejaVuSerifCondensed": ("DejaVuSerifCondensed.ttf", "DejaVuSerifCondensed-Bold.ttf"),
    "LiberationSans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    "LiberationSerif": ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
    "LiberationMono": ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf"),
    # typewriter, monospace and serif faces of 1980s-90s business forms (fonts-freefont-ttf,
    # fonts-urw-base35, fonts-courier-prime)
    "FreeMono": ("FreeMono.ttf", "FreeMonoBold.ttf"),
    "FreeSerif": ("FreeSerif.ttf", "FreeSerifBold.ttf"),
    "FreeSans": ("FreeSans.ttf", "FreeSansBold.ttf"),
    "NimbusMonoPS": ("NimbusMonoPS-Regular.otf", "NimbusMonoPS-Bold.otf"),
    "NimbusRoman": ("NimbusRoman-Regular.otf", "NimbusRoman-Bold.otf"),
    "NimbusSans": ("NimbusSans-Regular.otf", "NimbusSans-Bold.otf"),
    "NimbusSansNarrow": ("NimbusSansNarrow-Regular.otf", "NimbusSansNarrow-Bold.otf"),
    "C059": ("C059-Roman.otf", "C059-Bold.otf"),
    "P052": ("P052-Roman.otf", "P052-Bold.otf"),
    "URWBookman": ("URWBookman-Light.otf", "URWBookman-Demi.otf"),
    "CourierPrime": ("Courier Prime.otf", "Courier Prime Bold.otf"),
}
# Faces that look typed: answers filled in on a typewriter use one of these when present.
TYPEWRITER = ("CourierPrime", "NimbusMonoPS", "FreeMono", "LiberationMono", "DejaVuSansMono")
FONT_DIRS_ENV = "LAYOUTLMV3_SYNTH_FONT_DIRS"  # extra folders, os.pathsep-separated


@dataclass(frozen=True)
class FontFamily:
    """A regular and a bold face; ``None`` paths mean Pillow's default font."""

    name: str
    regular: str | None
    bold: str | None

    def get(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        return _load(self.bold if bold else self.regular, size)


@functools.lru_cache(maxsize=512)
def _load(path: str | None, size: int) -> ImageFont.FreeTypeFont:
    if path is None:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
            raise RuntimeError("Pillow was built without FreeType: install fonts-dejavu-core or a FreeType Pillow")
        return font
    return ImageFont.truetype(path, size)


def _search_dirs() -> list[Path]:
    extra = [p for p in os.environ.get(FONT_DIRS_ENV, "").split(os.pathsep) if p]
    return [Path(d) for d in (*extra, *FONT_DIRS) if Path(d).is_dir()]


@functools.lru_cache(maxsize=1)
def available_families() -> tuple[FontFamily, ...]:
    """Font families found on this machine, in a stable order (sorted by name).

    The order matters: the page renderer picks families by index, so the same seed gives
    the same page on any machine with the same fonts installed.
    """
    found: dict[str, Path] = {}
    for folder in _search_dirs():
        for path in sorted([*folder.rglob("*.ttf"), *folder.rglob("*.otf")]):
            found.setdefault(path.name, path)
    families = []
    for name, (regular, bold) in sorted(FAMILIES.items()):
        if regular in found:
            bold_path = found.get(bold, found[regular])
            families.append(FontFamily(name, str(found[regular]), str(bold_path)))
    if not families:
        families.append(FontFamily("PillowDefault", None, None))
    return tuple(families)
