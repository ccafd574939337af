"""What a report notebook calls: validate its parameters, load the stored result or train, draw.

    exp = Experiment.from_parameters("alexnet_sgd", globals())   # checks every parameter first
    result = exp.run()                                          # stored result, or train + store
    exp.figure("confusion_matrix")                               # draw + save figures/fig07_...png

Relative paths (data_dir, results_dir, figures_dir) are taken from the repository root, so a
notebook behaves the same whether its kernel starts in notebooks/ or in the root.
"""
from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
import yaml

from . import plots
from .config import ConfigError, ExperimentConfig
from .data import CLASSES, SHARED_COPY_SHA256, load_cifar10
from .evaluate import confusion_matrix, first_images, per_class_table, predict, seed_format_table
from .io import ensure_writable_dir
from .models import build_model, count_parameters
from .results import ResultError, load_result, overall_accuracy, result_path, save_result
from .train import autocast_dtype, resolve_device, train

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "profiles"
REPORT_FIGURES = "figures"
REPORT_RESULTS = "results"

# name -> notebook, number of its first figure (the seed's Fig. 1, 5, 9), title, the seed's numbers
EXPERIMENTS = {
    "baseline": {"notebook": "01_baseline", "first_figure": 1, "title": "baseline CNN + SGD",
                 "seed": {"accuracy": 67.0, "batch_size": 10, "epochs": 300, "optimizer": "sgd",
                          "lr": 1e-4, "momentum": 0.9}},
    "alexnet_sgd": {"notebook": "02_alexnet_sgd", "first_figure": 5, "title": "AlexNet + SGD",
                    "seed": {"accuracy": 71.99, "batch_size": 10, "epochs": 300, "optimizer": "sgd",
                             "lr": 1e-4, "momentum": 0.9}},
    "alexnet_adam_dropout": {"notebook": "03_alexnet_adam_dropout", "first_figure": 9,
                             "title": "AlexNet + Adam + Dropout 0.5",
                             "seed": {"accuracy": 74.30, "batch_size": 10, "epochs": 300, "optimizer": "adam",
                                      "lr": None, "dropout": 0.5}},
}
FIGURE_KINDS = ("per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten")


