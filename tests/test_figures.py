"""The figure registry: numbers 1..15, one file name each (the committed figures/), four figures per
experiment, and render writing fig<NN>_<name>.png."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cifar_utils.figures import BY_NAME, EXPERIMENT_KINDS, FIGURES, experiment_figure, render  # noqa: E402
from cifar_utils.recipes import EXPERIMENTS, REPO_ROOT  # noqa: E402
from helpers import confusion_with_diagonal, fake_result, make_config  # noqa: E402


def test_numbers_are_one_to_fifteen():
    assert list(FIGURES) == list(range(1, 16))
    assert all(f.number == n for n, f in FIGURES.items())


def test_file_names_are_unique_and_are_the_committed_figures():
    names = [f.filename for f in FIGURES.values()]
    assert len(set(names)) == len(names) == 15
    assert sorted(names) == sorted(p.name for p in (REPO_ROOT / "figures").glob("*.png"))
    assert all(f.filename == f"fig{f.number:02d}_{f.name}.png" for f in FIGURES.values())
    assert BY_NAME == {f.name: f for f in FIGURES.values()} and len(BY_NAME) == 15


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
    for number in (13, 14, 15):
        render(FIGURES[number], {"one": result, "two": other}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FIGURES[n].filename for n in (13, 14, 15)]
