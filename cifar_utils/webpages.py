"""The executed notebooks as static HTML pages that need no network: ``make html``.

    python -m cifar_utils.webpages [--output-dir build/html]

Converts ``notebooks/*.ipynb`` as committed (their outputs are the report; nothing is executed) with
nbconvert's JupyterLab template into one page per notebook plus ``index.html``, the contents. Offline:

- every image is embedded as a data URI (nbconvert does this for output images; ``embed_images`` for
  images in Markdown), shown at the width its metadata gives (figures are PNGs at twice that in pixels);
- every formula (``$...$``, ``$$...$$``, ``\\begin{..}``, ``text/latex`` outputs) is converted to MathML
  with ``latex2mathml`` when the page is built; browsers draw MathML themselves, so no MathJax is loaded;
- the template's scripts from a CDN (require.js, MathJax, Mermaid, the widget manager) are left out;
  progress-bar widgets are removed as when publishing (``nbclean``).

For the reader: one stylesheet, ``webpages.css``, on every page and the index (a math font stack, a reading
column, tables with borders, numbers right-aligned and never broken across lines, a wide table scrolling on its
own); the index has the report's title and first sentence (README.md), and each notebook's title (its first
heading) and first sentence, in reading order; every page links back to it and to the previous and next page.

A formula that latex2mathml cannot convert stops the build, naming the notebook and the formula. Each
page is written atomically, so a reader never sees half a page. To look at the pages as a reader gets them,
``python tools/screenshot_html.py`` takes full-page screenshots with a headless Chromium (Debian: ``apt-get
install chromium fonts-lmodern``); one page by hand: ``chromium --headless --screenshot=page.png
--window-size=1000,16000 build/html/index.html``.
"""
from __future__ import annotations

import html
import re
import sys
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import jinja2
import nbformat
from bs4 import BeautifulSoup, NavigableString
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from .config import ConfigError, Parser
from .files import OutputError, atomic_write_bytes, ensure_writable_dir
from .nbclean import strip_progress
from .recipes import NOTEBOOKS_DIR, REPO_ROOT, outside_the_report, repo_relative

STYLESHEET = Path(__file__).with_name("webpages.css")
REMOVE_INPUT = "remove-input"  # the tag of a cell whose source the reader does not see (nbconvert, Jupyter Book)
README = REPO_ROOT / "README.md"
INDEX = "index.html"
OUTPUT_DIR = "build/html"  # make html's folder, relative to the repository root
TEMPLATE = "offline.html.j2"
# JupyterLab's template less everything it would fetch from a CDN; the report's stylesheet after JupyterLab's and
# its navigation around the cells; LaTeX outputs rendered like Markdown math; images with their alt text (the
# report's figures carry one in their output metadata).
TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
{% block html_head_css %}<style type="text/css">
{{ resources.report_css }}
</style>
{% endblock html_head_css %}
{% block body_header %}{{ super() }}
{{ resources.nav_top }}
{%- endblock body_header %}
{% block body_footer %}{{ resources.nav_bottom }}
{{ super() }}
{%- endblock body_footer %}
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

