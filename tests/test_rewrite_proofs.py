"""Every registered rewrite is proven: by SymPy (pattern == replacement), or declared
structural with a reason. A new rewrite without a proof fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from symgrad.rewrite.catalog import BEGIN, END, catalog
from symgrad.rewrite.passes import REWRITES
from symgrad.rewrite.proofs import is_proven

REWRITES_DOC = Path(__file__).resolve().parent.parent / "docs" / "rewrites.md"


def _algebraic():
    return [
        r for r in REWRITES.values() if not (isinstance(r.proof, str) and r.proof.startswith("structural"))
    ]


def _structural():
    return [r for r in REWRITES.values() if isinstance(r.proof, str) and r.proof.startswith("structural")]


@pytest.mark.parametrize("rw", _algebraic(), ids=lambda r: r.name)
def test_algebraic_rewrite_is_proven_by_sympy(rw):
    assert is_proven(rw), f"SymPy could not prove rewrite {rw.name}"


@pytest.mark.parametrize("rw", _structural(), ids=lambda r: r.name)
def test_structural_rewrite_says_why(rw):
    assert rw.proof.startswith("structural:") and len(rw.proof) > len("structural: ") + 10


@pytest.mark.parametrize("name", sorted(REWRITES))
def test_rewrite_is_documented(name):
    assert f"`{name}`" in REWRITES_DOC.read_text(), f"{name} is missing from docs/rewrites.md"


def test_docs_catalogue_is_current():
    text = REWRITES_DOC.read_text()
    section = BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert section == catalog(), "run: python -m symgrad.rewrite.catalog --write docs/rewrites.md"
