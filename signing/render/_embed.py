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
caches each glyph's bytes and component offsets, and a width array with
cached number formatting. The output must stay *identical* to reportlab's:
``tests/test_render_fast.py`` compares the written objects and subset
bytes with stock reportlab, so a reportlab upgrade that changes either
fails there instead of silently diverging. Nothing of reportlab is patched.
"""

from __future__ import annotations

import contextlib
import struct
from functools import lru_cache
from typing import Any, Final, NamedTuple

from reportlab import rl_config
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


class _Subsetter:
    """``TTFontFace.makeSubset`` with the face's fixed parts read once, glyphs cached."""

    def __init__(self, face: Any) -> None:
        self.face = face
        self.char_to_glyph: dict[int, int] = face.charToGlyph
        self.glyph_pos: list[int] = face.glyphPos
        self.hmetrics: list[tuple[int, int]] = face.hmetrics
        self.copied: list[tuple[str, bytes]] = []
        for tag in _COPIED_TABLES:
            with contextlib.suppress(KeyError):  # cvt, fpgm and prep are optional
                self.copied.append((tag, bytes(face.get_table(tag))))
        self.post = b"\x00\x03\x00\x00" + bytes(face.get_table("post")[4:16]) + b"\x00" * 16
        self.hhea = bytes(face.get_table("hhea"))
        self.maxp = bytes(face.get_table("maxp"))
        self.head = bytes(face.get_table("head"))
        start, length = face.get_table_pos("glyf")
        self.glyf = memoryview(face._ttf_data)[start : start + length]
        # old glyph index -> _Glyph; at most the font's glyphs, only those ever used
        self.glyphs: dict[int, _Glyph] = {}

    def glyph(self, index: int) -> _Glyph:
        cached = self.glyphs.get(index)
        if cached is None:
            pos = self.glyph_pos[index]
            data = bytes(self.glyf[pos : self.glyph_pos[index + 1]])
            composite = len(data) > 2 and _SHORT.unpack_from(data)[0] < 0
            aw, lsb = self.hmetrics[index]
            # glyphs start 4-aligned in the subset, so the padding is the glyph's own
            padded = data + b"\0" * (-len(data) % 4)
            parts = _component_offsets(data) if composite else ()
            cached = _Glyph(padded, parts, int(aw), int(lsb))
            self.glyphs[index] = cached
        return cached

    def make_subset(self, subset: list[int]) -> bytes:
        """The same bytes as ``face.makeSubset(subset)``."""
        char_to_glyph = self.char_to_glyph
        glyph_map = [0]  # new glyph index -> old glyph index
        glyph_set = {0: 0}  # old glyph index -> new glyph index
        code_to_glyph: dict[int, int] = {}
        for code in subset:
            old = char_to_glyph.get(code, 0)
            if old not in glyph_set:
                glyph_set[old] = len(glyph_map)
                glyph_map.append(old)
            code_to_glyph[code] = glyph_set[old]
        glyphs = []
        n = 0
        while n < len(glyph_map):  # parts of composite glyphs join the subset
            glyph = self.glyph(glyph_map[n])
            glyphs.append(glyph)
            for _, part in glyph.parts:
                if part not in glyph_set:
                    glyph_set[part] = len(glyph_map)
                    glyph_map.append(part)
            n += 1

        output = TTFontMaker()
        for tag, table in self.copied:
            output.add(tag, table)
        output.add("post", self.post)

        num_glyphs = len(glyph_map)
        hmtx: list[int] = []
        for glyph in glyphs:
            hmtx.append(glyph.advance)
            hmtx.append(glyph.lsb)
        n = len(hmtx) - 2
        while n and hmtx[n] == hmtx[n - 2]:
            n -= 2
        n += 2
        number_of_hmetrics = n >> 1
        hmtx = hmtx[:n] + hmtx[n + 1 :: 2]
        output.add("hmtx", struct.pack(f">{len(hmtx)}H", *hmtx))
        output.add("hhea", _set_ushort(self.hhea, 34, number_of_hmetrics))
        output.add("maxp", _set_ushort(self.maxp, 4, num_glyphs))

        entries = len(subset)
        cmap = [0, 1, 1, 0, 0, 12, 6, 10 + entries * 2, 0, 0, entries]
        cmap += map(code_to_glyph.__getitem__, subset)
        output.add("cmap", struct.pack(f">{len(cmap)}H", *cmap))

        offsets = []
        glyf: list[bytes] = []
        pos = 0
        for glyph in glyphs:
            offsets.append(pos)
            data = glyph.data
            if glyph.parts:
                patched = bytearray(data)
                for at, part in glyph.parts:
                    _USHORT.pack_into(patched, at, glyph_set[part])
                data = bytes(patched)
            glyf.append(data)
            pos += len(data)
        offsets.append(pos)
        output.add("glyf", b"".join(glyf))
        if (pos + 1) >> 1 > 0xFFFF:
            index_to_loc_format = 1
            loca = struct.pack(f">{len(offsets)}L", *offsets)
        else:
            index_to_loc_format = 0
            loca = struct.pack(f">{len(offsets)}H", *[offset >> 1 for offset in offsets])
        output.add("loca", loca)
        output.add("head", _set_ushort(self.head, 50, index_to_loc_format))
        stream: bytes = output.makeStream()
        return stream


