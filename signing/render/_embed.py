"""Embedding the CJK font subset: reportlab's objects, written faster, byte for byte.

Per licence reportlab 5 cuts a TrueType subset of the 5 MB font
(``TTFontFace.makeSubset``) and writes a font dictionary whose ``/Widths``
array goes through its generic per-element formatter. Profiled, that was
about 1 ms of a ~3 ms rendering, all of it re-deriving the same things:
``makeSubset`` copies the 3.5 MB ``glyf`` table and the fixed tables and
re-parses every glyph's composite components for each document, and each
width is formatted by a chain of ``format``/``fp_str``/``encode`` calls.

:class:`EmbeddedFont` is a ``TTFont`` whose ``addObjects`` (reportlab's, step
for step) uses :class:`_Subsetter`, which reads the fixed tables once and
caches each glyph's bytes and component offsets, and formats the four
objects of each subset (ToUnicode map, font file, descriptor, font
dictionary) at once with the helpers of signing/render/_writer.py, the
descriptor's fixed entries and the widths cached, instead of building
reportlab objects for its generic formatter (for output settings other than
reportlab's defaults it leaves everything to ``TTFont.addObjects``). The
output must stay *identical* to reportlab's: ``tests/test_render_fast.py``
compares the written objects and subset bytes with stock reportlab, so a
reportlab upgrade that changes either fails there instead of silently
diverging. Nothing of reportlab is patched.
"""

from __future__ import annotations

import contextlib
import struct
from functools import lru_cache
from itertools import accumulate, compress, count, repeat, takewhile
from typing import Any, Final, NamedTuple

from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    GF_ARG_1_AND_2_ARE_WORDS,
    GF_MORE_COMPONENTS,
    GF_WE_HAVE_A_SCALE,
    GF_WE_HAVE_A_TWO_BY_TWO,
    GF_WE_HAVE_AN_X_AND_Y_SCALE,
    SUBSETN,
    TTFont,
    TTFontMaker,
    makeToUnicodeCMap,
)

from signing.render._writer import Prepared, array, dictionary, name, plain_output, stream

__all__ = ["EmbeddedFont"]

_COPIED_TABLES: Final = ("name", "OS/2", "cvt ", "fpgm", "prep")
_SHORT: Final = struct.Struct(">h")
_USHORT: Final = struct.Struct(">H")


def _component_offsets(data: bytes) -> tuple[tuple[int, int], ...]:
    """(offset of the glyph index, glyph index) of each component of a composite glyph."""
    found = []
    pos = 10  # numberOfContours and the bounding box
    flags = GF_MORE_COMPONENTS
    while flags & GF_MORE_COMPONENTS:
        flags, glyph = struct.unpack_from(">HH", data, pos)
        found.append((pos + 2, glyph))
        pos += 8 if flags & GF_ARG_1_AND_2_ARE_WORDS else 6
        if flags & GF_WE_HAVE_A_SCALE:
            pos += 2
        elif flags & GF_WE_HAVE_AN_X_AND_Y_SCALE:
            pos += 4
        elif flags & GF_WE_HAVE_A_TWO_BY_TWO:
            pos += 8
    return tuple(found)


class _Glyph(NamedTuple):
    """One glyph of the font as the subset needs it."""

    data: bytes  # padded to 4 bytes, as makeSubset writes it
    parts: tuple[tuple[int, int], ...]  # composite: (offset of the index, old glyph index)
    advance: int
    lsb: int


class _Glyphs(dict[int, _Glyph]):
    """Old glyph index -> :class:`_Glyph`, read from the font on first use."""

    def __init__(self, face: Any) -> None:
        super().__init__()
        start, length = face.get_table_pos("glyf")
        self.glyf = memoryview(face._ttf_data)[start : start + length]
        self.glyph_pos: list[int] = face.glyphPos
        self.hmetrics: list[tuple[int, int]] = face.hmetrics

    def __missing__(self, index: int) -> _Glyph:
        pos = self.glyph_pos[index]
        data = bytes(self.glyf[pos : self.glyph_pos[index + 1]])
        composite = len(data) > 2 and _SHORT.unpack_from(data)[0] < 0
        aw, lsb = self.hmetrics[index]
        # glyphs start 4-aligned in the subset, so the padding is the glyph's own
        padded = data + b"\0" * (-len(data) % 4)
        parts = _component_offsets(data) if composite else ()
        glyph = self[index] = _Glyph(padded, parts, int(aw), int(lsb))
        return glyph


