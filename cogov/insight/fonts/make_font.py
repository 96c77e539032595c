"""Rebuild NotoSansCJKsc-Regular-subset.ttf, the bulletin's embedded Chinese font (see SOURCE.md).

    python cogov/insight/fonts/make_font.py --ttc /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
        --list-8105 8105.dict.yaml [--scan 'cogov/**/*.py' ...]

1. charset.txt: the 通用规范汉字表 characters (the ``### 字表`` section of rime-ice's ``cn_dicts/8105.dict.yaml``),
   every character of GB 2312, ASCII, Latin-1, general and CJK punctuation, full-width forms, a few symbols,
   and every CJK character found in the ``--scan`` files (place names, category names, UI text).
2. Subset face 2 of the collection (Noto Sans CJK SC) to it: no layout features, no hinting, name table kept.
3. Convert the CFF outlines to TrueType (cu2qu, max error 1 font unit = 1/1000 em): a TrueType CIDFont
   (``/FontFile2``) is the kind every PDF reader, printer and text extractor handles.
"""

from __future__ import annotations

import argparse
import glob
import unicodedata
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

HERE = Path(__file__).resolve().parent
SYMBOLS = "№℃℉ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ①②③④⑤⑥⑦⑧⑨⑩→←↑↓↗↘▲▼△▽●○■□◆◇★☆√×÷≤≥≠±∞"


def charset(list_8105: str, scan: list[str]) -> str:
    """The characters to keep, sorted, as one string."""
    lines = Path(list_8105).read_text(encoding="utf-8").split("\n")
    chars = {line.split("\t")[0] for line in lines[lines.index("### 字表") + 1:]
             if line and not line.startswith("#") and len(line.split("\t")[0]) == 1}
    # every row of GB 2312: symbols, full-width forms, kana, Greek, Cyrillic, hanzi
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for lo, hi in ((0x20, 0x7F), (0xA0, 0x100), (0x2010, 0x2060), (0x3000, 0x3040), (0xFF01, 0xFF5F)):
        chars.update(chr(c) for c in range(lo, hi))
    chars.update(SYMBOLS)
    for pattern in scan:
        for path in glob.glob(pattern, recursive=True):
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (UnicodeDecodeError, IsADirectoryError):
                continue
            chars.update(c for c in text if "\u3400" <= c <= "\u9fff" or "\U00020000" <= c <= "\U0003ffff")
    return "".join(sorted(c for c in chars if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")))


def to_truetype(font: TTFont) -> None:
    """Replace the CFF table by glyf/loca (quadratic outlines), in place."""
    order = font.getGlyphOrder()
    glyphset = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyphset[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxComponentDepth"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 3.0
    post.extraNames, post.mapping = [], {}
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes = True  # the new glyphs have no bounding boxes yet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ttc", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    p.add_argument("--font-number", type=int, default=2, help="2 = Noto Sans CJK SC in the Debian collection")
    p.add_argument("--list-8105", required=True)
    p.add_argument("--scan", nargs="*", default=[])
    p.add_argument("--out", default=str(HERE / "NotoSansCJKsc-Regular-subset.ttf"))
    args = p.parse_args()
    text = charset(args.list_8105, args.scan)
    (HERE / "charset.txt").write_text(text, encoding="utf-8")
    # the same as: pyftsubset TTC --font-number=2 --text-file=charset.txt --layout-features='' --no-hinting
    #   --desubroutinize --name-IDs='*' --name-languages='*' --drop-tables+=GSUB,GPOS,GDEF,BASE,VORG,vhea,vmtx
    options = subset.Options()
    options.font_number = args.font_number
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    font = subset.load_font(args.ttc, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    to_truetype(font)
    font.save(args.out)
    print(f"{len(text)} characters → {args.out} ({Path(args.out).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
