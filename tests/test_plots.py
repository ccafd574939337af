"""What the figures show, checked on fake results (no training, no dataset): per-class means over seeds with
stats.summary's intervals and every seed as a dot, curves with a band over the seeds and the probe where
recorded, row percentages on one fixed scale, the difference of mean matrices, top three classes, the most
confident mistakes, and nothing drawn over the bars."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cifar_utils import plots, stats  # noqa: E402
from cifar_utils.data import CLASSES  # noqa: E402
from cifar_utils.evaluate import encode_predictions  # noqa: E402
from cifar_utils.results import ResultError  # noqa: E402
from helpers import confusion_with_diagonal, fake_result, make_config  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def result_with(diagonal, row_total=10, **config):
    """A fake result whose class i has diagonal[i] of ``row_total`` test images right."""
    return fake_result("baseline", make_config(**config), confusion_with_diagonal(diagonal, row_total=row_total))


@pytest.fixture
def result():
    return result_with([6, 7, 5, 4, 6, 5, 8, 7, 8, 7])


def texts_of(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# Confusion matrices ---------------------------------------------------------------------------

def test_row_percentages_sum_to_100_per_row_and_an_empty_row_stays_zero():
    confusion = np.array([[8, 2, 0], [1, 1, 2], [0, 0, 0]])
    percent = plots.row_percentages(confusion)
    np.testing.assert_allclose(percent[:2].sum(axis=1), [100, 100])
    np.testing.assert_allclose(percent, [[80, 20, 0], [25, 25, 50], [0, 0, 0]])


def test_every_confusion_matrix_has_the_same_0_to_100_scale_and_writes_percent_and_count():
    for diagonal in ([10] * 10, [1] * 10, [6, 7, 5, 4, 6, 5, 8, 7, 8, 7]):
        fig = plots.confusion_matrix(result_with(diagonal), "title")
        image = fig.axes[0].images[0]
        assert (image.norm.vmin, image.norm.vmax) == plots.CONFUSION_RANGE == (0, 100)
        np.testing.assert_allclose(image.get_array(), plots.row_percentages(confusion_with_diagonal(diagonal, 10)))
        colorbar = fig.axes[1]
        assert 0 in colorbar.get_yticks() and 100 in colorbar.get_yticks()
    texts = texts_of(fig.axes[0])
    assert texts[:2] == ["60.0", "6"]  # airplane as airplane: 60% of its row, 6 images
    assert len(texts) == 2 * 10 * 10


def test_a_confusion_matrix_of_several_seeds_pools_their_counts():
    """Fig. 3, 10 and 14 draw every stored seed: each cell the count over the runs, its percentage of the pooled
    row (the mean of the runs' row percentages, every run seeing the same images)."""
    runs = [result_with([10] * 10), result_with([6] * 10)]
    fig = plots.confusion_matrix(runs, "title")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), plots.mean_row_percentages(runs))
    assert texts_of(fig.axes[0])[:2] == ["80.0", "16"]  # airplane as airplane: 10 + 6 of 20 images


def test_annotations_are_dark_on_light_cells_and_light_on_dark_ones():
    fig = plots.confusion_matrix(result_with([10] * 10), "title")
    colours = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert colours["100.0"] == "white" and colours["0.0"] == "black"


def test_mean_row_percentages_average_the_runs_matrices():
    a = {"confusion": [[8, 2], [5, 5]]}
    b = {"confusion": [[6, 4], [5, 15]]}
    np.testing.assert_allclose(plots.mean_row_percentages([a, b]), [[70, 30], [37.5, 62.5]])


def test_difference_matrix_is_b_minus_a_of_the_mean_matrices_in_points_of_each_true_class():
    a = [{"confusion": [[8, 2], [5, 5]], "classes": ["x", "y"]}]
    b = [{"confusion": [[9, 1], [4, 16]], "classes": ["x", "y"]}, {"confusion": [[7, 3], [4, 16]], "classes": ["x", "y"]}]
    np.testing.assert_allclose(plots.confusion_difference_values(a, b), [[0, 0], [-30, 30]])