class _Subsetter:
    """``TTFontFace.makeSubset`` with the face's fixed parts read once, glyphs cached.

    Per-glyph work runs in C where it can (``map``, ``zip``, ``dict.fromkeys``):
    a licence's subset has ~115 codes and ~200 glyphs, about half of them
    composites of two others (the CJK glyphs of WenQuanYi).
    """

    def __init__(self, face: Any) -> None:
        self.face = face
        self.char_to_glyph: dict[int, int] = face.charToGlyph
        self.copied: list[tuple[str, bytes]] = []
        for tag in _COPIED_TABLES:
            with contextlib.suppress(KeyError):  # cvt, fpgm and prep are optional
                self.copied.append((tag, bytes(face.get_table(tag))))
        self.post = b"\x00\x03\x00\x00" + bytes(face.get_table("post")[4:16]) + b"\x00" * 16
        self.hhea = bytes(face.get_table("hhea"))
        self.maxp = bytes(face.get_table("maxp"))
        self.head = bytes(face.get_table("head"))
        self.glyphs = _Glyphs(face)  # at most the font's glyphs, only those ever used

    def glyph(self, index: int) -> _Glyph:
        return self.glyphs[index]

    def make_subset(self, subset: list[int]) -> bytes:
        """The same bytes as ``face.makeSubset(subset)``."""
        output, new_indexes = self._tables(subset)
        entries = len(subset)
        cmap = [0, 1, 1, 0, 0, 12, 6, 10 + entries * 2, 0, 0, entries, *new_indexes]
        output.add("cmap", struct.pack(f">{len(cmap)}H", *cmap))
        stream: bytes = output.makeStream()
        return stream

    def make_unicode_subset(self, code_points: list[int]) -> bytes:
        """A subset whose cmap maps Unicode (3,1 format 4) to its glyphs: what an OFD
        TextCode, which carries Unicode text, needs. ``code_points`` must be BMP."""
        output, new_indexes = self._tables(code_points)
        output.add("cmap", _cmap_format4(code_points, new_indexes))
        stream: bytes = output.makeStream()
        return stream

    def _tables(self, subset: list[int]) -> tuple[TTFontMaker, list[int]]:
        """Every table of the subset but the cmap, and the new glyph index of each code."""
        old_indexes = list(map(self.char_to_glyph.get, subset, repeat(0)))
        glyph_map = list(dict.fromkeys([0, *old_indexes]))  # new glyph index -> old glyph index
        glyph_set = dict(zip(glyph_map, count()))  # old glyph index -> new glyph index
        new_indexes = list(map(glyph_set.__getitem__, old_indexes))
        glyphs = list(map(self.glyphs.__getitem__, glyph_map))
        # Components of composites join the subset after the glyphs of the codes,
        # in the order makeSubset meets them (it walks the growing glyph map).
        composites = [glyph for glyph in glyphs if glyph.parts]
        for glyph in composites:  # grows while iterated: nested composites
            for _, part in glyph.parts:
                if part not in glyph_set:
                    glyph_set[part] = len(glyph_map)
                    glyph_map.append(part)
                    component = self.glyphs[part]
                    glyphs.append(component)
                    if component.parts:
                        composites.append(component)
        datas, parts, advances, lsbs = zip(*glyphs, strict=True)

        output = TTFontMaker()
        for tag, table in self.copied:
            output.add(tag, table)
        output.add("post", self.post)

        # hmtx: full metrics up to the trailing run of equal advances, then only their lsb
        trailing = len(list(takewhile(advances[-1].__eq__, reversed(advances))))
        full = len(advances) - trailing + 1
        hmtx = [0] * (2 * full)
        hmtx[::2] = advances[:full]
        hmtx[1::2] = lsbs[:full]
        hmtx += lsbs[full:]
        output.add("hmtx", struct.pack(f">{len(hmtx)}H", *hmtx))
        output.add("hhea", _set_ushort(self.hhea, 34, full))
        output.add("maxp", _set_ushort(self.maxp, 4, len(glyph_map)))

        # glyf: the glyphs back to back, then the component indexes of composites renumbered
        offsets = [0, *accumulate(map(len, datas))]
        glyf = bytearray().join(datas)
        for start, components in compress(zip(offsets, parts, strict=False), parts):
            for at, part in components:
                _USHORT.pack_into(glyf, start + at, glyph_set[part])
        output.add("glyf", bytes(glyf))
        if (offsets[-1] + 1) >> 1 > 0xFFFF:
            index_to_loc_format = 1
            loca = struct.pack(f">{len(offsets)}L", *offsets)
        else:
            index_to_loc_format = 0
            loca = struct.pack(f">{len(offsets)}H", *[offset >> 1 for offset in offsets])
        output.add("loca", loca)
        output.add("head", _set_ushort(self.head, 50, index_to_loc_format))
        return output, new_indexes


