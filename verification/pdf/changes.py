"""What each incremental update after a signature changed, named truly.

pyHanko's difference analysis decides whether every object written after the
signed revision is explained by a whitelisting rule, and how permissive the
explanation is (its ``ModificationLevel``). The level alone hides what changed:
an /Info rewrite, an XMP update and a DSS are all "LTA updates". Here the same
rules run with a recorder around each, so every object a revision writes is
attributed to the rule (and, for form updates, the field) that explained it,
and the revision is described by kinds (:data:`KINDS`). Completeness comes from
pyHanko: when it accepts a revision, every object written in it was explained
by some rule; when it refuses, the pages' annotations and the form fields are
compared directly and anything left unnamed is ``other``.

Values, not references, decide the metadata kinds: /Info, XMP and the form's
defaults are compared between consecutive revisions, so an object rewritten
unchanged is no change, and every revision is described on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DiffResult,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    QualifiedWhitelistRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.form_rules_api import FieldComparisonContext, FieldMDPRule
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from verification.pdf.kinds import KINDS, LICENCE_ALLOWED

__all__ = [
    "KINDS",
    "LICENCE_ALLOWED",
    "Binding",
    "Changes",
    "describe_changes",
    "resolve",
]


# Every incremental writer (pyHanko, Acrobat) stamps these on each update; alone
# in a revision they are an /Info change, beside a signature or LTV update they
# are that update's bookkeeping and are named in the detail only.
_BOOKKEEPING: Final = frozenset({"/ModDate", "/Producer"})
_SIGNED_KINDS: Final = frozenset({"dss", "doc_timestamp", "issuer_signature", "signature"})
_FORM_DEFAULTS: Final = ("/NeedAppearances", "/DA", "/DR", "/Q")
_LEVELS: Final = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "ltv",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}
_MAX_PAGES: Final = 10_000
_MAX_ANNOTS: Final = 10_000

Ref = tuple[int, int]
Binding = tuple[str, bytes] | None  # (licence id, seal DER) signed into a signature


def _key(ref: Any) -> Ref:
    return int(ref.idnum), int(ref.generation)


@dataclass(slots=True)
class _Revision:
    """What one revision after the signed one wrote, as kinds (with field names)."""

    number: int
    kinds: set[str] = field(default_factory=set)
    signatures: set[str] = field(default_factory=set)  # fields newly signed here
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Changes:
    """pyHanko's level and the described revisions, before later signatures are known."""

    level: str
    revisions: tuple[_Revision, ...] = ()
    reason: str = ""


class _Recorder:
    """Collects, per revision, which rule (or field) explained which reference."""

    def __init__(self) -> None:
        self.tags: dict[Ref, set[str]] = {}
        self.fields: dict[Ref, set[str]] = {}
        self.specs: dict[str, Any] = {}

    def reset(self) -> None:
        self.tags, self.fields, self.specs = {}, {}, {}


