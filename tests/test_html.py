"""`make html`: the committed notebooks as static pages that need no network (cifar_utils.webpages).

The build converts the committed notebooks (nothing is executed), with network access refused while it runs.
What a reader gets is checked as far as markup can show it: the math font stack, the contents and the links
between pages, tables as tables, numbers that cannot break across lines. How the pages look in a browser is a
maintainer's check (tools/screenshot_html.py), not a test.
"""
from __future__ import annotations

import base64
import re
import socket

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from cifar_utils import webpages
from cifar_utils.nbclean import WIDGET_VIEW
from cifar_utils.recipes import NOTEBOOKS_DIR, REPO_ROOT

slow = pytest.mark.slow  # the test converts notebooks to HTML (nbconvert)

NOTEBOOKS = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
# Attributes through which a page would fetch something as it loads (links to click are fine).
LOADING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "embed": "src", "object": "data",
           "source": "src", "audio": "src", "video": "src", "track": "src", "input": "src"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
MATH_FONTS = ["STIX Two Math", "Latin Modern Math", "DejaVu Math TeX Gyre", "Cambria Math"]
# Numbers a browser may break across lines: at the hyphen of an exponent, at the spaces of an interval.
BREAKABLE_NUMBERS = re.compile(r"[+\-\u2212]?\d+(?:\.\d+)?[eE][+\-\u2212]\d+"
                               r"|[+\-\u2212]?\d+(?:\.\d+)?%? to [+\-\u2212]?\d+(?:\.\d+)?%?")


def refuse_network(*args, **kwargs):
    raise AssertionError("the HTML build tried to open a network connection")


def heading(name: str) -> str:
    """A notebook's first Markdown heading, as its page and the contents title it."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    return next(line.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if line.startswith("#"))


def css_rules(soup: BeautifulSoup) -> dict[str, str]:
    """The page's inline stylesheets as selector -> declarations (the last rule of a selector wins)."""
    css = re.sub(r"/\*.*?\*/", "", " ".join(style.get_text() for style in soup.find_all("style")), flags=re.S)
    return {" ".join(selector.split()): body for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
            for selector in selectors.split(",")}


def unbreakable(element) -> bool:
    """Whether ``element`` or one of its parents is marked not to break (class nowrap)."""
    return any("nowrap" in (e.get("class") or []) for e in [element, *element.parents] if e.name)


def convert(tmp_path, *cells) -> BeautifulSoup:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), *cells]
    nbformat.write(nb, tmp_path / "t.ipynb")
    page, _ = webpages.notebook_html(tmp_path / "t.ipynb")
    return BeautifulSoup(page, "html.parser")


def html_output(frame) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("frame")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": frame.to_html(),
                                                                   "text/plain": frame.to_string()},
                                           execution_count=1)]
    return cell


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


