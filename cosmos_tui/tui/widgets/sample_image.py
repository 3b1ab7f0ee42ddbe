"""Sample images in the terminal through textual-image: Kitty graphics (TGP) or Sixel where the
terminal answers that it has them, coloured half-blocks elsewhere.

textual-image asks the terminal what it supports when it is first imported, which only works
before Textual owns stdin: :func:`probe` runs in ``run_app`` before the app starts. The renderer
can be chosen with ``COSMOS_TUI_IMAGES`` (``auto``, ``tgp``, ``sixel``, ``halfcell``, ``unicode``);
the tests pin ``halfcell`` so snapshots never depend on the terminal they run in.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.widget import Widget
from textual.widgets import Static

ENV = "COSMOS_TUI_IMAGES"
RENDERERS = ("auto", "tgp", "sixel", "halfcell", "unicode")


def renderer_name() -> str:
    """The renderer ``COSMOS_TUI_IMAGES`` asks for (``auto`` when unset or not one of them)."""
    name = os.environ.get(ENV, "auto").strip().lower()
    return name if name in RENDERERS else "auto"


def _image_class() -> type[Widget]:
    import textual_image.widget as ti  # deferred: it queries the terminal once, when first imported

    return {
        "auto": ti.Image,
        "tgp": ti.TGPImage,
        "sixel": ti.SixelImage,
        "halfcell": ti.HalfcellImage,
        "unicode": ti.UnicodeImage,
    }[renderer_name()]


def probe() -> None:
    """Import textual-image now (it asks the terminal what it supports) while stdin is still ours."""
    _image_class()


def sample_image(path: Path | None, *, id: str | None = None, classes: str = "") -> Widget:
    """The image at ``path`` rendered as the terminal allows; a note where there is no image or it
    cannot be read."""
    if path is None:
        return Static("no image", id=id, classes=f"{classes} no-image".strip())
    try:
        from PIL import Image as PILImage  # deferred: Pillow loads with the samples screen only

        with PILImage.open(path) as im:
            im.load()
            image = im.convert("RGB")
    except (OSError, ValueError, PILImage.DecompressionBombError) as e:
        return Static(f"unreadable image ({type(e).__name__})", id=id, classes=f"{classes} no-image".strip())
    return _image_class()(image, id=id, classes=classes)
