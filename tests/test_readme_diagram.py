"""The README's state diagram is generated from the transition table; this keeps
the two in step, so the picture people read is the machine that runs."""

import re
from pathlib import Path

from workflows.cases.states import TRANSITIONS, mermaid

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(
    r"<!-- state-diagram:begin[^>]*-->\s*```mermaid\n(.*?)```\s*<!-- state-diagram:end -->", re.S
)


def readme_diagram() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md has no generated state diagram block"
    return match.group(1).strip()


def test_readme_diagram_is_the_transition_table():
    assert readme_diagram() == mermaid().strip(), (
        "README.md's state diagram differs from workflows/cases/states.py; regenerate it with "
        "python -c \"from workflows.cases import mermaid; print(mermaid())\""
    )


def test_diagram_draws_every_transition():
    diagram = mermaid()
    for transition in TRANSITIONS:
        for source in transition.sources:
            assert f"{source.value} --> {transition.dest.value}: {transition.trigger.value} (" in diagram


def test_a_changed_table_would_be_noticed(monkeypatch):
    from workflows.cases import states

    monkeypatch.setattr(states, "TRANSITIONS", TRANSITIONS[:-1])
    assert readme_diagram() != states.mermaid().strip()