def test_difference_figure_is_on_a_fixed_symmetric_diverging_scale_labelled_b_minus_a(result):
    other = result_with([10] * 10)
    fig = plots.confusion_difference({"a": [result], "b": [other, other]}, "title")
    image = fig.axes[0].images[0]
    assert (image.norm.vmin, image.norm.vmax) == (-plots.DIFFERENCE_RANGE, plots.DIFFERENCE_RANGE)
    assert image.cmap.name == "PuOr"  # diverging, white at 0
    np.testing.assert_allclose(image.get_array(), plots.confusion_difference_values([result], [other]))
    assert texts_of(fig.axes[0])[0] == "+40.0"  # airplane right: 60% -> 100%
    assert 0 in fig.axes[1].get_yticks() and fig.axes[1].get_ylabel() == "b minus a, points"
    with pytest.raises(ValueError, match="exactly two recipes, not 3"):
        plots.confusion_difference({"a": [result], "b": [other], "c": [other]}, "title")
    with pytest.raises(ValueError, match="the runs of b must be a non-empty list of stored results"):
        plots.confusion_difference({"a": [result], "b": other}, "title")


# Per-class bars over seeds: means, t intervals, dots, nothing over the bars ----------------------

SEEDS = [[6, 7, 5, 4, 6, 5, 8, 7, 8, 7], [7, 7, 6, 4, 5, 5, 9, 7, 8, 6], [6, 8, 5, 5, 6, 4, 8, 6, 9, 7]]


def seed_results():
    return [result_with(diagonal, seed=seed) for seed, diagonal in enumerate(SEEDS)]


def test_class_means_are_stats_summary_of_each_class_over_the_runs():
    rows = plots.class_means(seed_results())
    airplane = [10 * d[0] for d in SEEDS]
    s = stats.summary(airplane)
    assert rows["airplane"]["values"] == airplane
    assert (rows["airplane"]["mean"], rows["airplane"]["low"], rows["airplane"]["high"]) == pytest.approx(
        (s["mean"], s["low"], s["high"]))
    one = plots.class_means(seed_results()[:1])
    assert one["airplane"] == {"values": [60.0], "n": 1, "mean": 60.0, "low": None, "high": None}


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_per_class_accuracy_draws_means_intervals_and_every_seed_with_labels_clear_of_each_other():
    results = seed_results()
    fig = plots.per_class_accuracy(results, "title")
    ax = fig.axes[0]
    assert ax.get_legend() is None
    assert [p.get_height() for p in ax.patches] == pytest.approx([r["mean"] for r in plots.class_means(results).values()])
    bars = error_bars(ax)
    s = stats.summary([10 * d[0] for d in SEEDS])
    assert len(bars) == 10 and (bars[0][0][1], bars[0][1][1]) == pytest.approx((s["low"], s["high"]))
    dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if isinstance(c, PathCollection)])
    assert len(dots) == 30  # every seed of every class
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text().replace(".", "").isdigit()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert len(labels) == 10
    assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(box.y1 <= ax.get_window_extent(renderer).y1 for box in boxes)  # inside the axes: ylim has room
    assert all(t.get_bbox_patch().get_facecolor()[:3] == (1, 1, 1) for t in labels)  # lines pass behind
    overall = next(t for t in ax.texts if t.get_text().startswith("overall"))
    assert overall.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1  # in the margin
    mean_overall = np.mean([10 * np.mean(d) for d in SEEDS])
    assert overall.get_text() == f"overall\n{mean_overall:.2f}%"


def test_per_class_accuracy_of_one_run_has_no_interval_and_no_dots(result):
    ax = plots.per_class_accuracy([result], "title").axes[0]
    assert error_bars(ax) == [] and not [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [p.get_height() for p in ax.patches] == pytest.approx([10.0 * d for d in [6, 7, 5, 4, 6, 5, 8, 7, 8, 7]])


def test_per_class_accuracy_refuses_a_single_result_or_none(result):
    with pytest.raises(ValueError, match="must be a non-empty list of stored results .*pass \\[result\\] for one run"):
        plots.per_class_accuracy(result, "title")
    with pytest.raises(ValueError, match="not list \\(empty\\)"):
        plots.per_class_accuracy([], "title")


def test_per_class_comparison_puts_its_legend_above_the_axes_with_n(result):
    fig = plots.per_class_comparison({"one": seed_results(), "two": [result_with([9] * 10, epochs=3)]}, "title")
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1
    mean = np.mean([10 * np.mean(d) for d in SEEDS])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"one: {mean:.2f}% overall, n = 3", "two: 90.00% overall, n = 1"]
    assert len(error_bars(ax)) == 10  # the three seeds' intervals; one run has none


# Curves over seeds ---------------------------------------------------------------------------------

