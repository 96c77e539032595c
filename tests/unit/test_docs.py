"""Docs drawn from the code stay equal to the code."""

from pathlib import Path

from cogov.cases import workflow

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_workflow_page_shows_the_current_table():
    page = (DOCS / "workflow.md").read_text(encoding="utf-8")
    assert workflow.mermaid() in page, "regenerate docs/workflow.md (see its header)"
    assert workflow.markdown_table() in page, "regenerate docs/workflow.md (see its header)"
