"""The figure registry: numbers 1..23 in reading order, one file name, alt text and generated caption each,
four figures per experiment, render writing fig<NN>_<name>.png byte-stable and removing the same figure
under an older number, every figure drawn from small fake results (n = 5 and n = 1), captions that say n,
seeds and data copy, and no text under 8 points at the width the page shows a figure."""
from __future__ import annotations

import base64
import functools
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from cifar_utils import plots, study  # noqa: E402
from cifar_utils.data import SHARED_COPY_SHA256  # noqa: E402
from cifar_utils.figures import (BY_NAME, EXPERIMENT_KINDS, FIGURES, MissingRuns, experiment_figure,  # noqa: E402
                                 recipe_of, render, render_captioned, unregistered)
from cifar_utils.recipes import EXPERIMENTS, REPO_ROOT, profile_config  # noqa: E402
from helpers import confusion_with_diagonal, fake_result, make_config  # noqa: E402

STUDY = study.load()
IMAGES = np.zeros((100, 32, 32, 3), dtype=np.uint8)  # the fake results' 100 evaluated images


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def runs(experiment: str, seeds=(0, 1, 2, 3, 4), probe: bool = False, **changes) -> list[dict]:
    """Fake results of an experiment's report recipe (with ``changes``) at ``seeds``, 100 test images each, on
    the shared copy; with ``probe``, every epoch recorded the evaluation-mode training probe."""
    found = []
    for seed in seeds:
        config = profile_config("report", experiment)
        config = type(config)(**{**config.to_dict(), "seed": seed, **changes})
        result = fake_result(experiment, config, confusion_with_diagonal([5 + (seed + i) % 4 for i in range(10)],
                                                                         row_total=10))
        result["environment"]["data_sha256"] = SHARED_COPY_SHA256
        for h in result["history"]:
            h["train_loss"] += 0.01 * seed
            if probe:
                h.update(train_eval_loss=h["train_loss"] - 0.2, train_eval_accuracy=h["train_accuracy"] + 0.1)
        found.append(result)
    return found


@functools.lru_cache
def cells(seeds=(0, 1, 2, 3, 4)) -> dict:
    """The study's cells (profiles/study.yaml) with fake results at ``seeds``; the 16-epoch cells with the probe.
    Made once per seeds: drawing never changes its inputs."""
    found = {}
    for cell in STUDY.cells:
        results = []
        for seed in seeds:
            confusion = confusion_with_diagonal([6 + (seed + len(cell.name)) % 3] * 10, row_total=10)
            result = fake_result(cell.recipe, cell.config(seed), confusion)
            if cell.value("epochs") > 8:
                for h in result["history"]:
                    h.update(train_eval_loss=h["train_loss"] - 0.3, train_eval_accuracy=0.9)
            results.append(result)
        found[cell] = results
    return found


def inputs_for(number: int, seeds=(0, 1, 2, 3, 4)):
    """What figure ``number`` draws from (see the module docstring of figures), with runs at ``seeds``."""
    if number in (1, 2, 3, 8, 9, 10, 12, 13, 14):
        return runs("baseline", seeds, probe=number == 2)
    if number in (4, 6, 7, 11, 15):
        return runs("baseline", seeds[:1])[0]
    if number == 5:
        return {"report": runs("baseline", seeds[:1])[0], "faithful": runs("baseline", seeds[:1], epochs=5)[0]}
    if number == 16:
        return (runs("alexnet_adam_dropout", seeds[:1])[0], IMAGES)
    if number in (17, 18, 19):
        return {"AlexNet + SGD": runs("alexnet_sgd", seeds), "AlexNet + Adam + Dropout 0.5": runs("alexnet_adam_dropout", seeds)}
    return cells(tuple(seeds))


def test_numbers_are_consecutive_from_one_in_reading_order():
    assert list(FIGURES) == list(range(1, len(FIGURES) + 1)) and len(FIGURES) == 23
    assert all(f.number == n for n, f in FIGURES.items())
    order = ["baseline_per_class_accuracy", "baseline_loss_curves", "baseline_confusion_matrix", "baseline_first_ten",
             "baseline_profiles_accuracy_over_time", "baseline_faithful_loss_curves", "baseline_faithful_first_ten",
             *(f"alexnet_sgd_{kind}" for kind in EXPERIMENT_KINDS),
             *(f"alexnet_adam_dropout_{kind}" for kind in EXPERIMENT_KINDS), "alexnet_adam_dropout_confident_mistakes",
             "sgd_vs_adam_loss_curves", "sgd_vs_adam_per_class_accuracy", "sgd_vs_adam_confusion_difference",
             "study_accuracy_by_configuration", "study_optimizer_dropout_interaction", "study_depth_matched_recipe",
             "study_dropout_longest_budget"]
    assert [f.name for f in FIGURES.values()] == order