def with_probe(result, offset=0.0):
    for h in result["history"]:
        h.update(train_eval_loss=h["train_loss"] - 0.5 + offset, train_eval_accuracy=0.8)
    return result


def test_history_values_need_the_field_in_every_run_and_epoch():
    runs = [result_with([5] * 10, epochs=3, seed=s) for s in range(2)]
    assert plots.history_values(runs, "test_loss").shape == (2, 3)
    assert plots.history_values(runs, "train_eval_loss") is None
    with_probe(runs[0])
    assert plots.history_values(runs, "train_eval_loss") is None  # one run has it, the other not
    assert [key for key, _, _ in plots.measures_of(runs)] == ["train", "test"]
    with_probe(runs[1])
    assert [key for key, _, _ in plots.measures_of(runs)] == ["train", "train_eval", "test"]


def test_loss_curves_draw_the_mean_with_a_band_from_lowest_to_highest_seed():
    runs = [with_probe(result_with([5] * 10, epochs=3, seed=s), offset=0.1 * s) for s in range(3)]
    fig = plots.loss_curves({"one": runs}, "title")
    ax_loss = fig.axes[0]
    probe = next(line for line in ax_loss.lines if line.get_linestyle() == ":")
    np.testing.assert_allclose(probe.get_ydata(), plots.history_values(runs, "train_eval_loss").mean(axis=0))
    band = ax_loss.collections[1].get_paths()[0].vertices[:, 1]  # the probe's band: its lowest and highest seed
    values = plots.history_values(runs, "train_eval_loss")
    assert band.min() == pytest.approx(values.min()) and band.max() == pytest.approx(values.max())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["training, as trained", "training probe, eval mode", "test", "lowest to highest seed"]
    assert all(ax.get_legend() is None for ax in fig.axes)  # below the plots, not over the curves


def test_loss_curves_of_one_run_have_no_band_and_of_two_recipes_a_legend_of_each(result):
    fig = plots.loss_curves({"one": [result]}, "title")
    assert not fig.axes[0].collections
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["training, as trained", "test"]
    two = plots.loss_curves({"one": [result], "two": [result_with([9] * 10, epochs=3)] * 2}, "title")
    assert [t.get_text() for t in two.legends[0].get_texts()] == ["one (n = 1)", "two (n = 2)"]


def test_loss_by_seed_draws_every_run_thin_and_the_mean_thick():
    runs = [with_probe(result_with([5] * 10, epochs=4, seed=s), offset=0.1 * s) for s in range(2)]
    fig = plots.loss_by_seed({"no dropout": runs, "Dropout 0.5": runs[:1]}, "title")
    left, right = fig.axes
    assert left.get_title() == "no dropout (n = 2)" and right.get_title() == "Dropout 0.5 (n = 1)"
    widths = sorted(line.get_linewidth() for line in left.lines)
    assert widths == [0.8] * 4 + [2.2] * 2  # two runs x (probe, test), then the two means
    thick_probe = next(line for line in left.lines if line.get_linewidth() == 2.2 and line.get_linestyle() == "-")
    np.testing.assert_allclose(thick_probe.get_ydata(), plots.history_values(runs, "train_eval_loss").mean(axis=0))


# First ten: top three, colour not the only signal ------------------------------------------------

def test_top_k_is_argsort_of_the_probabilities():
    rng = np.random.default_rng(0)
    for p in rng.dirichlet(np.ones(10), 20):
        assert [c for c, _ in plots.top_k(p)] == list(np.argsort(p)[::-1][:3])
        assert [q for _, q in plots.top_k(p)] == sorted(p, reverse=True)[:3]
    assert plots.top_k([0.2, 0.4, 0.4], k=2) == [(1, 0.4), (2, 0.4)]  # ties: lower index first


def test_first_ten_shows_the_true_class_right_or_wrong_in_words_and_the_top_three(result):
    probabilities = np.full((10, 10), 0.02)
    probabilities[np.arange(10), result["first_ten"]["predicted"]] = 0.7
    probabilities[3, 3], probabilities[3, 0] = 0.2, 0.0  # image 3 (a cat) was predicted a dog
    result["first_ten"]["probabilities"] = probabilities.tolist()
    fig = plots.first_ten(result, "title")
    panels = fig.axes[:10]
    assert [ax.get_title() for ax in panels] == [f"{i}. {c}" for i, c in enumerate(CLASSES, 1)]
    assert texts_of(panels[3]) == ["\u2717 wrong", "1. dog 70.0%", "2. cat 20.0%", "3. automobile 2.0%"]
    assert texts_of(panels[0])[0] == "\u2713 right"
    bold = [t.get_text() for t in panels[3].texts if t.get_fontweight() == "bold"]
    assert "2. cat 20.0%" in bold  # the true class
    assert panels[3].spines["top"].get_linestyle() != panels[0].spines["top"].get_linestyle()


