"""The executed notebooks as static HTML pages that need no network: ``make html``.

    python -m cifar_utils.webpages [--output-dir build/html]

Converts ``notebooks/*.ipynb`` as committed (their outputs are the report; nothing is executed) with
nbconvert's JupyterLab template into one page per notebook plus ``index.html`` linking them. Offline:

- every image is embedded as a data URI (nbconvert does this for output images; ``embed_images`` for
  images in Markdown);
- every formula (``$...$``, ``$$...$$``, ``\\begin{..}``, ``text/latex`` outputs) is converted to MathML
  with ``latex2mathml`` when the page is built; browsers draw MathML themselves, so no MathJax is loaded;
- the template's scripts from a CDN (require.js, MathJax, Mermaid, the widget manager) are left out;
  progress-bar widgets are removed as when publishing (``nbclean``).

A formula that latex2mathml cannot convert stops the build, naming the notebook and the formula. Each
page is written atomically, so a reader never sees half a page.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import jinja2
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from .files import atomic_write_bytes, ensure_writable_dir
from .nbclean import strip_progress
from .recipes import NOTEBOOKS_DIR, REPO_ROOT

TEMPLATE = "offline.html.j2"
# JupyterLab's template less everything it would fetch from a CDN; LaTeX outputs rendered like Markdown math;
# images with their alt text (the report's figures carry one in their output metadata).
TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
{% block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- for key in ('width', 'height') %}{% set value = output | get_metadata(key, 'image/png') %}
{%- if value is not none %} {{ key }}="{{ value | escape_html }}"{% endif %}{% endfor %}
{%- set alt = output | get_metadata('alt', 'image/png') %}{% if alt is not none %} alt="{{ alt | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
{% block data_latex -%}
<div class="jp-RenderedLatex jp-OutputArea-output {{ extra_class }}" data-mime-type="text/latex">
{{ output.data['text/latex'] | markdown2html }}
</div>
{%- endblock data_latex %}
"""


class FormulaError(ValueError):
    """A formula that cannot be converted to MathML."""


def mathml(tex: str, display: bool) -> str:
    """``tex`` (without its $ delimiters) as a MathML element, block or inline."""
    try:
        return latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises several kinds (its own, IndexError, KeyError...)
        raise FormulaError(f"the formula {tex.strip()!r} cannot be converted to MathML "
                           f"({type(exc).__name__}: {exc}); write it in plainer LaTeX.") from exc


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer with formulas as MathML instead of text left for MathJax."""

    def block_math(self, body: str) -> str:
        return mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class OfflineHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter (JupyterLab template) for pages that load nothing from the network."""

    def __init__(self, **kwargs):
        super().__init__(extra_loaders=[jinja2.DictLoader({TEMPLATE: TEMPLATE_SOURCE})], template_file=TEMPLATE,
                         embed_images=True, **kwargs)

    @jinja2.pass_context  # as HTMLExporter.markdown2html: the filter reads the cell from the template context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}), embed_images=True,
                                  path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                                  anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


def notebook_html(path: Path) -> tuple[str, str]:
    """One executed notebook as a standalone offline page, and its title (its first Markdown heading)."""
    nb = nbformat.read(path, as_version=4)
    strip_progress(nb)
    resources = {"metadata": {"name": path.stem, "path": str(path.parent)}}
    try:
        body, _ = OfflineHTMLExporter().from_notebook_node(nb, resources=resources)
    except FormulaError as exc:
        raise FormulaError(f"{path.name}: {exc}") from exc
    headings = (line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("#"))
    return body, next(headings, path.stem).lstrip("#").strip()


def index_html(pages: dict[str, str]) -> str:
    """A page linking every notebook page (file name -> title)."""
    items = "\n".join(f'<li><a href="{html.escape(file)}">{html.escape(title)}</a></li>' for file, title in pages.items())
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>cifar-report</title>\n</head>\n<body>\n<h1>cifar-report: CIFAR-10, a parameterised notebook report</h1>\n"
            "<p>The executed notebooks, as committed. Formulas are MathML and images are embedded: "
            "these pages need no network.</p>\n"
            f"<ul>\n{items}\n</ul>\n</body>\n</html>\n")


def build(output_dir: str | Path = "build/html", notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write one page per ``notebooks_dir/*.ipynb`` and ``index.html`` into ``output_dir`` (relative to the
    repository root); return the paths written, index last."""
    folder = ensure_writable_dir(REPO_ROOT / output_dir)
    pages, written = {}, []
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        page, title = notebook_html(path)
        written.append(atomic_write_bytes(folder / f"{path.stem}.html", page.encode()))
        pages[f"{path.stem}.html"] = f"{path.stem}: {title}"
    written.append(atomic_write_bytes(folder / "index.html", index_html(pages).encode()))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cifar_utils.webpages", description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="build/html", help="where the pages go (default: build/html)")
    args = parser.parse_args(argv)
    try:
        written = build(args.output_dir)
    except FormulaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} pages to {written[-1].parent}; open {written[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