def _cmap_format4(code_points: list[int], glyphs: list[int]) -> bytes:
    """A (3,1) cmap, format 4, one segment per code point (a licence uses ~150)."""
    if any(not 0 <= cp < 0xFFFF for cp in code_points):
        raise ValueError("format 4 maps BMP code points only")
    pairs = sorted(dict(zip(code_points, glyphs, strict=True)).items())
    pairs.append((0xFFFF, 0))
    segments = len(pairs)
    search = 2 ** (segments.bit_length() - 1)
    ends = [cp for cp, _ in pairs]
    deltas = [(gid - cp) % 0x10000 for cp, gid in pairs]
    deltas[-1] = 1
    body = struct.pack(
        f">HHHH{segments}HH{segments}H{segments}H{segments}H",
        segments * 2, search * 2, search.bit_length() - 1, segments * 2 - search * 2,
        *ends, 0, *ends, *deltas, *([0] * segments))
    subtable = struct.pack(">HHH", 4, 6 + len(body), 0) + body
    return struct.pack(">HHHHL", 0, 1, 3, 1, 12) + subtable


def _set_ushort(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + _USHORT.pack(value) + data[offset + 2 :]


@lru_cache(maxsize=4096)
def _number(value: float) -> bytes:
    formatted: bytes = pdfdoc.format(value, None)
    return formatted


class EmbeddedFont(TTFont):  # type: ignore[misc]
    """A reportlab ``TTFont`` whose per-document subset objects are built faster, identically."""

    def __init__(self, name: str, filename: str, **kwargs: Any) -> None:
        super().__init__(name, filename, **kwargs)
        face = self.face
        self.subsetter = _Subsetter(face)
        self.width_bytes: dict[int, bytes] = {}  # code -> its formatted advance width
        # The descriptor's entries that do not depend on the subset, formatted once.
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
        self.descriptor_entries = {
            "Ascent": _number(face.ascent),
            "CapHeight": _number(face.capHeight),
            "Descent": _number(face.descent),
            "Flags": _number(flags),
            "FontBBox": array([_number(value) for value in face.bbox]),
            "ItalicAngle": _number(face.italicAngle),
            "MissingWidth": _number(face.defaultWidth),
            "StemV": _number(face.stemV),
            "Type": b"/FontDescriptor",
        }

    def addObjects(self, doc: Any) -> None:
        """``TTFont.addObjects`` of reportlab 5.1: the same objects, registered in the same
        order under the same names, each formatted here at once (:class:`Prepared`)."""
        if not plain_output(doc):
            super().addObjects(doc)  # reportlab's own objects, for settings not mirrored here
            return
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        face = self.face
        compress = bool(doc.compression)
        numbers = doc.idToObjectNumberAndVersion
        fonts = doc.idToObject["BasicFonts"].dict
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = (b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX))).decode(
                "pdfdoc"
            )
            cmap = stream(makeToUnicodeCMap(base_font_name, subset), compress)
            cmap_ref = doc.Reference(Prepared(cmap), "toUnicodeCMap:" + base_font_name)

            # TTFontFace.addSubsetObjects
            content = self.subsetter.make_subset(subset)
            font_file = stream(content, compress, {"Length1": b"%d" % len(content)})
            file_ref = doc.Reference(
                Prepared(font_file), f"fontFile:{face.filename}({base_font_name})"
            )
            descriptor = dict(self.descriptor_entries)
            descriptor["FontFile2"] = b"%d %d R" % numbers[file_ref.name]
            descriptor["FontName"] = name(base_font_name)
            descriptor_ref = doc.Reference(
                Prepared(dictionary(descriptor)), "fontDescriptor:" + base_font_name
            )

            font = Prepared(
                dictionary(
                    {
                        "BaseFont": name(base_font_name),
                        "FirstChar": b"0",
                        "FontDescriptor": b"%d %d R" % numbers[descriptor_ref.name],
                        "LastChar": _number(len(subset) - 1),
                        "Name": name(internal_name),
                        "Subtype": b"/TrueType",
                        "ToUnicode": b"%d %d R" % numbers[cmap_ref.name],
                        "Type": b"/Font",
                        "Widths": self._widths(subset),
                    }
                )
            )
            doc.Reference(font, internal_name)
            fonts[internal_name] = font
        del self.state[doc]

    def _widths(self, subset: list[int]) -> bytes:
        """The ``/Widths`` array; each code's width is formatted once per process."""
        known = self.width_bytes
        for code in subset:
            if code not in known:
                known[code] = _number(self.face.getCharWidth(code))
        return array([known[code] for code in subset])
