"""The report's bibliography: one registry, ``references.yaml``, numbered in order of first citation across the
report (notebook 00 first). A notebook cites an entry as [n], n its place in the file, and lists what it cites
with ``markdown`` in a code cell under its "References" heading:

    from IPython.display import Markdown
    Markdown(references.markdown([1, 2, 3]))

``entries`` checks every entry's fields (``FIELDS``) and raises ConfigError (a ValueError) with one sentence
naming the entry and the missing field; ``cited`` finds the numbers a text cites, in order of first citation.
"""
from __future__ import annotations

import functools
import re

import yaml

from .config import ConfigError
from .recipes import PACKAGE_DIR

REGISTRY = PACKAGE_DIR / "references.yaml"

FIELDS = {  # the fields each type of entry needs; every type also needs a doi, a url or an arxiv number
    "article": ("authors", "title", "journal", "volume", ("pages", "article"), "year"),
    "inproceedings": ("authors", "title", "booktitle", "year"),
    "book": ("authors", "title", "publisher", "year"),
    "report": ("authors", "title", "institution", "year"),
    "preprint": ("authors", "title", "arxiv", "year"),
    "documentation": ("authors", "title", "version", "accessed"),
    "software": ("authors", "title", "accessed"),
}
LINKS = ("doi", "url", "arxiv")
CITATION = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)(?:,\s*§[\d.]+)?\]")  # [3], [1, 4], [5-7], [1, §9.1]; not [x]


def check_entry(entry: dict, place: int) -> None:
    """One entry of the registry: a known type, every field that type needs, and a link."""
    key = entry.get("key", f"entry {place}") if isinstance(entry, dict) else f"entry {place}"
    if not isinstance(entry, dict) or entry.get("type") not in FIELDS:
        kind = entry.get("type") if isinstance(entry, dict) else entry
        raise ConfigError(f"{REGISTRY.name}: {key} has type {kind!r}; use one of {', '.join(FIELDS)}.")
    for field in (*FIELDS[entry["type"]], LINKS):
        options = field if isinstance(field, tuple) else (field,)
        if not any(entry.get(name) not in (None, "", []) for name in options):
            raise ConfigError(f"{REGISTRY.name}: {key} ({entry['type']}) has no {' or '.join(options)}; add it.")


@functools.cache
def _load() -> tuple[dict, ...]:
    entries = yaml.safe_load(REGISTRY.read_text())
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{REGISTRY.name} is not a list of entries; write one '- key: ...' block per work.")
    for place, entry in enumerate(entries, start=1):
        check_entry(entry, place)
    keys = [entry["key"] for entry in entries]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ConfigError(f"{REGISTRY.name} lists {', '.join(twice)} more than once; keep one entry per work.")
    return tuple(entries)


def entries() -> list[dict]:
    """Every entry, in order: entry n (from 1) is cited as [n]."""
    return [dict(entry) for entry in _load()]


def number(key: str) -> int:
    """The citation number of the entry ``key``."""
    keys = [entry["key"] for entry in _load()]
    if key not in keys:
        raise ConfigError(f"no reference {key!r} in {REGISTRY.name}; add it there first.")
    return keys.index(key) + 1


def _authors(names: list[str]) -> str:
    if names[-1] == "et al.":
        return ", ".join(names[:-1]) + " et al."
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _link(entry: dict) -> str:
    if entry.get("doi"):
        return f"https://doi.org/{entry['doi']}"
    return entry.get("url") or f"https://arxiv.org/abs/{entry['arxiv']}"


def _numbers(entry: dict) -> str:
    """'17(3):261-272', '4(11):e21', '28(3), pp. 1139-1147', ', article 1100612' as the type writes them."""
    volume = f"{entry['volume']}" + (f"({entry['issue']})" if entry.get("issue") else "") if entry.get("volume") else ""
    where = entry.get("pages") or entry.get("article")
    if entry["type"] == "article":
        return f" {volume}:{where}"
    parts = [f"vol. {volume}" if volume else "", f"pp. {entry['pages']}" if entry.get("pages") else "",
             f"article {entry['article']}" if entry.get("article") else ""]
    return "".join(f", {p}" for p in parts if p)


def render(entry: dict) -> str:
    """One entry in the report's one style: authors. title. venue, numbers, year. link"""
    authors, title, kind = _authors(entry["authors"]), entry["title"], entry["type"]
    if kind == "article":
        body = f"{title}. *{entry['journal']}*{_numbers(entry)}, {entry['year']}."
    elif kind == "inproceedings":
        body = f"{title}. In *{entry['booktitle']}*{_numbers(entry)}, {entry['year']}."
    elif kind == "book":
        body = f"*{title}*. {entry['publisher']}, {entry['year']}."
    elif kind == "report":
        body = f"*{title}*. Technical report, {entry['institution']}, {entry['year']}."
    elif kind == "preprint":
        body = f"{title}. arXiv:{entry['arxiv']}, {entry['year']}."
    elif kind == "documentation":
        body = f"*{title}*. Version {entry['version']}, accessed {entry['accessed']}."
    else:
        path = f", file `{entry['path']}`" if entry.get("path") else ""
        body = f"*{title}*{path}. Accessed {entry['accessed']}."
    return f"{authors}{'' if authors.endswith('.') else '.'} {body} <{_link(entry)}>"


def markdown(numbers) -> str:
    """The entries ``numbers`` (their numbers across the report), in that order, one paragraph each, "[n] ...".
    (Not a Markdown numbered list: that renders 1, 2, 3... from its first number whatever the others are.)"""
    listed = _load()
    numbers = list(numbers)
    bad = [n for n in numbers if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(listed)]
    if bad or not numbers:
        raise ConfigError(f"references {bad or numbers} are not entries of {REGISTRY.name}; use numbers from 1 to "
                          f"{len(listed)}.")
    return "\n\n".join(f"[{n}] {render(listed[n - 1])}" for n in numbers)


def cited(text: str) -> list[int]:
    """The reference numbers ``text`` cites as [n], [n, m] or [n-m], in order of first citation, each once."""
    seen: list[int] = []
    for match in CITATION.finditer(text):
        for part in re.split(r"\s*,\s*", match.group(1)):
            ends = [int(v) for v in re.split(r"\s*[–-]\s*", part)]
            for n in range(ends[0], ends[-1] + 1):
                if n not in seen:
                    seen.append(n)
    return seen
