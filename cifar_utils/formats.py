"""How the report's tables write a number: one function per kind of number, each with its fixed decimals, so
that a column reads at one precision and a kind of number reads the same in every table.

A table of ``conclusions``, ``questions`` or ``tables`` holds these strings, or ints for small counts, never a
float: pandas would print a float with the decimals it chooses ("72.0" beside "88.82", 5.0 runs).
"""
from __future__ import annotations

ACCURACY_DECIMALS = 2  # accuracies (%), differences and standard deviations of them (points)
LOSS_DECIMALS = 3      # cross-entropy losses and differences of them
PLAIN_COUNT_MAX = 9_999  # counts up to this are ints; larger ones get thousands commas (10,000 images)


def percent(x: float) -> str:
    """An accuracy in %: "73.45"."""
    return f"{x:.{ACCURACY_DECIMALS}f}"


def points(x: float) -> str:
    """A difference of accuracies in percentage points, signed: "+1.46"."""
    return f"{x:+.{ACCURACY_DECIMALS}f}"


def spread(x: float) -> str:
    """A standard deviation of accuracies over seeds, in points: "0.90"."""
    return f"{x:.{ACCURACY_DECIMALS}f}"


def percent_interval(low: float, high: float) -> str:
    """An interval of accuracies in %: "82.76 to 85.00"."""
    return f"{percent(low)} to {percent(high)}"


def loss(x: float) -> str:
    """A cross-entropy loss: "0.814"."""
    return f"{x:.{LOSS_DECIMALS}f}"


def loss_difference(x: float) -> str:
    """A difference of losses, signed: "+0.144"."""
    return f"{x:+.{LOSS_DECIMALS}f}"


def minutes(seconds: float) -> str:
    """A training time given in seconds, as minutes: "12.4"."""
    return f"{seconds / 60:.1f}"


def count(n: int) -> int | str:
    """A count: the int itself up to 9,999, above that a string with thousands commas ("10,000")."""
    return int(n) if n <= PLAIN_COUNT_MAX else f"{n:,}"


def setting(value):
    """A hyperparameter as a table prints it: a float in its shortest form ("0.0001", "0.9", "0"), anything else
    (an int, a string) as it is."""
    return f"{value:g}" if isinstance(value, float) else value


def markdown_table(table, index: bool = True, align: str | None = None) -> str:
    """A table of these strings (a pandas DataFrame) as a Markdown table (``DataFrame.to_markdown``), its index the
    first column unless ``index`` is False; ``align`` gives each column's alignment, "l" or "r" (default: left).
    The strings are written as they are: tabulate's number parsing would turn "77.90" into "77.9"."""
    columns = len(table.columns) + index
    colalign = [{"l": "left", "r": "right"}[a] for a in (align or "l" * columns)]
    return table.to_markdown(index=index, disable_numparse=True, colalign=colalign)