def test_first_ten_without_probabilities_shows_the_predicted_class_only(result):
    assert "probabilities" not in result["first_ten"]  # as in a result stored before they were kept
    fig = plots.first_ten(result, "title")
    assert texts_of(fig.axes[3]) == ["\u2717 wrong", "1. dog 75.0%"]


# Most confident mistakes --------------------------------------------------------------------------

def stored_predictions(true, predicted, top) -> dict:
    probs = torch.zeros(len(true), 10, dtype=torch.float64)
    probs[torch.arange(len(true)), torch.tensor(predicted)] = torch.tensor(top, dtype=torch.float64)
    return {"experiment": "x", "key": "k", "predictions": encode_predictions(probs, torch.tensor(true))}


def test_confident_mistakes_are_the_wrong_ones_by_top_probability_ties_by_index():
    true = [0, 1, 2, 3, 4, 5, 6, 7]
    predicted = [0, 2, 2, 4, 5, 5, 6, 0]
    top = [0.99, 0.9, 0.8, 0.95, 0.9, 0.3, 0.99, 0.5]
    result = stored_predictions(true, predicted, top)
    assert plots.confident_mistakes(result, 3).tolist() == [3, 1, 4]
    assert plots.confident_mistakes(result).tolist() == [3, 1, 4, 7]  # fewer mistakes than n: all of them


def test_confident_mistakes_of_a_fake_result_are_its_off_diagonal_images(result):
    chosen = plots.confident_mistakes(result, 5)  # every top probability is the same: index order
    assert chosen.tolist() == [6, 7, 8, 9, 10]  # row airplane: 6 right, then 4 wrong


def test_confident_mistakes_need_every_prediction(result):
    del result["predictions"]
    with pytest.raises(ResultError, match="schema 1.*cannot be ranked"):
        plots.confident_mistakes(result)


def test_most_confident_mistakes_takes_the_images_as_stored_or_as_torch_chw(result):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    fig = plots.most_confident_mistakes(result, images, "title")
    chosen = plots.confident_mistakes(result)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), images[chosen[0]])
    assert fig.axes[0].get_title() == "true: airplane" and texts_of(fig.axes[0])[0] == "\u2717 automobile"
    chw = plots.most_confident_mistakes(result, torch.from_numpy(images).permute(0, 3, 1, 2), "title")
    np.testing.assert_array_equal(chw.axes[0].images[0].get_array(), images[chosen[0]])


def test_most_confident_mistakes_refuses_missing_or_mismatched_images(result):
    with pytest.raises(ValueError, match="^this figure needs the evaluated test images"):
        plots.most_confident_mistakes(result, None, "title")
    with pytest.raises(ValueError, match=r"shape \(50, 32, 32, 3\).*are for 100 uint8"):
        plots.most_confident_mistakes(result, np.zeros((50, 32, 32, 3), np.uint8), "title")
    with pytest.raises(ValueError, match="dtype float64"):
        plots.most_confident_mistakes(result, np.zeros((100, 32, 32, 3)), "title")


# The study: means with t intervals ----------------------------------------------------------------

ACCURACIES = {"baseline": [76.1, 76.6, 76.4, 76.0, 76.9], "alexnet": [73.0, 74.2], "one run": [74.0], "none": []}


def test_mean_intervals_are_stats_summary():
    rows = plots.mean_intervals(ACCURACIES)
    for label in ("baseline", "alexnet"):
        s = stats.summary(ACCURACIES[label])
        assert (rows[label]["mean"], rows[label]["low"], rows[label]["high"]) == (s["mean"], s["low"], s["high"])
    assert rows["one run"] == {"values": [74.0], "n": 1, "mean": 74.0, "low": None, "high": None}
    assert rows["none"]["mean"] is None and rows["none"]["n"] == 0


def error_bars(ax) -> list[np.ndarray]:
    """The segments of every error bar drawn on ``ax``."""
    return [segment for container in ax.containers if hasattr(container, "has_xerr")
            for collection in container.lines[2] for segment in collection.get_segments()]


