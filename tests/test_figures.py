"""The figure registry: numbers 1..21, one file name and alt text each (the committed figures/ among them),
four figures per experiment, and render writing fig<NN>_<name>.png for every figure, byte-stable."""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from cifar_utils import plots  # noqa: E402
from cifar_utils.figures import BY_NAME, EXPERIMENT_KINDS, FIGURES, experiment_figure, render  # noqa: E402
from cifar_utils.recipes import EXPERIMENTS, REPO_ROOT  # noqa: E402
from helpers import confusion_with_diagonal, fake_result, make_config  # noqa: E402


def test_numbers_are_consecutive_from_one():
    assert list(FIGURES) == list(range(1, len(FIGURES) + 1)) and len(FIGURES) == 21
    assert all(f.number == n for n, f in FIGURES.items())


def test_file_names_are_unique_and_every_committed_figure_is_registered():
    names = [f.filename for f in FIGURES.values()]
    assert len(set(names)) == len(names) == len(FIGURES)
    committed = {p.name for p in (REPO_ROOT / "figures").glob("*.png")}
    assert committed <= set(names)  # Fig. 16-19 are committed once the report is re-run with their inputs
    assert {f.filename for n, f in FIGURES.items() if n <= 15} <= committed
    assert all(f.filename == f"fig{f.number:02d}_{f.name}.png" for f in FIGURES.values())
    assert BY_NAME == {f.name: f for f in FIGURES.values()} and len(BY_NAME) == len(FIGURES)


def test_every_figure_has_its_own_alt_text():
    alts = [f.alt for f in FIGURES.values()]
    assert all(isinstance(a, str) and 40 < len(a) < 400 and a.endswith(".") for a in alts)
    assert len(set(alts)) == len(alts)


def test_each_experiment_has_its_four_figures_in_order():
    for first, (name, info) in zip((1, 5, 9), EXPERIMENTS.items()):
        found = [experiment_figure(name, kind) for kind in EXPERIMENT_KINDS]
        assert [f.number for f in found] == list(range(first, first + 4))
        assert [f.name for f in found] == [f"{name}_{kind}" for kind in EXPERIMENT_KINDS]
        assert all(info.title in f.title for f in found)
    assert set(EXPERIMENT_KINDS) == {"per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten"}


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="figure kind 'histogram' is not known; use one of per_class_accuracy"):
        experiment_figure("baseline", "histogram")


@pytest.fixture
def result():
    config = make_config(epochs=2)
    return fake_result("baseline", config, confusion_with_diagonal([6, 7, 5, 4, 6, 5, 8, 7, 8, 7], row_total=10))


@pytest.mark.parametrize("kind", EXPERIMENT_KINDS)
def test_render_writes_the_registered_file_and_closes_the_figure(tmp_path, result, kind):
    figure = experiment_figure("baseline", kind)
    fig = render(figure, result, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [figure.filename]
    png = (tmp_path / "out" / figure.filename).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Matplotlib version" not in png
    assert isinstance(fig, plt.Figure) and not plt.fignum_exists(fig.number)  # shown once, as the cell's value
    titles = {ax.get_title() for ax in fig.axes} | {fig._suptitle.get_text() if fig._suptitle else ""}
    assert figure.title in titles


def test_render_is_byte_identical_when_redrawn(tmp_path, result):
    figure = FIGURES[2]
    render(figure, result, tmp_path / "a")
    render(figure, result, tmp_path / "b")
    assert (tmp_path / "a" / figure.filename).read_bytes() == (tmp_path / "b" / figure.filename).read_bytes()


def test_multi_result_figures_take_labelled_results(tmp_path, result):
    other = fake_result("baseline", make_config(epochs=3), confusion_with_diagonal([5] * 10, row_total=10))
    for number in (13, 14, 15, 16):
        render(FIGURES[number], {"one": result, "two": other}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FIGURES[n].filename for n in (13, 14, 15, 16)]


def study_inputs():
    """Fig. 17-19's other inputs: test accuracies of seeds per configuration (one with a single run, one
    with none), the original report's numbers, and a 2 x 2 design."""
    accuracies = {"baseline CNN + SGD": [76.1, 76.6, 76.4], "AlexNet + SGD": [73.2], "AlexNet + Adam": []}
    original = {"baseline CNN + SGD": 67.0, "AlexNet + SGD": 71.99, "AlexNet + Adam": None}
    design = {("sgd", 0.0): [73.1, 73.9, 73.5], ("sgd", 0.5): [74.0, 74.4],
              ("adam", 0.0): [74.2, 73.8, 74.0], ("adam", 0.5): [75.0, 75.6, 75.1]}
    return (accuracies, original), design


def test_the_new_figures_render_from_their_inputs(tmp_path, result):
    (accuracies, original), design = study_inputs()
    images = np.zeros((100, 32, 32, 3), dtype=np.uint8)  # the fake result's 100 evaluated images
    inputs = {17: (result, images), 18: (accuracies, original), 19: design}
    for number, given in inputs.items():
        render(FIGURES[number], given, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FIGURES[n].filename for n in inputs]


def test_confident_mistakes_figure_without_images_says_what_to_pass(tmp_path, result):
    with pytest.raises(ValueError, match="needs the evaluated test images.*pass data.load_cifar10"):
        render(FIGURES[17], result, tmp_path)
    with pytest.raises(ValueError, match="needs the evaluated test images"):
        render(FIGURES[17], (result, None), tmp_path)
    assert not list(tmp_path.iterdir())


def test_every_figure_is_saved_at_print_resolution_and_byte_identical_when_redrawn(tmp_path, result):
    (accuracies, original), design = study_inputs()
    inputs = {n: result for n in range(1, 13)}
    inputs.update({n: {"one": result, "two": result} for n in (13, 14, 15, 16)})
    inputs.update({17: (result, np.zeros((100, 32, 32, 3), dtype=np.uint8)), 18: (accuracies, original), 19: design})
    assert plots.DPI >= 150
    for number, given in inputs.items():
        figure = FIGURES[number]
        render(figure, given, tmp_path / "a")
        render(figure, given, tmp_path / "b")
        first = (tmp_path / "a" / figure.filename).read_bytes()
        assert first == (tmp_path / "b" / figure.filename).read_bytes(), figure.filename
        with Image.open(tmp_path / "a" / figure.filename) as png:
            assert png.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.5), figure.filename


def test_captioned_figure_displays_the_saved_png_with_alt_text_then_the_numbered_caption(tmp_path, monkeypatch):
    import IPython.display
    from cifar_utils.figures import render_captioned
    figure = FIGURES[3]
    result = fake_result("baseline", make_config(), confusion_with_diagonal([60] * 10, row_total=100))
    shown = render_captioned(figure, result, tmp_path)
    displayed = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: displayed.extend(objects))
    shown._ipython_display_()
    image, caption = displayed
    data, metadata = image._repr_png_()
    assert base64.b64decode(data) == (tmp_path / figure.filename).read_bytes()
    assert metadata["alt"] == figure.alt and metadata["width"] * 2 == Image.open(shown.path).width
    assert caption._repr_markdown_() == f"**Fig. 3.** {figure.title}."