def repo_path(path: str | os.PathLike) -> Path:
    """``path`` itself when absolute, else taken from the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def load_profile(profile: str, notebook: str) -> dict:
    """The parameters of ``profiles/<profile>/<notebook>.yaml`` (empty when the file does not exist)."""
    folder = PROFILES_DIR / profile
    if not folder.is_dir():
        known = sorted(p.name for p in PROFILES_DIR.iterdir() if p.is_dir())
        raise ConfigError(f"profile {profile!r} does not exist; use one of {', '.join(known)}.")
    path = folder / f"{notebook}.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def profile_config(profile: str, experiment: str) -> ExperimentConfig:
    return ExperimentConfig.from_parameters(load_profile(profile, EXPERIMENTS[experiment]["notebook"]))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Experiment:
    """One experiment of the report: its validated configuration, stored result and figures."""

    def __init__(self, name: str, config: ExperimentConfig, *, data_dir: str = "", download: bool = False,
                 retrain: bool = False, results_dir: str = "auto", figures_dir: str = "auto"):
        if name not in EXPERIMENTS:
            raise ConfigError(f"experiment {name!r} is not known; use one of {', '.join(EXPERIMENTS)}.")
        for flag, value in (("download", download), ("retrain", retrain)):
            if not isinstance(value, bool):
                raise ConfigError(f"{flag} = {value!r} is not a boolean; use True or False.")
        for label, value in (("data_dir", data_dir), ("results_dir", results_dir), ("figures_dir", figures_dir)):
            if not isinstance(value, str):
                raise ConfigError(f"{label} = {value!r} is not a path string; pass a folder such as 'results'.")
        config.validate()
        self.name, self.config, self.info = name, config, EXPERIMENTS[name]
        self.key = config.key()
        self.data_dir = repo_path(data_dir) if data_dir else None
        self.download, self.retrain = download, retrain
        # "auto": the committed folders hold only the report's runs (and the seed-recipe runs' results);
        # any other parameters go under build/, so exploring never leaves files in the report.
        report_key = profile_config("report", name).key()
        if results_dir == "auto":
            published = self.key in (report_key, profile_config("faithful", name).key())
            results_dir = REPORT_RESULTS if published else "build/results"
        if figures_dir == "auto":
            figures_dir = REPORT_FIGURES if self.key == report_key else f"build/figures/{name}-{self.key}"
        self.results_dir = repo_path(results_dir)
        self.path = result_path(self.results_dir, name, self.key)
        self.figures_dir = repo_path(figures_dir)
        self.checkpoint = REPO_ROOT / "runs" / f"{name}-{self.key}" / "checkpoint.pt"
        self.result: dict | None = None

    @classmethod
    def from_parameters(cls, name: str, params: dict) -> "Experiment":
        """Build from a notebook's globals: the ExperimentConfig fields plus the run options."""
        options = ("data_dir", "download", "retrain", "results_dir", "figures_dir")
        return cls(name, ExperimentConfig.from_parameters(params),
                   **{k: params[k] for k in options if k in params})

    def _show(self, path: Path) -> str:
        try:
            return str(path.relative_to(REPO_ROOT))
        except ValueError:
            return str(path)

    def describe(self) -> pd.DataFrame:
        """The configuration as a table, with the result file and figures folder named."""
        model = build_model(self.config.model, self.config.dropout)
        rows = dict(self.config.to_dict())
        rows.update({"parameters (trainable)": f"{count_parameters(model):,}", "results key": self.key,
                     "result file": self._show(self.path), "figures folder": self._show(self.figures_dir)})
        return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=list(rows))

    def model_summary(self) -> str:
        model = build_model(self.config.model, self.config.dropout)
        return f"{model}\ntrainable parameters: {count_parameters(model):,}"

    def run(self, log=print) -> dict:
        """Load the stored result for this configuration, or train (and store) when there is none."""
        if not self.retrain:
            try:
                self.result = load_result(self.path)
            except ResultError as exc:
                log(f"Warning: {exc} Training again now.")
            if self.result is not None:
                env = self.result["environment"]
                log(f"Loaded stored result {self._show(self.path)} (trained on {env['device']}, "
                    f"{self.result['train_seconds']:.0f} s; data: {env['data_source']}).")
                return self.result
        # Checked only now that training is needed: a stored GPU result still draws on a CPU machine.
        autocast_dtype(self.config.precision, resolve_device(self.config.device))
        ensure_writable_dir(self.results_dir)
        ensure_writable_dir(self.figures_dir)
        save_result(self.path, self._train(log))
        self.result = load_result(self.path)  # exactly what later runs load (JSON key order included)
        shutil.rmtree(self.checkpoint.parent, ignore_errors=True)
        log(f"Saved {self._show(self.path)}.")
        return self.result

    def _train(self, log) -> dict:
        started = time.perf_counter()
        data = load_cifar10(self.data_dir, download=self.download)
        self.config.validate(n_train=len(data.y_train), n_test=len(data.y_test))  # subsets vs this dataset
        data = data.subset(self.config.train_subset, self.config.test_subset, seed=self.config.seed)
        model, history = train(self.config, data, checkpoint_path=self.checkpoint, log=log)
        device = resolve_device(self.config.device)
        dtype = autocast_dtype(self.config.precision, device)
        probs = predict(model, data.x_test, device=device, dtype=dtype).softmax(dim=1)
        confusion = confusion_matrix(data.y_test, probs.argmax(dim=1))
        return {
            "schema_version": 1, "experiment": self.name, "key": self.key, "config": self.config.to_dict(),
            "history": history, "classes": list(CLASSES), "confusion": confusion.tolist(),
            "first_ten": first_images(probs, data.y_test, data.x_test),
            "train_seconds": round(sum(h["seconds"] for h in history), 2),
            "wall_seconds": round(time.perf_counter() - started, 2),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "environment": {
                "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
                "cpu": cpu_model(), "threads": torch.get_num_threads(), "device": str(device),
                "autocast": str(dtype).replace("torch.", "") if dtype else "fp32",
                "data_source": data.source, "data_sha256": data.sha256,
                "train_images": len(data.y_train), "test_images": len(data.y_test)},
        }

    # -- what the notebook shows ---------------------------------------------------------------
    def _need_result(self) -> dict:
        if self.result is None:
            raise RuntimeError("no result yet; call run() first.")
        return self.result

    def seed_table(self) -> str:
        return seed_format_table(self._need_result()["confusion"], self._need_result()["classes"])

    def per_class_table(self) -> pd.DataFrame:
        return per_class_table(self._need_result()["confusion"], self._need_result()["classes"])

    def history_table(self) -> pd.DataFrame:
        columns = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds"]
        frame = pd.DataFrame(self._need_result()["history"])[columns].set_index("epoch")
        return frame.round({"train_loss": 4, "test_loss": 4, "train_accuracy": 4, "test_accuracy": 4,
                            "lr": 6, "seconds": 1})

    def accuracy(self) -> float:
        correct, total = overall_accuracy(self._need_result())
        return 100 * correct / total

    def figure_path(self, kind: str) -> Path:
        number = self.info["first_figure"] + FIGURE_KINDS.index(kind)
        return self.figures_dir / f"fig{number:02d}_{self.name}_{kind}.png"

    def figure(self, kind: str):
        """Draw one of FIGURE_KINDS from the result, save it under its stable name, return the figure.

        The figure is closed, so a notebook shows it once, as the cell's value, not also through
        pyplot's automatic display."""
        if kind not in FIGURE_KINDS:
            raise ValueError(f"figure kind {kind!r} is not known; use one of {', '.join(FIGURE_KINDS)}.")
        result, title = self._need_result(), self.info["title"]
        fig = (plots.loss_curves({title: result}, f"Loss and accuracy per epoch: {title}") if kind == "loss_curves"
               else getattr(plots, kind)(result, title))
        plots.save_figure(fig, self.figure_path(kind))
        plt.close(fig)
        return fig

    def vs_seed(self) -> pd.DataFrame:
        """This run's accuracy and recipe beside the seed report's."""
        seed, cfg, result = self.info["seed"], self.config, self._need_result()
        rows = {
            "test accuracy (%)": (f"{seed['accuracy']:.2f}", f"{self.accuracy():.2f}"),
            "epochs": (seed["epochs"], cfg.epochs),
            "batch size": (seed["batch_size"], cfg.batch_size),
            "optimizer": (seed["optimizer"], cfg.optimizer),
            "learning rate": (seed["lr"] or "not given", f"{cfg.lr} peak, {cfg.schedule}"),
            "training time (s)": ("not reported", f"{result['train_seconds']:.0f} on {result['environment']['device']}"),
            "test images": (10000, result["environment"]["test_images"]),
        }
        return pd.DataFrame(rows, index=["seed report", "this run"]).T

    def observations(self) -> str:
        """A few sentences of Markdown about this result, every number computed from it."""
        table = self.per_class_table().drop(index="Overall")
        ranked = table.sort_values("accuracy (%)", ascending=False)
        confusion = pd.DataFrame(self._need_result()["confusion"], index=table.index, columns=table.index)
        off = confusion.where(~pd.DataFrame(
            [[i == j for j in range(len(table))] for i in range(len(table))], index=table.index, columns=table.index))
        true_cls, pred_cls = off.stack().idxmax()
        first = self._need_result()["first_ten"]
        classes = self._need_result()["classes"]
        right = sum(p == t for p, t in zip(first["predicted"], first["true"]))
        low = min(range(len(first["confidence"])), key=first["confidence"].__getitem__)

        def fmt(rows):
            return ", ".join(f"{name} ({acc:.1f}%)" for name, acc in rows["accuracy (%)"].items())

        return (f"- Overall test accuracy: **{self.accuracy():.2f}%** (seed report: {self.info['seed']['accuracy']}%).\n"
                f"- Best classes: {fmt(ranked.head(3))}; hardest: {fmt(ranked.tail(3).iloc[::-1])}.\n"
                f"- Most frequent confusion: {int(off.loc[true_cls, pred_cls])} test images of *{true_cls}* "
                f"predicted as *{pred_cls}*.\n"
                f"- First {len(first['true'])} test images: {right}/{len(first['true'])} correct; the least confident prediction is image "
                f"{low + 1}, *{classes[first['predicted'][low]]}* at {100 * first['confidence'][low]:.1f}% "
                f"(true class *{classes[first['true'][low]]}*).")

    def conclusion(self, other: "Experiment") -> str:
        """Markdown comparing this result with ``other`` on the seed's three claims, numbers computed."""
        mine, theirs = self.per_class_table()["accuracy (%)"], other.per_class_table()["accuracy (%)"]
        delta = (mine - theirs).drop(index="Overall")

        def gap(exp):  # test loss minus train loss at the last epoch: a large gap means overfitting
            last = exp._need_result()["history"][-1]
            return last["test_loss"] - last["train_loss"]

        def verdict(holds: bool) -> str:
            return "agrees with the seed" if holds else "does not agree with the seed"

        diff = self.accuracy() - other.accuracy()
        lines = [f"- Overall: {self.info['title']} **{self.accuracy():.2f}%** vs {other.info['title']} "
                 f"**{other.accuracy():.2f}%** ({diff:+.2f} points; seed report: "
                 f"{self.info['seed']['accuracy']}% vs {other.info['seed']['accuracy']}%): {verdict(diff > 0)}.",
                 f"- Test minus train loss at the last epoch: {gap(self):+.3f} with {self.info['title']}, "
                 f"{gap(other):+.3f} with {other.info['title']}: {verdict(gap(self) < gap(other))} that the "
                 f"losses stay closer together (both training losses are measured on augmented batches, "
                 f"with dropout active where the model has it).",
                 f"- Classes improved: {int((delta > 0).sum())} of {len(delta)}; largest gain {delta.idxmax()} "
                 f"({delta.max():+.1f} points), largest loss {delta.idxmin()} ({delta.min():+.1f} points)."]
        if "cat" in delta.index:
            lines.append(f"- cat: {theirs['cat']:.1f}% -> {mine['cat']:.1f}% ({delta['cat']:+.1f} points; "
                         f"seed report: 44% -> 48%): {verdict(delta['cat'] > 0)}.")
        return "\n".join(lines)

    def _stored_profiles(self) -> dict[str, "Experiment"]:
        """This experiment under the report and faithful profiles, stored results loaded (None if absent)."""
        return {profile: Experiment.stored(self.name, profile, required=False) for profile in ("report", "faithful")}

    def profiles_table(self) -> pd.DataFrame:
        """The seed report beside this experiment's stored report-profile and faithful-profile results."""
        columns = {"seed report": {"test accuracy (%)": f"{self.info['seed']['accuracy']:.2f}",
                                   "epochs": self.info["seed"]["epochs"], "batch size": self.info["seed"]["batch_size"],
                                   "training time": "not reported", "trained on": "official CIFAR-10 files"}}
        for profile, exp in self._stored_profiles().items():
            label = f"{profile} profile"
            if exp.result is None:
                columns[label] = {"test accuracy (%)": f"not run: python -m cifar_utils.report --profile {profile} "
                                                       f"--only {self.info['notebook']} -p data_dir <CIFAR-10 folder>"}
                continue
            env = exp.result["environment"]
            columns[label] = {"test accuracy (%)": f"{exp.accuracy():.2f}", "epochs": exp.config.epochs,
                              "batch size": exp.config.batch_size,
                              "training time": f"{exp.result['train_seconds'] / 60:.1f} min on {env['device']} "
                                               f"({env['autocast']})",
                              "trained on": "shared copy, JPEG-degraded" if env["data_sha256"] == SHARED_COPY_SHA256
                              else env["data_source"]}
        return pd.DataFrame(columns).fillna("")

    def profiles_figure(self):
        """Test accuracy over training time of the stored report and faithful results (the profiles table's
        runs), saved as fig15_<experiment>_profiles_accuracy_over_time.png; None when fewer than two are stored."""
        results = {}
        for profile, exp in self._stored_profiles().items():
            if exp.result is not None:
                env = exp.result["environment"]
                results[f"{profile} (batch {exp.config.batch_size}, {env['device']}, {env['autocast']})"] = exp.result
        if len(results) < 2:
            return None
        fig = plots.accuracy_over_time(results, self.info["seed"]["accuracy"],
                                       f"Test accuracy over training time: {self.info['title']}")
        plots.save_figure(fig, self.figures_dir / f"fig15_{self.name}_profiles_accuracy_over_time.png")
        plt.close(fig)
        return fig

    @classmethod
    def stored(cls, name: str, profile: str, results_dir: str = "auto", required: bool = True) -> "Experiment":
        """The experiment trained with a profile's parameters, its stored result loaded (never trains).

        Without a stored result: ResultError saying how to make one, or, with required=False, the
        experiment with ``result`` None."""
        exp = cls(name, profile_config(profile, name), results_dir=results_dir)
        exp.result = load_result(exp.path)
        if exp.result is None and required:
            raise ResultError(f"there is no stored result {exp._show(exp.path)} for {name} with the {profile!r} "
                              f"profile; run python -m cifar_utils.report --profile {profile} --only "
                              f"{EXPERIMENTS[name]['notebook']} first.")
        return exp


def compare(a: Experiment, b: Experiment) -> pd.DataFrame:
    """Per-class and overall accuracy of two experiments and the difference b - a (percentage points)."""
    acc_a, acc_b = a.per_class_table()["accuracy (%)"], b.per_class_table()["accuracy (%)"]
    return pd.DataFrame({f"{a.info['title']} (%)": acc_a, f"{b.info['title']} (%)": acc_b,
                         "difference (points)": (acc_b - acc_a).round(2)})


def comparison_figures(a: Experiment, b: Experiment, figures_dir: Path) -> list:
    """Fig. 13 (both runs' loss curves on one plot) and Fig. 14 (per-class accuracy side by side)."""
    results = {a.info["title"]: a._need_result(), b.info["title"]: b._need_result()}
    figs = [(plots.loss_curves(results, f"{a.info['title']} vs {b.info['title']}"), "fig13_sgd_vs_adam_loss_curves.png"),
            (plots.per_class_comparison(results, f"Per-class test accuracy: {a.info['title']} vs {b.info['title']}"),
             "fig14_sgd_vs_adam_per_class_accuracy.png")]
    for fig, filename in figs:
        plots.save_figure(fig, Path(figures_dir) / filename)
        plt.close(fig)
    return [fig for fig, _ in figs]