class _Tagged(QualifiedWhitelistRule):
    def __init__(self, inner: QualifiedWhitelistRule, tag: str, recorder: _Recorder) -> None:
        self._inner, self._tag, self._recorder = inner, tag, recorder

    def apply_qualified(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterator[Any]:
        for level, update in self._inner.apply_qualified(old, new):
            self._recorder.tags.setdefault(_key(update.updated_ref), set()).add(self._tag)
            yield level, update


class _TaggedField(FieldMDPRule):
    def __init__(self, inner: FieldMDPRule, recorder: _Recorder) -> None:
        self._inner, self._recorder = inner, recorder

    def apply(self, context: FieldComparisonContext) -> Iterator[Any]:
        for level, update in self._inner.apply(context):
            name = update.field_name
            if name is not None:
                self._recorder.fields.setdefault(_key(update.updated_ref), set()).add(name)
                self._recorder.specs[name] = context.field_specs.get(name)
            yield level, update


class _DescribingPolicy(StandardDiffPolicy):
    """pyHanko's default policy, recording and describing each revision it reviews."""

    def __init__(self) -> None:
        self.recorder = _Recorder()
        self.revisions: list[_Revision] = []
        rec = self.recorder
        lta = ModificationLevel.LTA_UPDATES
        super().__init__(
            global_rules=[
                _Tagged(CatalogModificationRule(), "catalog", rec),  # type: ignore[no-untyped-call]
                _Tagged(DocInfoRule().as_qualified(lta), "info", rec),
                _Tagged(XrefStreamRule().as_qualified(lta), "structure", rec),
                _Tagged(ObjectStreamRule().as_qualified(lta), "structure", rec),
                _Tagged(DSSCompareRule().as_qualified(lta), "dss", rec),
                _Tagged(MetadataUpdateRule().as_qualified(lta), "xmp", rec),  # type: ignore[no-untyped-call]
            ],
            form_rule=FormUpdatingRule(field_rules=[
                _TaggedField(SigFieldCreationRule(), rec),  # type: ignore[no-untyped-call]
                _TaggedField(SigFieldModificationRule(), rec),
                _TaggedField(GenericFieldModificationRule(), rec),
            ]),
        )

    def apply(self, old: HistoricalResolver, new: HistoricalResolver, *args: Any,
              **kwargs: Any) -> DiffResult:
        self.recorder.reset()
        try:
            result = super().apply(old, new, *args, **kwargs)
        except SuspiciousModification:
            self._note(old, new, refused=True)
            raise
        self._note(old, new, refused=False)
        return result

    def _note(self, old: HistoricalResolver, new: HistoricalResolver, *, refused: bool) -> None:
        """Describe ``new``; a description that fails is ``other`` (never PASSED for a
        licence), and never changes pyHanko's level, so a foreign verdict stands."""
        try:
            described = _describe(old, new, self.recorder, refused=refused)
        except Exception as exc:  # noqa: BLE001  (malformed objects: say so, fail closed)
            described = _Revision(new.revision, {"other"},
                                  notes=[f"not describable: {type(exc).__name__}: {exc}"[:200]])
        self.revisions.append(described)


def describe_changes(emb: EmbeddedPdfSignature) -> Changes:
    """Review every revision after ``emb``'s signed one (the coverage is already known)."""
    policy = _DescribingPolicy()
    diff = emb.evaluate_modifications(policy)
    if isinstance(diff, DiffResult):
        return Changes(_LEVELS.get(diff.modification_level, "other"), tuple(policy.revisions))
    return Changes("other", tuple(policy.revisions), str(diff))


# ---------------------------------------------------------------- one revision
def _describe(old: HistoricalResolver, new: HistoricalResolver, rec: _Recorder, *,
              refused: bool) -> _Revision:
    """The kinds of change revision ``new`` made (``old`` is the signed revision)."""
    out = _Revision(new.revision)
    prev = new.reader.get_historical_resolver(new.revision - 1)
    written = {_key(r) for r in new.explicit_refs_in_revision()}  # type: ignore[no-untyped-call]
    for ref in written:
        if "dss" in rec.tags.get(ref, ()):
            out.kinds.add("dss")
        for name in rec.fields.get(ref, ()):
            _field_kinds(name, rec.specs.get(name), out)
    _info(prev, new, out)
    if _metadata(prev) != _metadata(new):
        out.kinds.add("xmp")
    if _form_defaults(prev) != _form_defaults(new):
        out.kinds.add("form_settings")
    if refused:
        # pyHanko stopped at the first thing it could not explain: name the annotations,
        # and call "other" whatever written object neither a rule nor that names
        annotations, accounted = _annotations(prev, new, written)
        if annotations:
            out.kinds.add("annotation")
        accounted |= set(rec.tags) | set(rec.fields)
        if written - accounted or not out.kinds - {"info_bookkeeping"}:
            out.kinds.add("other")
    return out


def _field_kinds(name: str, spec: Any, out: _Revision) -> None:
    """A form update is a signature, a time-stamp, an empty signature field or a value."""
    if spec is None or spec.new_field_ref is None:
        out.kinds.add("other")
        return
    new_field = spec.new_field
    if spec.field_type != "/Sig":
        out.kinds.add("form_value")
        return
    visible = _visible(new_field)
    if visible:
        out.kinds.add("signature_appearance")
    old_field = spec.old_field
    signed_before = old_field is not None and "/V" in old_field
    if signed_before or "/V" not in new_field:
        out.kinds.add("signature_field")
        return
    value = new_field.raw_get("/V")
    value = value.get_object() if isinstance(value, generic.IndirectObject) else value  # type: ignore[no-untyped-call]
    if isinstance(value, generic.DictionaryObject) and value.get("/Type") == "/DocTimeStamp" \
            and not visible:
        out.kinds.add("doc_timestamp")
    else:
        out.kinds.add("signature")
        out.signatures.add(name)


def _visible(field_dict: Any) -> bool:
    """A non-empty widget rectangle on the field or one of its kids (pyHanko's notion)."""
    widgets = [field_dict]
    kids = field_dict.get("/Kids")
    if isinstance(kids, generic.ArrayObject):
        widgets += [k.get_object() for k in kids[:_MAX_ANNOTS]]
    for widget in widgets:
        try:
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        except (KeyError, TypeError, ValueError):
            continue
        if (x2 - x1) * (y2 - y1):
            return True
    return False


def _info(prev: HistoricalResolver, new: HistoricalResolver, out: _Revision) -> None:
    before, after = _info_dict(prev), _info_dict(new)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not changed:
        return
    out.kinds.add("info_bookkeeping" if set(changed) <= _BOOKKEEPING else "info")
    out.notes.append("/Info " + " ".join(changed))


def _info_dict(resolver: HistoricalResolver) -> dict[str, str]:
    try:
        info = resolver.trailer_view["/Info"]
    except KeyError:
        return {}
    if not isinstance(info, generic.DictionaryObject):
        return {"": repr(info)}
    return {str(k): repr(v.get_object()) for k, v in info.items()}


def _metadata(resolver: HistoricalResolver) -> bytes | None:
    try:
        stream = resolver.root.get("/Metadata")
        stream = None if stream is None else stream.get_object()
    except (KeyError, TypeError, ValueError):
        return b"unreadable"
    if isinstance(stream, generic.StreamObject):
        return bytes(stream.encoded_data or b"") + repr(dict(stream)).encode()
    return None if stream is None else repr(stream).encode()


def _form_defaults(resolver: HistoricalResolver) -> tuple[str, ...]:
    form = resolver.root.get("/AcroForm")
    form = None if form is None else form.get_object()
    if not isinstance(form, generic.DictionaryObject):
        return ()
    return tuple(_deep(form.get(k)) for k in _FORM_DEFAULTS)


def _deep(value: Any, depth: int = 0) -> str:
    """A comparable text of a small object graph (the form defaults), bounded in depth."""
    if value is None or depth > 6:
        return repr(value)
    obj = value.get_object() if isinstance(value, generic.IndirectObject) else value  # type: ignore[no-untyped-call]
    if isinstance(obj, generic.StreamObject):
        return repr(bytes(obj.encoded_data or b""))
    if isinstance(obj, generic.DictionaryObject):
        return "{" + ",".join(f"{k}:{_deep(v, depth + 1)}" for k, v in sorted(obj.items())) + "}"
    if isinstance(obj, generic.ArrayObject):
        return "[" + ",".join(_deep(v, depth + 1) for v in obj) + "]"
    return repr(obj)


def _annotations(prev: HistoricalResolver, new: HistoricalResolver,
                 written: set[Ref]) -> tuple[bool, set[Ref]]:
    """Whether revision ``new`` added, removed or rewrote an annotation that is not a form
    field's widget (widgets are described through their fields), and the objects that
    explains: those annotations and the pages whose only change is their /Annots."""
    before = {number: (page, annots) for number, _, page, annots in _page_annots(prev)}
    found = False
    accounted: set[Ref] = set()
    for number, page_ref, page, annots in _page_annots(new):
        old_page, old_annots = before.get(number, (None, {}))
        for ref, annot in annots.items():
            is_widget = annot.get("/Subtype") == "/Widget"
            if is_widget and ("/FT" in annot or "/Parent" in annot):
                continue
            if ref not in old_annots or ref in written:
                found = True
                accounted.add(ref)
        if set(old_annots) - set(annots):
            found = True
        if page_ref is not None and old_page is not None \
                and _without_annots(old_page) == _without_annots(page):
            accounted.add(page_ref)
    return found, accounted


def _without_annots(page: Any) -> dict[str, str]:
    return {str(k): repr(v) for k, v in page.items() if k != "/Annots"}


def _page_annots(resolver: HistoricalResolver) -> Iterator[
        tuple[int, Ref | None, Any, dict[Ref, Any]]]:
    """(number, reference, dictionary, {annotation reference: dictionary}) of each page."""
    try:
        pages = resolver.root.raw_get("/Pages")
    except KeyError:
        return
    for number, (page_ref, page) in enumerate(_leaves(pages)):
        annots = page.get("/Annots")
        annots = None if annots is None else annots.get_object()  # type: ignore[no-untyped-call]
        found: dict[Ref, Any] = {}
        if isinstance(annots, generic.ArrayObject):
            for raw in list(annots)[:_MAX_ANNOTS]:
                if isinstance(raw, generic.IndirectObject):
                    obj = raw.get_object()  # type: ignore[no-untyped-call]
                    if isinstance(obj, generic.DictionaryObject):
                        found[_key(raw)] = obj
                else:  # a direct annotation: only its content identifies it
                    found[(-1, len(found))] = raw
        yield number, page_ref, page, found


def _leaves(node: Any) -> Iterator[tuple[Ref | None, Any]]:
    """(reference, page dictionary) in order, bounded and loop-safe."""
    stack: list[Any] = [node]
    seen: set[int] = set()
    count = 0
    while stack and count < _MAX_PAGES:
        current = stack.pop()
        is_ref = isinstance(current, generic.IndirectObject)
        obj = current.get_object() if is_ref else current  # type: ignore[no-untyped-call]
        if not isinstance(obj, generic.DictionaryObject) or id(obj) in seen:
            continue
        seen.add(id(obj))
        kids = obj.get("/Kids")
        if isinstance(kids, generic.ArrayObject):
            stack.extend(reversed([kids.raw_get(i) for i in range(len(kids))]))
        else:
            count += 1
            yield (_key(current) if is_ref else None), obj


# ---------------------------------------------------------------- after all signatures
def resolve(changes: Changes, own: Binding, bindings: Mapping[str, Binding]) -> tuple[
        tuple[str, ...], str]:
    """The kinds and the detail of one signature's later revisions.

    A later signature is the issuer's own when it carries the same signed
    licence id and seal as this one (its own checks then judge its signer).
    Bookkeeping /Info keys beside a signature or LTV update belong to it.
    """
    kinds: set[str] = set()
    parts: list[str] = []
    for rev in changes.revisions:
        here = rev.kinds - {"signature"}
        names: list[str] = []
        for name in sorted(rev.signatures):
            same = own is not None and bindings.get(name) == own
            names.append(f"{name} (" + ("same licence and seal" if same else "later signature"
                                        if own is None else "another licence or seal") + ")")
            here.add("issuer_signature" if same else "signature")
        if "info_bookkeeping" in here:
            here.discard("info_bookkeeping")
            if not here & _SIGNED_KINDS:
                here.add("info")
        kinds |= here
        text = ", ".join(sorted(here)) or "nothing"
        extra = "; ".join([*names, *rev.notes])
        parts.append(f"revision {rev.number}: {text}" + (f" [{extra}]" if extra else ""))
    detail = "; ".join(parts)
    if changes.reason:
        detail += f"; pyHanko: {changes.reason}"
    return tuple(sorted(kinds)), detail