MATHML = "http://www.w3.org/1998/Math/MathML"
PRIMES = {"\u2032", "\u2033", "\u2034"}  # x', x'', x''' as latex2mathml writes them
FUNCTIONS = {"log", "ln", "lg", "exp", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arg", "det", "dim", "ker"}
OPENING = {"(", "[", "{", "|", "\u2016", "\u27e8", "\u230a", "\u2308"}
CLOSING = {")", "]", "}", "|", "\u2016", "\u27e9", "\u230b", "\u2309"}
SIGNS = {"-", "+", "\u2212", "\u00b1"}
ROWS = ("math", "mrow", "mstyle", "mtd", "msqrt", "mpadded", "mphantom", "menclose")  # children in a row
THIN_SPACE = "0.1667em"  # TeX's \, between a function name and what follows it

# A number as the report prints one: sign, digits with thousands commas, decimals, exponent, percent sign.
NUMBER = r"[+\-\u2212]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][+\-\u2212]?\d+)?%?"
# In a table: a number, or an interval "+1.39 to +2.45", standing on its own (not the 10 of CIFAR-10, bfloat16).
TABLE_NUMBER = re.compile(rf"(?<![\w.+\-\u2212]){NUMBER}(?:\s+to\s+{NUMBER})?(?!\w)")
# In a table's cells, also a word with a hyphen ("p-value", "one-cycle"), which a browser would break after it.
HYPHENATED = re.compile(r"(?<![\w\-])[^\W\d_]\w*(?:-\w+)+(?![\w\-])")
# In prose, only what a browser would break: a hyphen inside a number ("3.51e-05", "5e-4").
PROSE_NUMBER = re.compile(r"(?<![\w.+\-\u2212])[+\-\u2212]?(?:\d+(?:\.\d+)?|\.\d+)[eE][+\-\u2212]\d+(?!\w)")
# A cell that holds only numbers: 0.253, 3.51e-05, -1.32 to +1.62, 3 x 32 x 32, 834/1000.
NUMBER_CELL = re.compile(rf"^\s*{NUMBER}(?:\s*(?:to|x|\u00d7|/)\s*{NUMBER})*\s*$")
STARTS_WITH_NUMBER = re.compile(rf"^\s*{NUMBER}(?:\s|$)")
# A cell of text longer than this is a phrase ("+1.92 points (95% CI ...)", a caveat): its column is left-aligned,
# and it is kept at least 9em wide (webpages.css), wrapped within that, beside numbers that cannot wrap.
PHRASE_CHARACTERS = 24
NOT_PROSE = {"pre", "code", "math", "script", "style", "title", "textarea"}

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[*_`$])")
CITATION = re.compile(r"\s*\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")


class FormulaError(ValueError):
    """A formula that cannot be converted to MathML."""


@contextmanager
def formulas_of(path: Path):
    """A FormulaError raised inside names the notebook ``path``."""
    try:
        yield
    except FormulaError as exc:
        raise FormulaError(f"{path.name}: {exc}") from exc


def mathml(tex: str, display: bool) -> str:
    """``tex`` (without its $ delimiters) as a MathML element, block or inline."""
    try:
        markup = latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises several kinds (its own, IndexError, KeyError...)
        raise FormulaError(f"the formula {tex.strip()!r} cannot be converted to MathML "
                           f"({type(exc).__name__}: {exc}); write it in plainer LaTeX.") from exc
    return tidy_mathml(markup)


def _tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _prime(element: ET.Element) -> str | None:
    """The prime an element is (a prime in an mi or mo, alone or in an mrow), or None."""
    while _tag(element) == "mrow" and len(element) == 1:
        element = element[0]
    text = (element.text or "").strip()
    return text if _tag(element) in ("mi", "mo") and len(element) == 0 and text in PRIMES else None


def _function(element: ET.Element) -> bool:
    """Whether ``element`` is a function name (log, exp...), or one with a script (log_2)."""
    if _tag(element) in ("msub", "msup", "msubsup") and len(element):
        element = element[0]
    return _tag(element) == "mi" and (element.text or "").strip() in FUNCTIONS


def _element(tag: str, children=(), text: str | None = None, **attributes) -> ET.Element:
    element = ET.Element(f"{{{MATHML}}}{tag}", attributes)
    element.extend(children)
    element.text = text
    return element


def tidy_mathml(markup: str) -> str:
    """latex2mathml's MathML with what Chromium draws badly redone as TeX draws it.

    A prime is a superscript there (F' is msup(F, prime)), but a math font's prime glyph is already small and
    raised, so as a script it comes out tiny: it is put beside its base instead (x'_i becomes x_i, then the
    prime). A function name (log, exp) gets the thin space TeX puts between it and a symbol, a sum or a
    fraction (none before a parenthesis). A sign with nothing to its left, or an operator or opening bracket
    (= -1/N, (-log p)), and a solidus (a / b) get no space around them, as TeX's ordinary symbols.
    """
    ET.register_namespace("", MATHML)
    root = ET.fromstring(markup)
    for parent in list(root.iter()):
        for n, child in enumerate(parent):
            tag = _tag(child)
            prime = _prime(child[-1]) if tag in ("msup", "msubsup") and len(child) in (2, 3) else None
            if prime is not None:
                base = child[0] if tag == "msup" else _element("msub", [child[0], child[1]])
                parent[n] = _element("mrow", [base, _element("mo", text=prime, lspace="0", rspace="0")])
    for parent in [p for p in root.iter() if _tag(p) in ROWS]:
        children = list(parent)
        for n, child in enumerate(children):
            text, before = (child.text or "").strip(), children[n - 1] if n else None
            if _tag(child) == "mo" and (text == "/" or text in SIGNS and (
                    before is None or _tag(before) == "mo" and (before.text or "").strip() not in CLOSING)):
                child.set("lspace", "0")
                child.set("rspace", "0")
            if not _function(child):
                continue
            after = children[n + 1] if n + 1 < len(children) else None
            if after is not None and not (_tag(after) == "mo" and (after.text or "").strip() in OPENING):
                parent.insert(list(parent).index(child) + 1, _element("mspace", width=THIN_SPACE))
            if before is not None and _tag(before) not in ("mo", "mspace"):
                parent.insert(list(parent).index(child), _element("mspace", width=THIN_SPACE))
    return ET.tostring(root, encoding="unicode")


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
        # A cell tagged remove-input (the report's computed sentences, ``prose``) shows its output alone.
        self.register_preprocessor(TagRemovePreprocessor(remove_input_tags={REMOVE_INPUT}), enabled=True)

    @jinja2.pass_context  # as HTMLExporter.markdown2html: the filter reads the cell from the template context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}), embed_images=True,
                                  path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                                  anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


class UnreadableNotebook(ValueError):
    """A notebook to convert that cannot be read: its sentence names it and the fix."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A committed notebook, or UnreadableNotebook naming it and the fix when it cannot be read (truncated, not
    JSON)."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat's NotJSONError, a JSON, Unicode or schema error, an OSError
        raise UnreadableNotebook(f"{repo_relative(path)} is not a readable notebook ({type(exc).__name__}); restore "
                                 f"it from git (git checkout -- {repo_relative(path)}).") from None


def inline_markdown(text: str) -> str:
    """One line of Markdown (emphasis, code, $math$) as HTML, without the paragraph around it."""
    rendered = MarkdownWithMath(renderer=MathMLRenderer(escape=False)).render(text).strip()
    return rendered.removeprefix("<p>").removesuffix("</p>").strip()


class Entry(NamedTuple):
    """A page of the contents: its file, its title, and a line (HTML) saying what it holds."""
    file: str
    title: str
    summary: str


def first_heading(texts: list[str], default: str) -> str:
    """The first Markdown heading in ``texts`` (Markdown sources), without its #s."""
    headings = (line.lstrip("#").strip() for text in texts for line in text.splitlines() if line.startswith("#"))
    return next(headings, default)


def first_sentence(texts: list[str]) -> str:
    """The first sentence of the first paragraph of prose in ``texts`` (Markdown sources), citations left out."""
    for text in texts:
        for paragraph in re.split(r"\n\s*\n", text):
            words = " ".join(paragraph.split())
            if words[:1].isalpha():
                return CITATION.sub("", SENTENCE_END.split(words, maxsplit=1)[0])
    return ""


def markdown_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def contents_entry(path: Path) -> Entry:
    """The contents' line for notebook ``path``: title from its first heading, summary from its first sentence."""
    texts = markdown_sources(read_notebook(path))
    with formulas_of(path):
        summary = inline_markdown(first_sentence(texts))
    return Entry(f"{path.stem}.html", first_heading(texts, path.stem), summary)


def report_title() -> tuple[str, str]:
    """The report's title (escaped) and its first sentence (HTML), from README.md."""
    texts = [README.read_text()] if README.is_file() else []
    return html.escape(first_heading(texts, "cifar-report")), inline_markdown(first_sentence(texts))


def navigation(contents: list[Entry], file: str) -> tuple[str, str]:
    """The navigation above and below page ``file``: the contents, and the previous and next page of
    ``contents`` (short titles above, "Part 2", whole titles below)."""
    files = [entry.file for entry in contents]
    at = files.index(file) if file in files else None
    previous = contents[at - 1] if at else None
    following = contents[at + 1] if at is not None and at + 1 < len(contents) else None

    def link(entry: Entry | None, rel: str, short: bool) -> str:
        if entry is None:
            return "<span></span>"
        label = entry.title.split(":")[0].strip() if short else entry.title
        label = f"\u2190 {label}" if rel == "prev" else f"{label} \u2192"
        return (f'<a rel="{rel}" href="{html.escape(entry.file)}" title="{html.escape(entry.title)}">'
                f'{html.escape(label)}</a>')

    back = f'<a class="contents-link" href="{INDEX}">Contents</a>'
    top = (f'<nav class="pages top" aria-label="pages">'
           f'{back}{link(previous, "prev", True)}{link(following, "next", True)}</nav>')
    bottom = (f'<nav class="pages bottom" aria-label="pages">'
              f'{link(previous, "prev", False)}{back}{link(following, "next", False)}</nav>')
    return top, bottom


def _grid(table) -> list[tuple]:
    """Every cell of ``table`` (not of a table inside it) as (cell, first column, columns spanned, in the body),
    honouring colspan and rowspan."""
    taken, cells = set(), []
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    for r, tr in enumerate(rows):
        column = 0
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, column) in taken:
                column += 1
            span, down = int(cell.get("colspan") or 1), int(cell.get("rowspan") or 1)
            taken.update((r + i, column + j) for i in range(down) for j in range(span))
            cells.append((cell, column, span, tr.find_parent("thead") is None))
            column += span
    return cells


def dress_table(table, soup: BeautifulSoup) -> None:
    """Wrap ``table`` so that it scrolls on its own when wider than the column; mark its numeric columns to be
    right-aligned, cells that hold only numbers unbreakable, and long body cells of text as phrases. A column is
    numeric when more than half its body cells start with a number and none is a phrase; a column of row
    labels (th), only when all are numbers."""
    if "table-scroll" not in (table.parent.get("class") or []):
        table.wrap(soup.new_tag("div", attrs={"class": "table-scroll"}))
    cells = _grid(table)
    votes: dict[int, list[bool | None]] = {}
    for cell, column, span, body in cells:
        text = cell.get_text().strip()
        if body and span == 1 and text:
            if cell.name == "th":
                vote = bool(NUMBER_CELL.match(text)) or None
            else:
                vote = None if _phrase(text) else bool(STARTS_WITH_NUMBER.match(text))
            votes.setdefault(column, []).append(vote)
    numeric = {column for column, starts in votes.items() if None not in starts and 2 * sum(starts) > len(starts)}
    for cell, column, span, body in cells:
        classes = list(cell.get("class") or [])
        if span == 1 and column in numeric:
            classes.append("numeric")
        if body and _phrase(cell.get_text().strip()):
            classes.append("phrase")
        elif NUMBER_CELL.match(cell.get_text()):
            classes.append("nowrap")
        if classes:
            cell["class"] = classes


def _phrase(text: str) -> bool:
    return len(text) > PHRASE_CHARACTERS and not NUMBER_CELL.match(text)


def keep_numbers_whole(soup: BeautifulSoup) -> None:
    """Put each number of a table (an interval "+1.39 to +2.45" as one) and each hyphenated word of a table
    ("p-value"), and each number of prose with a hyphen in it ("3.51e-05"), in an unbreakable span, unless its
    whole cell is unbreakable already."""
    for string in list(soup.find_all(string=True)):
        if type(string) is not NavigableString or NOT_PROSE.intersection(p.name for p in string.parents):
            continue  # comments, the doctype; code, formulas and scripts
        cell = string.find_parent(["td", "th"])
        if cell is not None and "nowrap" in (cell.get("class") or []):
            continue
        if cell is None:
            matches = list(PROSE_NUMBER.finditer(string))
        else:
            matches = sorted([*TABLE_NUMBER.finditer(string), *HYPHENATED.finditer(string)], key=lambda m: m.start())
        pieces, last = [], 0
        for match in matches:
            if match.start() >= last and re.search(r"[\s\-\u2212]", match.group()[1:]):  # a browser could break it
                pieces += [NavigableString(string[last:match.start()]), soup.new_tag("span", attrs={"class": "nowrap"})]
                pieces[-1].string = match.group()
                last = match.end()
        if pieces:
            string.replace_with(*[p for p in pieces + [NavigableString(string[last:])] if p != ""])


def dress(page: str) -> str:
    """A page as the reader gets it: tables scroll on their own, numeric columns right-aligned, no number
    broken across lines."""
    soup = BeautifulSoup(page, "html.parser")
    for table in soup.find_all("table"):
        dress_table(table, soup)
    keep_numbers_whole(soup)
    return str(soup)


def notebook_html(path: Path, contents: list[Entry] | None = None) -> tuple[str, str]:
    """One executed notebook as a standalone offline page, and its title (its first Markdown heading). The
    page links the contents (``index.html``) and, when ``contents`` lists it, the previous and next page."""
    nb = read_notebook(path)
    strip_progress(nb)
    title = first_heading(markdown_sources(nb), path.stem)
    nb.metadata["title"] = title
    top, bottom = navigation(contents or [], f"{path.stem}.html")
    resources = {"metadata": {"name": path.stem, "path": str(path.parent)}, "report_css": STYLESHEET.read_text(),
                 "nav_top": top, "nav_bottom": bottom}
    with formulas_of(path):
        body, _ = OfflineHTMLExporter().from_notebook_node(nb, resources=resources)
    return dress(body), title


def index_html(contents: list[Entry]) -> str:
    """The contents page: the report's title and first sentence (README.md), then every page in reading order
    with its first sentence."""
    title, lede = report_title()
    items = "\n".join(f'<li><a href="{html.escape(entry.file)}">{html.escape(entry.title)}</a>'
                      + (f'<p class="summary">{entry.summary}</p>' if entry.summary else "") + "</li>"
                      for entry in contents)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
            f"<title>{title}</title>\n<style type=\"text/css\">\n{STYLESHEET.read_text()}</style>\n</head>\n"
            f"<body class=\"index\">\n<main>\n<h1>{title}</h1>\n"
            + (f'<p class="lede">{lede}</p>\n' if lede else "")
            + f"<h2>Contents</h2>\n<ol class=\"contents\">\n{items}\n</ol>\n"
            "<p class=\"note\">The executed notebooks as committed, in reading order. Formulas are MathML and "
            "images are embedded: these pages need no network.</p>\n</main>\n</body>\n</html>\n")


def build(output_dir: str | Path = OUTPUT_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write one page per ``notebooks_dir/*.ipynb`` and ``index.html`` into ``output_dir`` (relative to the
    repository root; never the root itself, notebooks/, results/ or figures/); return the paths written, index last."""
    folder = ensure_writable_dir(outside_the_report("--output-dir", output_dir))
    notebooks = sorted(notebooks_dir.glob("*.ipynb"))  # 00 to 03: their names give the reading order
    contents = [contents_entry(path) for path in notebooks]
    written = []
    for path in notebooks:
        page, _ = notebook_html(path, contents)
        written.append(atomic_write_bytes(folder / f"{path.stem}.html", page.encode()))
    written.append(atomic_write_bytes(folder / INDEX, index_html(contents).encode()))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m cifar_utils.webpages", description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default=OUTPUT_DIR, help=f"where the pages go (default: {OUTPUT_DIR})")
    args = parser.parse_args(argv)
    try:
        written = build(args.output_dir)
    except (ConfigError, OutputError) as exc:  # their sentence ends with the fix; name the default too
        print(f"error: {str(exc).rstrip('.')}, e.g. {OUTPUT_DIR} (the default).", file=sys.stderr)
        return 2
    except (FormulaError, UnreadableNotebook) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} pages to {written[-1].parent}; open {written[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