def test_accuracy_by_configuration_draws_the_t_intervals_seeds_and_original():
    fig = plots.accuracy_by_configuration(ACCURACIES, {"baseline": 67.0, "alexnet": None}, "title")
    ax = fig.axes[0]
    bars = error_bars(ax)
    assert len(bars) == 2  # one run or none: no interval
    for segment, label in zip(bars, ("baseline", "alexnet")):
        s = stats.summary(ACCURACIES[label])
        assert (segment[0][0], segment[1][0]) == pytest.approx((s["low"], s["high"]))
    dots = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections if isinstance(c, PathCollection)])
    assert sorted(dots) == pytest.approx(sorted(ACCURACIES["baseline"] + ACCURACIES["alexnet"] + ACCURACIES["one run"]))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(ACCURACIES)
    assert texts_of(ax) == ["n = 5", "n = 2", "n = 1", "not run yet"]
    diamonds = [line.get_xdata()[0] for line in ax.lines if line.get_marker() == "D"]
    assert diamonds == [67.0]  # the original report's number, where it has one


def test_interaction_plot_has_one_line_per_dropout_with_t_intervals():
    design = {("sgd", 0.0): [73.1, 73.9, 73.5], ("sgd", 0.5): [74.0, 74.4],
              ("adam", 0.0): [74.2, 73.8, 74.0], ("adam", 0.5): [75.0]}
    fig = plots.interaction_plot(design, "title")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SGD", "Adam"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no dropout", "Dropout 0.5"]
    bars = [s for s in error_bars(ax) if len(s) == 2 and np.isfinite(s).all()]
    expected = [stats.summary(design[k]) for k in (("sgd", 0.0), ("adam", 0.0), ("sgd", 0.5))]
    np.testing.assert_allclose(sorted((s[0][1], s[1][1]) for s in bars), sorted((e["low"], e["high"]) for e in expected))
    means = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 2]
    np.testing.assert_allclose(means[0], [np.mean(design[("sgd", 0.0)]), np.mean(design[("adam", 0.0)])])


def test_interaction_plot_spans_at_least_ten_points_and_has_no_footnote():
    design = {("sgd", 0.0): [73.1, 73.2], ("sgd", 0.5): [73.3, 73.4], ("adam", 0.0): [73.5, 73.6], ("adam", 0.5): [73.7, 73.8]}
    fig = plots.interaction_plot(design, "title")
    low, high = fig.axes[0].get_ylim()
    assert high - low == plots.MIN_SPAN == 10 and (low, high) == (68, 78)  # whole points around 73.1-73.8
    assert not fig.axes[0].texts and [t.get_text() for t in fig.texts] == ["title"]  # the suptitle alone


def test_paired_groups_draw_each_side_and_the_difference_with_its_interval():
    a, b = [70.0, 71.0, 72.0], [73.0, 73.5, 75.0]
    d = stats.difference(a, b)
    rows = {"SGD, no dropout": {"a": a, "b": b, "difference": d},
            "Adam, no dropout": {"a": [70.0], "b": [71.0], "difference": None}}
    fig = plots.paired_groups(rows, ("baseline CNN", "AlexNet"), "title")
    values, diff = fig.axes
    assert [t.get_text() for t in values.get_yticklabels()] == list(rows)
    segment = error_bars(diff)[0]
    assert (segment[0][0], segment[1][0]) == pytest.approx((d["low"], d["high"]))
    hollow = [line for line in diff.lines if line.get_marker() == "D" and line.get_markerfacecolor() == "none"]
    assert hollow[0].get_xdata()[0] == pytest.approx(1.0)  # no interval: the difference of the means alone
    assert diff.get_xlabel() == "AlexNet minus baseline CNN (points)"
    assert [t.get_text() for t in values.get_legend().get_texts()] == ["baseline CNN", "AlexNet"]
    dots = np.concatenate([c.get_offsets()[:, 0] for c in values.collections if isinstance(c, PathCollection)])
    assert sorted(dots) == sorted(a + b + [70.0, 71.0])


# Saving ------------------------------------------------------------------------------------------

def test_saving_is_at_print_resolution_and_the_same_bytes_twice(tmp_path, result):
    assert plots.DPI >= 150
    fig = plots.confusion_matrix(result, "title")
    plots.save_figure(fig, tmp_path / "a.png")
    plots.save_figure(fig, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