def _set_ushort(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + _USHORT.pack(value) + data[offset + 2 :]


@lru_cache(maxsize=4096)
def _number(value: float) -> bytes:
    formatted: bytes = pdfdoc.format(value, None)
    return formatted


class _NumberArray(pdfdoc.PDFArray):  # type: ignore[misc]
    """A ``PDFArray`` of plain numbers: same bytes, each distinct number formatted once."""

    def format(self, document: Any, IND: bytes = b"\n ") -> bytes:
        if self.multiline and rl_config.pdfMultiLine:
            formatted: bytes = super().format(document, IND)
            return formatted
        items = [_number(value) for value in self.sequence]
        if len(items) > 10:  # reportlab breaks the line every 10 elements
            for i in reversed(range(10, len(items), 10)):
                items.insert(i, b"\n ")
        return b"[ " + b" ".join(items) + b" ]"


class EmbeddedFont(TTFont):  # type: ignore[misc]
    """A reportlab ``TTFont`` whose per-document subset objects are built faster, identically."""

    def __init__(self, name: str, filename: str, **kwargs: Any) -> None:
        super().__init__(name, filename, **kwargs)
        self.subsetter = _Subsetter(self.face)

    def addObjects(self, doc: Any) -> None:
        """``TTFont.addObjects`` of reportlab 5.1, with the subset and widths from the caches."""
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        face = self.face
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = (b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX))).decode(
                "pdfdoc"
            )
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = _NumberArray(list(map(face.getCharWidth, subset)))

            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = makeToUnicodeCMap(base_font_name, subset)
            if doc.compression:
                cmap_stream.filters = [pdfdoc.PDFZCompress]
            pdf_font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self._descriptor(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del self.state[doc]

    def _descriptor(self, doc: Any, fontname: str, subset: list[int]) -> Any:
        """``TTFontFace.addSubsetObjects`` of reportlab 5.1, with the cached subsetter."""
        face = self.face
        font_file = pdfdoc.PDFStream()
        font_file.content = self.subsetter.make_subset(subset)
        font_file.dictionary["Length1"] = len(font_file.content)
        if doc.compression:
            font_file.filters = [pdfdoc.PDFZCompress]
        font_file_ref = doc.Reference(font_file, f"fontFile:{face.filename}({fontname})")
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
        descriptor = pdfdoc.PDFDictionary(
            {
                "Type": "/FontDescriptor",
                "Ascent": face.ascent,
                "CapHeight": face.capHeight,
                "Descent": face.descent,
                "Flags": flags,
                "FontBBox": pdfdoc.PDFArray(face.bbox),
                "FontName": pdfdoc.PDFName(fontname),
                "ItalicAngle": face.italicAngle,
                "StemV": face.stemV,
                "FontFile2": font_file_ref,
                "MissingWidth": face.defaultWidth,
            }
        )
        return doc.Reference(descriptor, "fontDescriptor:" + fontname)
