"""README.md's published numbers: its results block is what ``sweep --summary`` prints from results/."""
from __future__ import annotations

import pytest

from cifar_utils import study
from cifar_utils.conclusions import README_END, README_START, readme_block, readme_text, with_readme_block
from cifar_utils.recipes import REPO_ROOT


def test_readme_results_block_is_what_the_summary_prints_from_the_stored_results():
    assert readme_block((REPO_ROOT / "README.md").read_text()) == readme_text(study.load()), \
        "README's results block is stale: run python -m cifar_utils.sweep --summary --write-readme"


def test_the_block_is_replaced_between_its_markers_and_nothing_else_changes():
    readme = (REPO_ROOT / "README.md").read_text()
    changed = with_readme_block(readme, "| a table |")
    assert readme_block(changed) == "| a table |"
    head, tail = readme.split(readme_block(readme))
    assert changed.startswith(head) and changed.endswith(tail)
    with pytest.raises(ValueError, match="README.md lacks the block.s markers"):
        readme_block("no markers here")


def test_a_marker_that_stands_twice_is_refused_naming_its_lines():
    """Writing between the first start and the end would delete the hand-written lines between two starts."""
    readme = f"# R\n{README_START}\nprose\n## Found\n{README_START}\nold\n{README_END}\n"
    with pytest.raises(ValueError, match=r"has the marker .* on lines 2, 5; keep one of them"):
        with_readme_block(readme, "new")
    with pytest.raises(ValueError, match=r"on lines 3, 4"):
        readme_block(f"{README_START}\nx\n{README_END}\n{README_END}\n")
