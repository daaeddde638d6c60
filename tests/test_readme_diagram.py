"""The README's state diagrams (one per kind of case) are generated from the
transition table; this keeps them in step, so the pictures people read are the
machines that run."""

import re
from pathlib import Path

import pytest

from models import CaseKind
from workflows.cases.states import TRANSITIONS, mermaid, states_of, transitions_of

README = Path(__file__).resolve().parents[1] / "README.md"
NAMES = {CaseKind.PRODUCTION: "state", CaseKind.PRESERVATION: "preservation"}


def readme_diagram(kind: CaseKind = CaseKind.PRODUCTION) -> str:
    block = re.compile(rf"<!-- {NAMES[kind]}-diagram:begin[^>]*-->\s*```mermaid\n(.*?)```\s*"
                       rf"<!-- {NAMES[kind]}-diagram:end -->", re.S)
    match = block.search(README.read_text(encoding="utf-8"))
    assert match, f"README.md has no generated {NAMES[kind]} diagram block"
    return match.group(1).strip()


@pytest.mark.parametrize("kind", list(CaseKind))
def test_readme_diagram_is_the_transition_table(kind):
    assert readme_diagram(kind) == mermaid(kind).strip(), (
        "README.md's state diagram differs from workflows/cases/states.py; regenerate it with "
        f"python -c \"from workflows.cases import mermaid; print(mermaid('{kind.value}'))\""
    )


@pytest.mark.parametrize("kind", list(CaseKind))
def test_diagram_draws_every_transition(kind):
    diagram = mermaid(kind)
    for transition in transitions_of(kind):
        for source in transition.sources:
            if source in states_of(kind):
                dest = transition.dest or source  # None: it stays where it is
                assert f"{source.value} --> {dest.value}: {transition.trigger.value} (" in diagram


def test_every_transition_is_in_a_machine():
    assert {t for kind in CaseKind for t in transitions_of(kind)} == set(TRANSITIONS)


def test_a_changed_table_would_be_noticed(monkeypatch):
    from workflows.cases import states

    monkeypatch.setattr(states, "TRANSITIONS", TRANSITIONS[:-1])
    assert readme_diagram(CaseKind.PRESERVATION) != states.mermaid(CaseKind.PRESERVATION).strip()