def test_file_names_are_unique_and_registered():
    names = [f.filename for f in FIGURES.values()]
    assert len(set(names)) == len(names) == len(FIGURES)
    assert all(f.filename == f"fig{f.number:02d}_{f.name}.png" for f in FIGURES.values())
    assert len(BY_NAME) == len(FIGURES)  # every figure looked up by its own name


def test_the_committed_figures_folder_holds_no_figure_of_another_numbering():
    """A reader must not find a PNG of an old number beside the current one: the report's republish
    redraws figures/ and ``render`` removes the same figure saved under another number."""
    assert unregistered(REPO_ROOT / "figures") == []


def test_every_figure_has_its_own_alt_text():
    alts = [f.alt for f in FIGURES.values()]
    assert all(isinstance(a, str) and 40 < len(a) < 400 and a.endswith(".") for a in alts)
    assert len(set(alts)) == len(alts)


def test_each_experiment_has_its_four_figures_in_order():
    for first, (name, info) in zip((1, 8, 12), EXPERIMENTS.items()):
        found = [experiment_figure(name, kind) for kind in EXPERIMENT_KINDS]
        assert [f.number for f in found] == list(range(first, first + 4))
        assert [f.name for f in found] == [f"{name}_{kind}" for kind in EXPERIMENT_KINDS]
        assert all(info.title in f.title for f in found)
    assert set(EXPERIMENT_KINDS) == {"per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten"}


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="figure kind 'histogram' is not known; use one of per_class_accuracy"):
        experiment_figure("baseline", "histogram")


@pytest.mark.parametrize("kind", EXPERIMENT_KINDS)
def test_render_writes_the_registered_file_and_closes_the_figure(tmp_path, kind):
    figure = experiment_figure("baseline", kind)
    fig = render(figure, inputs_for(figure.number), tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [figure.filename]
    png = (tmp_path / "out" / figure.filename).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Matplotlib version" not in png
    assert isinstance(fig, plt.Figure) and not plt.fignum_exists(fig.number)  # shown once, as the cell's value
    titles = {ax.get_title() for ax in fig.axes} | {fig._suptitle.get_text() if fig._suptitle else ""}
    assert figure.title in titles


def test_render_removes_the_same_figure_saved_under_an_older_number(tmp_path):
    figure = FIGURES[17]
    (tmp_path / "fig13_sgd_vs_adam_loss_curves.png").write_bytes(b"old numbering")
    (tmp_path / "fig13_other_figure.png").write_bytes(b"not this figure")
    render(figure, inputs_for(17), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig13_other_figure.png", figure.filename]
    assert unregistered(tmp_path) == [tmp_path / "fig13_other_figure.png"]


@pytest.mark.parametrize("number", list(range(1, 24)))
def test_every_figure_draws_from_five_seeds_and_from_one_at_print_resolution_byte_identical(tmp_path, number):
    figure = FIGURES[number]
    for seeds in ((0, 1, 2, 3, 4), (0,)):
        shown = render_captioned(figure, inputs_for(number, seeds), tmp_path / str(len(seeds)))
        assert shown.path.is_file() and shown.caption.startswith(f"**Fig. {number}.** {figure.title}. ")
    render(figure, inputs_for(number), tmp_path / "again")
    assert (tmp_path / "5" / figure.filename).read_bytes() == (tmp_path / "again" / figure.filename).read_bytes()
    with Image.open(tmp_path / "5" / figure.filename) as png:
        assert plots.DPI >= 150 and png.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.5)


def test_displayed_points_are_half_the_pixels_and_scaled_to_the_page_width():
    # 1 point at 200 dpi is 200/72 pixels, shown at half that in CSS pixels (96 to the inch)
    assert plots.displayed_points(9, 1200) == pytest.approx(9 * 200 / 72 / 2 * 72 / 96)
    # twice as wide as the page shows it: half again
    wide = 4 * plots.DISPLAY_WIDTH_PX
    assert plots.displayed_points(9, wide) == pytest.approx(plots.displayed_points(9, 1200) / 2)


@pytest.mark.parametrize("number", list(range(1, 24)))
def test_no_text_is_under_8_points_at_the_width_the_page_shows_the_figure(tmp_path, number):
    figure = FIGURES[number]
    fig = render(figure, inputs_for(number), tmp_path)
    with Image.open(tmp_path / figure.filename) as png:
        width = png.width
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    smallest = min(texts, key=lambda t: t.get_fontsize())
    shown = plots.displayed_points(smallest.get_fontsize(), width)
    assert shown >= plots.MIN_DISPLAY_PT == 8, f"Fig. {number}: {smallest.get_text()!r} is {shown:.1f} pt on the page"


def test_a_comparison_legend_is_no_wider_than_the_axes():
    fig = FIGURES[17].draw(inputs_for(17), FIGURES[17].title)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax.get_window_extent(renderer) for ax in fig.axes]
    span = max(a.x1 for a in axes) - min(a.x0 for a in axes)
    assert fig.legends and all(legend.get_window_extent(renderer).width <= span for legend in fig.legends)


