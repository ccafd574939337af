"""Full-page screenshots of the pages `make html` wrote, to look at them as a reader gets them.

    python tools/screenshot_html.py [--pages build/html] [--out build/screens] [--width 1000]

Needs a Chromium (Debian: ``apt-get install chromium``; fonts for the formulas: ``fonts-lmodern`` or
``fonts-stix``). For each page it takes one tall screenshot at ``--width`` CSS pixels (device scale 1), trims
the blank bottom and cuts it into parts of at most ``--part`` pixels high (``<page>-1.png``, ``<page>-2.png``,
...), small enough for an image viewer, and says what overflows at that width: the page itself (it should
not), and each table wider than the column (it scrolls sideways on its own). A maintainer's check; no test or
CI step needs it.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

TALLEST = 40000  # pixels: one headless screenshot this tall works here; a longer page is cut off (with a warning)


def chromium() -> str:
    """The Chromium executable on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise SystemExit("error: no Chromium on PATH; install one (Debian: apt-get install chromium).")


# Appended to a copy of the page: what overflows, written into the DOM that --dump-dom prints.
MEASURE = """<script>
const wide = [...document.querySelectorAll('.table-scroll')].filter(d => d.scrollWidth > d.clientWidth)
  .map(d => `table ${[...document.querySelectorAll('table')].indexOf(d.querySelector('table')) + 1}: ` +
            `${d.scrollWidth} px in a ${d.clientWidth} px column`);
document.body.setAttribute('data-overflow', JSON.stringify({page: document.documentElement.scrollWidth, wide}));
</script>"""


def run_chromium(*args: str) -> str:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", *args],
                          check=True, capture_output=True, text=True, timeout=120).stdout


def overflow(page: Path, width: int) -> str:
    """What is wider than the window (the page) or than its column (tables), at ``width`` CSS pixels."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(page.read_text() + MEASURE)
        dom = run_chromium("--hide-scrollbars", f"--window-size={width},2000", "--dump-dom", copy.as_uri())
    found = json.loads(html.unescape(re.search(r'data-overflow="([^"]*)"', dom).group(1)))
    page_note = f"page {found['page']} px wide (window {width})" if found["page"] > width else "page fits"
    return "; ".join([page_note, *found["wide"]])


def screenshot(page: Path, out: Path, width: int, part: int) -> list[Path]:
    """``page`` in Chromium as parts of one full-page screenshot; the paths written."""
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "page.png"
        run_chromium("--hide-scrollbars", "--force-device-scale-factor=1", f"--window-size={width},{TALLEST}",
                     f"--screenshot={shot}", page.resolve().as_uri())
        image = Image.open(shot).convert("RGB")
    blank = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, blank).getbbox()
    height = min(image.height, (box[3] if box else 0) + 20)
    if height >= TALLEST:
        print(f"warning: {page.name} is longer than {TALLEST} px; its end is not in the screenshot", file=sys.stderr)
    written = []
    for n, top in enumerate(range(0, height, part), start=1):
        path = out / f"{page.stem}-{n}.png"
        image.crop((0, top, width, min(height, top + part))).save(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, default=Path("build/html"), help="the pages (default: build/html)")
    parser.add_argument("--out", type=Path, default=Path("build/screens"), help="where the PNGs go")
    parser.add_argument("--width", type=int, default=1000, help="window width in CSS pixels (default: 1000)")
    parser.add_argument("--part", type=int, default=1600, help="height of each part in pixels (default: 1600)")
    args = parser.parse_args(argv)
    pages = sorted(args.pages.glob("*.html"))
    if not pages:
        raise SystemExit(f"error: no pages in {args.pages}; run `make html` first.")
    args.out.mkdir(parents=True, exist_ok=True)
    for page in pages:
        parts = screenshot(page, args.out, args.width, args.part)
        print(f"{page.name}: {len(parts)} part(s), {parts[0].parent}/{page.stem}-*.png; "
              f"{overflow(page.resolve(), args.width)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
