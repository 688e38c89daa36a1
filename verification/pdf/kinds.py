"""The kinds of change an incremental update after a signature can make.

Kept apart from :mod:`verification.pdf.changes` (which needs pyHanko's
difference analysis) so the checks can name them without loading it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KINDS", "LICENCE_ALLOWED", "kinds_text"]

# The kinds of change a revision after a signature can make (docs/report-schema.md).
KINDS: Final = {
    "dss": "DSS / VRI validation material",
    "doc_timestamp": "an invisible document time-stamp",
    "issuer_signature": "a later signature bound to the same licence and seal",
    "signature": "a later signature by another signer or for another licence",
    "signature_field": "a signature field added unsigned, or a signed field changed",
    "signature_appearance": "a signature field or widget with a visible appearance",
    "info": "the document information dictionary (/Info)",
    "xmp": "the XMP metadata stream",
    "annotation": "an annotation added, changed or removed",
    "form_value": "a form field's value or appearance",
    "form_settings": "the form's defaults (/NeedAppearances, /DA, /DR, /Q)",
    "other": "content pyHanko's rules do not explain (pages, content, freed objects...)",
}
# What a licence allows after its signature: long-term-validation material and
# the issuer's own second signature (issue 12). Everything else changes what a
# viewer shows or says about the document after the issuer signed it.
LICENCE_ALLOWED: Final = frozenset({"dss", "doc_timestamp", "issuer_signature"})


def kinds_text(kinds: tuple[str, ...] | frozenset[str] | list[str]) -> str:
    """Kinds for people: ``info (the document information dictionary (/Info))``."""
    return ", ".join(f"{k} ({KINDS.get(k, k)})" for k in kinds)
