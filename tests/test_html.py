"""`make html`: the committed notebooks as static pages that need no network (cifar_utils.webpages).

The build converts the committed notebooks (nothing is executed), with network access refused while it runs.
"""
from __future__ import annotations

import base64
import re
import socket

import nbformat
import pytest
from bs4 import BeautifulSoup

from cifar_utils import webpages
from cifar_utils.nbclean import WIDGET_VIEW
from cifar_utils.recipes import NOTEBOOKS_DIR

pytestmark = pytest.mark.slow  # every test converts notebooks to HTML (nbconvert)

NOTEBOOKS = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
# Attributes through which a page would fetch something as it loads (links to click are fine).
LOADING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "embed": "src", "object": "data",
           "source": "src", "audio": "src", "video": "src", "track": "src", "input": "src"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def refuse_network(*args, **kwargs):
    raise AssertionError("the HTML build tried to open a network connection")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """build/html as `make html` writes it (here into a temp folder), built with the network refused."""
    folder = tmp_path_factory.mktemp("html")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse_network)
        patch.setattr(socket, "create_connection", refuse_network)
        written = webpages.build(folder)
    assert [p.name for p in written] == [f"{name}.html" for name in NOTEBOOKS] + ["index.html"]
    return {p.stem: p.read_text() for p in written}


def test_index_links_every_notebook_page(pages):
    soup = BeautifulSoup(pages["index"], "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == [f"{name}.html" for name in NOTEBOOKS]
    assert "Part 2" in soup.get_text()  # titled by each notebook's first heading


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_image_output_is_embedded(pages, name):
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    soup = BeautifulSoup(pages[name], "html.parser")
    sources = {img["src"] for img in soup.find_all("img")}
    images = [(mime, data) for c in nb.cells if c.cell_type == "code" for o in c.outputs
              for mime, data in o.get("data", {}).items() if mime in ("image/png", "image/jpeg")]
    for mime, data in images:
        payload = "".join(data.split())
        base64.b64decode(payload, validate=True)
        assert f"data:{mime};base64,{payload}" in sources
    assert all(src.startswith("data:") for src in sources)
    if name != "00_theory":
        assert images, f"{name} shows its figures"


@pytest.mark.parametrize("name", NOTEBOOKS + ["index"])
def test_pages_load_nothing_from_the_network(pages, name):
    soup = BeautifulSoup(pages[name], "html.parser")
    for tag, attribute in LOADING.items():
        for element in soup.find_all(tag):
            assert not REMOTE.match(element.get(attribute, "")), f"{name}: {element}"
    assert not soup.find_all("script", src=True)  # no script at all is fetched, local or not
    css = " ".join(style.get_text() for style in soup.find_all("style"))
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", css)
    assert "mathjax" not in pages[name].lower() and "require.min.js" not in pages[name]
    assert WIDGET_VIEW not in pages[name]


def test_formulas_are_rendered_as_mathml(pages):
    """Every formula of 00_theory's Markdown is MathML in the page; no LaTeX source is left for a script."""
    nb = nbformat.read(NOTEBOOKS_DIR / "00_theory.ipynb", as_version=4)
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown")
    soup = BeautifulSoup(pages["00_theory"], "html.parser")
    formulas = soup.find_all("math")
    assert len(formulas) >= 20
    assert {f.get("display") for f in formulas} == {"block", "inline"}
    assert soup.find("mfrac") and soup.find("munderover")  # fractions, sums with limits
    for markdown in soup.select(".jp-RenderedMarkdown"):
        for element in markdown.find_all(["math", "code", "pre"]):
            element.decompose()
        text = markdown.get_text()
        assert "$" not in text and "\\" not in text, text[:200]


def test_markdown_math_and_latex_outputs(tmp_path):
    """Inline, display and environment formulas in Markdown, and a text/latex output, all become MathML."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("Math(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/latex": r"$$\frac{a}{b}$$",
                                                                 "text/plain": "<IPython.core.display.Math object>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# T\n\nInline $x^2$, display $$\\sum_{i=1}^{n} i$$ and\n\n"
                                              "\\begin{matrix} 1 & 2 \\\\ 3 & 4 \\end{matrix}\n\nA price of 5 dollars."),
                cell]
    nbformat.write(nb, tmp_path / "t.ipynb")
    page, title = webpages.notebook_html(tmp_path / "t.ipynb")
    soup = BeautifulSoup(page, "html.parser")
    assert title == "T"
    assert len(soup.find_all("math")) == 4 and soup.find("mtable") and soup.find("mfrac")


def test_a_formula_that_cannot_be_converted_stops_the_build(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("broken: $\\frac{1}{$ here")]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(webpages.FormulaError, match=r"bad\.ipynb: the formula '\\\\frac\{1\}\{' cannot be converted"):
        webpages.build(tmp_path / "out", notebooks_dir=tmp_path)
    assert not (tmp_path / "out" / "index.html").exists()


def test_an_image_keeps_its_alt_text_and_display_size(tmp_path):
    """The report's figures are PNG outputs with alt text and a display width in their metadata."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
    cell = nbformat.v4.new_code_cell("exp.figure('x')")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Image>"},
                                           metadata={"image/png": {"alt": 'Bar chart of "accuracy" & more.',
                                                                   "width": 400}})]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), cell]
    nbformat.write(nb, tmp_path / "t.ipynb")
    page, _ = webpages.notebook_html(tmp_path / "t.ipynb")
    (img,) = BeautifulSoup(page, "html.parser").find_all("img")
    assert img["alt"] == 'Bar chart of "accuracy" & more.' and img["width"] == "400"
    assert img["src"] == f"data:image/png;base64,{png}"
