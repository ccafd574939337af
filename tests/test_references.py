"""references: the report's one bibliography (cifar_utils/references.yaml), its fields, style and citations."""
from __future__ import annotations

import re

import pytest
import yaml

from cifar_utils import references
from cifar_utils.config import ConfigError

RAW = yaml.safe_load(references.REGISTRY.read_text())  # the file itself, not through the loader


@pytest.mark.parametrize("entry", RAW, ids=lambda e: e.get("key", "?"))
def test_every_entry_has_the_fields_its_type_needs(entry):
    """Findable: authors, title, venue, year (or version and access for documentation), the volume and pages or
    article number of a journal article, and a DOI, URL or arXiv number."""
    assert entry["type"] in references.FIELDS
    for field in references.FIELDS[entry["type"]]:
        options = field if isinstance(field, tuple) else (field,)
        assert any(entry.get(name) not in (None, "", []) for name in options), (entry["key"], field)
    assert any(entry.get(name) for name in references.LINKS), entry["key"]
    assert isinstance(entry["authors"], list) and all(isinstance(a, str) and a for a in entry["authors"])
    assert set(entry) <= {"key", "type", "authors", "title", "journal", "booktitle", "publisher", "institution",
                          "volume", "issue", "pages", "article", "year", "doi", "url", "arxiv", "version",
                          "accessed", "path"}, entry["key"]
    if "year" in entry:
        assert isinstance(entry["year"], int) and 1900 < entry["year"] <= 2026
    if "doi" in entry:
        assert re.fullmatch(r"10\.\d{4,9}/\S+", entry["doi"])
    if "url" in entry:
        assert entry["url"].startswith("https://")
    if "arxiv" in entry:
        assert re.fullmatch(r"\d{4}\.\d{4,5}", entry["arxiv"])
    if "pages" in entry:
        assert re.fullmatch(r"\d+-\d+", str(entry["pages"])) and int(entry["pages"].split("-")[0]) < int(
            entry["pages"].split("-")[1])


def test_keys_are_unique_and_numbers_follow_the_file():
    keys = [e["key"] for e in RAW]
    assert len(keys) == len(set(keys))
    assert [e["key"] for e in references.entries()] == keys
    assert [references.number(k) for k in keys] == list(range(1, len(keys) + 1))
    with pytest.raises(ConfigError, match="no reference 'nobody2020' in references.yaml; add it there first."):
        references.number("nobody2020")


def test_notebook_00s_citations_come_first():
    assert [e["key"] for e in references.entries()[:9]] == [
        "goodfellow2016", "pytorch-docs", "virtanen2020", "dumoulin2016", "araujo2019", "krizhevsky2012",
        "blanchard2021", "kingma2015", "szegedy2016"]


def test_one_style_for_every_type():
    render = {e["key"]: references.render(e) for e in references.entries()}
    assert render["araujo2019"] == (
        "A. Araujo, W. Norris and J. Sim. Computing receptive fields of convolutional neural networks. *Distill* "
        "4(11):e21, 2019. <https://doi.org/10.23915/distill.00021>")
    assert render["krizhevsky2012"].startswith(
        "A. Krizhevsky, I. Sutskever and G. E. Hinton. ImageNet classification with deep convolutional neural "
        "networks. In *Advances in Neural Information Processing Systems 25 (NIPS 2012)*, pp. 1097-1105, 2012. <https://")
    assert render["smith2019"].endswith("*Artificial Intelligence and Machine Learning for Multi-Domain Operations "
                                        "Applications, Proc. SPIE*, vol. 11006, article 1100612, 2019. "
                                        "<https://doi.org/10.1117/12.2520589>")
    assert render["goodfellow2016"] == ("I. Goodfellow, Y. Bengio and A. Courville. *Deep Learning*. MIT Press, 2016. "
                                        "<https://www.deeplearningbook.org/>")
    assert render["dumoulin2016"].endswith("arXiv:1603.07285, 2016. <https://arxiv.org/abs/1603.07285>")
    assert render["kingma2015"].endswith("(ICLR 2015)*, 2015. <https://arxiv.org/abs/1412.6980>")
    assert render["virtanen2020"].startswith("P. Virtanen, R. Gommers, T. E. Oliphant et al. SciPy 1.0")
    for text in render.values():
        assert re.search(r"<https://\S+>$", text) and ".." not in text and "$" not in text and "\\" not in text


def test_markdown_lists_the_numbers_asked_for_with_their_global_numbers():
    text = references.markdown([10, 6])
    first, second = text.split("\n\n")
    assert first.startswith("[10] A. Krizhevsky. *Learning multiple layers of features from tiny images*.")
    assert second.startswith("[6] A. Krizhevsky, I. Sutskever and G. E. Hinton.")
    for bad in ([0], [len(RAW) + 1], [], ["3"]):
        with pytest.raises(ConfigError, match="are not entries of references.yaml; use numbers from 1 to"):
            references.markdown(bad)


def test_cited_finds_numbers_in_order_of_first_citation():
    assert references.cited("see [3] and [1, 4], then [5-7], [1, §9.1] again, [2–3], not [x](y) or [a]") == \
        [3, 1, 4, 5, 6, 7, 2]


@pytest.mark.parametrize("entry,message", [
    ({"key": "a", "type": "poem"}, "references.yaml: a has type 'poem'; use one of article, inproceedings,"),
    ({"key": "b", "type": "article", "authors": ["X"], "title": "T", "journal": "J", "volume": 1, "year": 2000,
      "doi": "10.1/x"}, "references.yaml: b (article) has no pages or article; add it."),
    ({"key": "c", "type": "book", "authors": ["X"], "title": "T", "publisher": "P", "year": 2000},
     "references.yaml: c (book) has no doi or url or arxiv; add it."),
])
def test_a_bad_entry_is_one_sentence_naming_it(entry, message):
    with pytest.raises(ConfigError) as info:
        references.check_entry(entry, 1)
    assert str(info.value).startswith(message) and str(info.value).endswith(".")