# --- captions ------------------------------------------------------------------------------------

def caption(number: int, seeds=(0, 1, 2, 3, 4)) -> str:
    return FIGURES[number].caption(inputs_for(number, seeds))


def test_seed_figures_say_n_seeds_data_copy_and_what_the_marks_mean():
    text = caption(1)
    assert text.startswith("**Fig. 1.** Per-class test accuracy: baseline CNN + SGD. ")
    assert "5 seeds (0-4)" in text and "JPEG-degraded" in text and "10 epochs" in text
    assert "95% interval" in text and "dots" in text
    one = caption(1, seeds=(3,))
    assert "seed 3" in one and "no interval" in one and "95% interval" not in one
    curves = caption(2)
    assert "bands" in curves and "dotted" in curves
    assert "one run" in caption(9, seeds=(0,)) and "dotted" not in caption(9)  # no probe recorded
    assert "3 seeds (0, 2, 4)" in caption(1, seeds=(0, 2, 4))


def test_single_run_figures_say_which_seed_and_seed_figures_how_many():
    for number in (4, 11, 15, 16):
        assert "seed 0;" in caption(number), number
    for number in (3, 10, 14):  # the confusion matrices pool every stored seed
        assert "5 seeds (0-4)" in caption(number), number


def test_every_caption_is_20_to_60_words():
    """Self-contained but short (the reader's budget): what is drawn, which runs, the one thing to see."""
    for number, figure in FIGURES.items():
        text = figure.caption(inputs_for(number))
        count = len(re.findall(r"\w[\w'.,%()-]*", text))  # words and numbers; "+" and "**" are none
        assert 20 <= count <= 60, (number, count, text)


def test_recipes_are_named_as_the_report_the_original_or_by_what_changed():
    report = runs("alexnet_sgd", (0,), epochs=8)[0]
    assert recipe_of(report) == "AlexNet + SGD, 8 epochs"
    faithful = fake_result("baseline", profile_config("faithful", "baseline"), confusion_with_diagonal([5] * 10, 10))
    assert recipe_of(faithful) == "baseline CNN + SGD, the original report's recipe (300 epochs, batch 10)"
    changed = runs("alexnet_sgd", (0,), epochs=8, lr=0.08, dropout=0.5)[0]
    assert recipe_of(changed) == "AlexNet + SGD + Dropout 0.5, lr = 0.08, 8 epochs"


def test_confidences_say_what_label_smoothing_does_to_them():
    smoothed = caption(4)
    assert "label smoothing 0.1" in smoothed.lower() and "91.0%" in smoothed
    plain = FIGURES[7].caption(fake_result("baseline", profile_config("faithful", "baseline"),
                                           confusion_with_diagonal([5] * 10, 10)))
    assert "no label smoothing" in plain.lower()


def test_another_data_copy_is_named():
    other = runs("baseline", (0,))
    other[0]["environment"]["data_sha256"] = "a" * 64
    assert "npz fake (sha256 aaaaaaaaaaaa)" in FIGURES[1].caption(other)


def test_the_difference_caption_names_its_colours_and_the_diagonal():
    text = caption(19)
    assert "Purple" in text and "orange" in text and "Diagonal" in text and "Largest gain" in text


def test_study_captions_count_the_runs_of_each_cell():
    every = cells()
    fewer = dict(every)
    longer = STUDY.cell("adam_16_epochs")
    fewer[longer] = every[longer][:2]
    text = FIGURES[20].caption(fewer)
    assert "5 seeds each (0-4), except 2 for AlexNet + Adam (16 epochs)" in text
    assert "2 seeds (0-1)" in FIGURES[23].caption(fewer)
    assert "95% Welch interval" in caption(22)


def test_study_figures_without_their_runs_say_what_is_missing(tmp_path):
    empty = {cell: [] for cell in STUDY.cells}
    for number in (22, 23):
        with pytest.raises(MissingRuns, match="run python -m cifar_utils.sweep first"):
            render(FIGURES[number], empty, tmp_path)


def test_captioned_figure_displays_the_saved_png_with_alt_text_then_its_caption(tmp_path, monkeypatch):
    import IPython.display
    figure = FIGURES[3]
    result = fake_result("baseline", make_config(), confusion_with_diagonal([60] * 10, row_total=100))
    shown = render_captioned(figure, result, tmp_path)
    displayed = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: displayed.extend(objects))
    shown._ipython_display_()
    image, text = displayed
    data, metadata = image._repr_png_()
    assert base64.b64decode(data) == (tmp_path / figure.filename).read_bytes()
    with Image.open(shown.path) as png:
        assert metadata["alt"] == figure.alt and metadata["width"] == png.width // 2  # shown at half its pixels
    assert text._repr_markdown_() == shown.caption == figure.caption(result)
    assert shown.caption.startswith(f"**Fig. 3.** {figure.title}. ") and "seed 0;" in shown.caption
