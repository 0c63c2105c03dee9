"""The "Guarantees" section of ``docs/testing.md`` states what this suite defines and measures: the figures are
rendered by ``python -m tests.reliability.guarantees --write-docs`` from the suite's own count (``guarantees.json``) and
checked here against the suite's definitions (corpus files, fault cases, example budgets)."""

from __future__ import annotations

from tests.reliability import guarantees


def test_the_docs_guarantees_match_the_suites_definitions() -> None:
    stated = guarantees.docs_figures()
    static = guarantees.static_figures()
    assert {k: stated.get(k) for k in static} == static, (
        "docs/testing.md's Guarantees differ from the suite: make test, then python -m tests.reliability.guarantees "
        "--write-docs")


def test_the_docs_section_is_exactly_the_rendering_of_its_figures() -> None:
    stated = guarantees.docs_figures()
    assert stated, "docs/testing.md has no figures between its guarantees markers"
    assert guarantees.docs_section() == guarantees.render(stated)
