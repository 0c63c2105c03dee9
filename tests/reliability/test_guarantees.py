"""The README's "Guarantees" section states what this suite defines and measures: the figures are rendered by
``python -m tests.reliability.guarantees --write-readme`` from the suite's own count (``guarantees.json``) and
checked here against the suite's definitions (corpus files, fault cases, example budgets)."""

from __future__ import annotations

from tests.reliability import guarantees


def test_the_readme_guarantees_match_the_suites_definitions() -> None:
    stated = guarantees.readme_figures()
    static = guarantees.static_figures()
    assert {k: stated.get(k) for k in static} == static, (
        "README.md's Guarantees differ from the suite: make test, then python -m tests.reliability.guarantees "
        "--write-readme")


def test_the_readme_section_is_exactly_the_rendering_of_its_figures() -> None:
    stated = guarantees.readme_figures()
    assert stated, "README.md has no figures between its guarantees markers"
    assert guarantees.readme_section() == guarantees.render(stated)