@slow
def test_index_links_every_notebook_page(pages):
    soup = BeautifulSoup(pages["index"], "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == [f"{name}.html" for name in NOTEBOOKS]
    assert "Part 2" in soup.get_text()  # titled by each notebook's first heading


@slow
def test_index_has_the_reports_title_and_contents_in_reading_order(pages):
    """The report's title (README's first heading) as page title and heading; one line per notebook, 00 to 03,
    titled by its first heading, with a sentence saying what it holds; the pages' stylesheet."""
    soup = BeautifulSoup(pages["index"], "html.parser")
    title = next(line for line in (REPO_ROOT / "README.md").read_text().splitlines() if line.startswith("#"))
    title = title.lstrip("#").strip()
    assert soup.title.get_text() == soup.h1.get_text() == title
    assert soup.find(class_="lede").get_text().strip()
    assert NOTEBOOKS == sorted(NOTEBOOKS) and NOTEBOOKS[0].startswith("00") and len(NOTEBOOKS) == 4
    items = soup.select("ol.contents > li")
    assert [li.a["href"] for li in items] == [f"{name}.html" for name in NOTEBOOKS]
    assert [li.a.get_text() for li in items] == [heading(name) for name in NOTEBOOKS]
    for li in items:
        summary = li.find(class_="summary").get_text()
        assert 20 < len(summary) < 400 and summary.rstrip().endswith((".", "!", "?", ")")), summary
        assert not re.search(r"\[\d+\]", summary)  # citations left out of a contents line
    stylesheet = webpages.STYLESHEET.read_text().strip()
    for page in (soup, BeautifulSoup(pages[NOTEBOOKS[0]], "html.parser")):  # the same stylesheet as the pages
        assert stylesheet in "".join(style.get_text() for style in page.find_all("style"))


@slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_page_links_back_to_the_contents_and_its_neighbours(pages, name):
    soup = BeautifulSoup(pages[name], "html.parser")
    navs = soup.select("nav.pages")
    assert len(navs) == 2 and soup.main.find("nav") is navs[0]  # above the first cell and below the last
    at = NOTEBOOKS.index(name)
    for nav in navs:
        assert nav.find("a", href="index.html")
        previous, following = nav.find("a", rel="prev"), nav.find("a", rel="next")
        assert (previous["href"] if previous else None) == (f"{NOTEBOOKS[at - 1]}.html" if at else None)
        assert (following["href"] if following else None) == (
            f"{NOTEBOOKS[at + 1]}.html" if at + 1 < len(NOTEBOOKS) else None)
    assert soup.title.get_text() == heading(name)


@slow
@pytest.mark.parametrize("name", NOTEBOOKS + ["index"])
def test_pages_have_the_math_font_stack(pages, name):
    """Formulas in a math font that has sums and primes at a readable size, whichever one the reader has,
    falling back to the browser's own math font; not the default serif."""
    rules = css_rules(BeautifulSoup(pages[name], "html.parser"))
    stack = [f.strip().strip('"\'') for f in re.search(r"font-family:([^;]+)", rules["math"]).group(1).split(",")]
    assert [f for f in stack if f in MATH_FONTS] == MATH_FONTS and stack[-1] == "math"
    assert "font-size-adjust" in rules["math"]


@slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tables_are_tables_that_scroll_on_their_own(pages, name):
    """Every table output (pandas' HTML) is a table on the page, in a box that scrolls sideways when the table
    is wider than the column, so the page itself never does."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    outputs = sum(o.get("data", {}).get("text/html", "").count("<table") for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs)
    soup = BeautifulSoup(pages[name], "html.parser")
    tables = soup.select(".jp-OutputArea-output table")
    assert len(tables) == outputs and (outputs or name == "00_theory")
    assert all("table-scroll" in table.parent["class"] for table in soup.find_all("table"))
    rules = css_rules(soup)
    assert "overflow-x: auto" in rules[".table-scroll"]


@slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_table_is_printed_as_plain_text(pages, name):
    """A pandas Series or DataFrame shown as text (its repr, ending in 'dtype: ...') is a table a reader gets
    as a block of monospaced lines; show it as a DataFrame."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    for n, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = data.get("text/plain", "") if set(data) == {"text/plain"} else output.get("text", "")
            assert not re.search(r"^(Name: .*, )?dtype: \w+$", text, re.M), f"{name}, cell {n}: {cell.source!r}"


@slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_number_can_break_across_lines(pages, name):
    """A p-value such as 3.51e-05 (a browser breaks after its hyphen) and an interval "+1.39 to +2.45" are each
    inside an element that cannot wrap, in tables and in prose; a cell that is only a number cannot wrap."""
    soup = BeautifulSoup(pages[name], "html.parser")
    assert "white-space: nowrap" in css_rules(soup)[".nowrap"]
    for string in soup.find_all(string=BREAKABLE_NUMBERS):
        if {p.name for p in string.parents} & {"pre", "code", "math", "style", "script", "title"}:
            continue
        in_table = string.find_parent(["td", "th"]) is not None
        for match in BREAKABLE_NUMBERS.finditer(string):
            if in_table or "e" in match.group().lower():
                assert unbreakable(string.parent), f"{name}: {match.group()!r} in {string.parent}"
    for cell in soup.select(".jp-OutputArea-output td"):
        if re.fullmatch(r"\s*[+\-]?\d[\d,]*(\.\d+)?([eE][+\-]\d+)?%?\s*", cell.get_text()):
            assert unbreakable(cell), f"{name}: {cell}"


@slow
def test_table_columns_and_numbers(tmp_path):
    """A numeric column (header included) is right-aligned, a text column and the row labels are not; whole
    numeric cells cannot wrap, and numbers inside text are kept whole; the table scrolls on its own."""
    frame = pd.DataFrame({"effect": ["+1.92 points (95% CI +1.39 to +2.45, n = 5 per group)",
                                     "-0.06 (95% CI -0.08 to -0.03, n = 5 per group)"],
                          "p-value": ["3.51e-05", "0.253"], "verdict": ["holds", "not supported"],
                          "interval": ["+1.39 to +2.45", "-1.32 to +1.62"]},
                         index=pd.Index(["Adam beats SGD", "the cat class improves"], name="claim"))
    soup = convert(tmp_path, html_output(frame))
    (table,) = soup.find_all("table")
    assert "table-scroll" in table.parent["class"]
    header = {th.get_text(): th for th in table.thead.find_all("th")}
    rows = [tr.find_all(["th", "td"]) for tr in table.tbody.find_all("tr")]
    for label, effect, p, verdict, interval in rows:
        assert "numeric" not in (label.get("class") or []) + (effect.get("class") or []) + (verdict.get("class") or [])
        assert {"numeric", "nowrap"} <= set(p["class"]) and {"numeric", "nowrap"} <= set(interval["class"])
        assert any(span.get_text() in ("+1.39 to +2.45", "-0.08 to -0.03") for span in effect.select("span.nowrap"))
    assert "numeric" in header["p-value"]["class"] and "numeric" not in (header["effect"].get("class") or [])
    assert unbreakable(header["p-value"].find(string=re.compile("p-value")).parent)


@slow
def test_prose_numbers_with_a_hyphen_are_kept_whole(tmp_path):
    soup = convert(tmp_path, nbformat.v4.new_markdown_cell("A p-value of 3.51e-05 and weight decay 5e-4, "
                                                           "but CIFAR-10 and 0.25 as they are."))
    spans = [span.get_text() for span in soup.select(".jp-RenderedMarkdown span.nowrap")]
    assert spans == ["3.51e-05", "5e-4"]


def test_primes_sit_beside_their_base_not_as_tiny_superscripts():
    """latex2mathml writes F' as a superscript prime, which Chromium draws tiny: the page has it beside F."""
    soup = BeautifulSoup(webpages.mathml("F'(x, y) = x'_i + f''", display=False), "html.parser")
    assert not soup.find("msup") and not soup.find("msubsup")
    primes = soup.find_all("mo", string=re.compile("[\u2032\u2033]"))
    assert [p.get_text() for p in primes] == ["\u2032", "\u2032", "\u2033"]
    assert primes[0].find_previous_sibling("mi").get_text() == "F"
    assert primes[1].find_previous_sibling("msub")  # x_i, then its prime
    assert soup.find("msup") is None and BeautifulSoup(webpages.mathml("x^2", False), "html.parser").find("msup")


def test_a_function_name_is_spaced_from_what_follows_it():
    spaced = BeautifulSoup(webpages.mathml(r"\log \sum_j e^{z_j}", display=True), "html.parser")
    assert spaced.find("mi", string="log").find_next_sibling().name == "mspace"
    tight = BeautifulSoup(webpages.mathml(r"\log(x)", display=False), "html.parser")
    assert tight.find("mi", string="log").find_next_sibling().name == "mo"


@slow
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


@slow
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


@slow
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


@slow
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


@slow
def test_a_formula_that_cannot_be_converted_stops_the_build(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("broken: $\\frac{1}{$ here")]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(webpages.FormulaError, match=r"bad\.ipynb: the formula '\\\\frac\{1\}\{' cannot be converted"):
        webpages.build(tmp_path / "out", notebooks_dir=tmp_path)
    assert not (tmp_path / "out" / "index.html").exists()


@slow
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


def test_a_sign_without_a_left_operand_and_a_solidus_take_no_space():
    """-1/N after '=', -log inside a parenthesis and eps / M are spaced as TeX spaces them; a - b is not."""
    soup = BeautifulSoup(webpages.mathml(r"L = -\frac{1}{N} \left( -\log p \right) + a - b + \varepsilon / M",
                                         display=True), "html.parser")
    tight = [(mo.get_text(), mo.get("lspace"), mo.get("rspace")) for mo in soup.find_all("mo") if mo.get("lspace")]
    assert tight == [("\u2212", "0", "0"), ("\u2212", "0", "0"), ("/", "0", "0")]


@pytest.mark.parametrize("folder", ["notebooks", ".", "results", "figures", "README.md"])
def test_pages_are_never_written_into_the_committed_report(folder, monkeypatch, capsys):
    """Refused with one sentence naming the folder and the default, before anything is converted or written."""
    def refuse(*args, **kwargs):
        raise AssertionError("a page was converted")

    monkeypatch.setattr(webpages, "notebook_html", refuse)
    before = sorted(p.name for p in REPO_ROOT.iterdir())
    assert webpages.main(["--output-dir", folder]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert repr(folder) in captured.err or folder in captured.err
    assert "build/html" in captured.err
    assert sorted(p.name for p in REPO_ROOT.iterdir()) == before


def test_a_truncated_notebook_is_named_with_its_fix(tmp_path):
    from cifar_utils.recipes import NOTEBOOKS_DIR
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_baseline.ipynb").write_bytes((NOTEBOOKS_DIR / "01_baseline.ipynb").read_bytes()[:3000])
    with pytest.raises(webpages.UnreadableNotebook, match=r"01_baseline.ipynb is not a readable notebook .*git"):
        webpages.build(tmp_path / "html", notebooks_dir=folder)
