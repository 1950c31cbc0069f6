"""Which decoded characters are plausible in a Chinese business export, per legacy encoding.

GB18030 decodes almost any byte sequence, and Big5 and GBK overlap, so "it decoded" proves
nothing. What does tell: text decoded with the right codec is made of the common characters
of that script (the 6,763 Han characters of GB2312 for simplified Chinese, the 5,401 frequent
Han characters of Big5 level 1 for traditional Chinese), ASCII and ordinary punctuation. A
wrong codec yields rare Han characters, kana, Greek, box drawing and private-use code points
(``籓カ地河筿福Τそ`` is Big5 read as GB18030). The patterns here find those characters; the
thresholds that turn counts into a verdict are in :class:`Plausibility`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Protocol

# Ordinary non-Han text in exports: Latin letters with diacritics (pinyin tones, foreign
# names), Latin-1 symbols (¥ × ÷ ° ·), general punctuation (— ‘ ’ “ ” … ‰), letterlike
# symbols (℃ №), circled numbers, CJK punctuation and full-width forms (，（）：￥).
_COMMON_RANGES = (
    (0x00A0, 0x024F),
    (0x2010, 0x203A),
    (0x2100, 0x2122),
    (0x2460, 0x2473),
    (0x3000, 0x303F),
    (0xFF01, 0xFFEF),
)
# A line is implausible when at least LINE_RARE_MIN of its characters are rare and they are
# at least LINE_RARE_SHARE of its non-ASCII characters; a file, when FILE_RARE_MIN / SHARE.
# Genuine exports measure 0-3%; text decoded with the wrong codec 50-100%.
LINE_RARE_MIN, LINE_RARE_SHARE = 2, 0.3
FILE_RARE_MIN, FILE_RARE_SHARE = 3, 0.2
PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
# A UTF-8 encoded CJK ideograph (U+4E00..U+9FFF): lead byte E4..E9 and two continuations.
UTF8_HAN = re.compile(rb"[\xe4-\xe9][\x80-\xbf][\x80-\xbf]")


def _two_byte_chars(codec: str, leads: range, trails: list[int]) -> set[str]:
    chars: set[str] = set()
    for lead in leads:
        for trail in trails:
            try:
                chars.add(bytes([lead, trail]).decode(codec))
            except UnicodeDecodeError:
                continue
    return chars


def _class(chars: set[str]) -> str:
    """A regex character class body for ``chars``, as code-point ranges."""
    points = sorted({ord(c) for c in chars})
    parts, start, prev = [], points[0], points[0]
    for point in [*points[1:], None]:
        if point is not None and point == prev + 1:
            prev = point
            continue
        parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
        if point is not None:
            start = prev = point
    return "".join(parts)


@cache
def common_han(codec: str) -> frozenset[str]:
    """The common Han characters of the script a legacy ``codec`` encodes."""
    if codec == "cp950":
        # Big5 level 1: lead bytes A4..C6, trail bytes 40..7E and A1..FE.
        trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
        return frozenset(_two_byte_chars("cp950", range(0xA4, 0xC7), trails))
    # GB2312 Han: rows 16-87 (lead bytes B0..F7), trail bytes A1..FE.
    return frozenset(_two_byte_chars("gb2312", range(0xB0, 0xF8), list(range(0xA1, 0xFF))))


@cache
def rare_pattern(codec: str) -> re.Pattern[str]:
    """Matches a character that is not plausible in text of ``codec``'s script."""
    common = set(common_han(codec))
    for low, high in _COMMON_RANGES:
        common.update(chr(c) for c in range(low, high + 1))
    return re.compile("[^\\x00-\\x7f" + _class(common) + "]")


@dataclass
class Problem:
    """Why a decoding is rejected, and the line where it shows."""

    reason: str
    line: int


class LineCounter(Protocol):
    done: int  # complete lines before the current piece

    def at(self, piece: bytes, pos: int) -> int: ...


class Plausibility:
    """Rare-character statistics of a decoding, per line and for the whole file."""

    def __init__(self, codec: str) -> None:
        self.codec, self.rare = codec, rare_pattern(codec)
        self.rare_total = self.non_ascii_total = 0
        self.first_rare_line: int | None = None

    def check_piece(self, piece: bytes, text: str, lines: LineCounter) -> Problem | None:
        if text.encode(self.codec) != piece:
            return Problem(f"bytes do not round-trip through {self.codec}", lines.at(piece, 0))
        self.non_ascii_total += len(text) - len(text.encode("ascii", "ignore"))
        pos = 0
        while match := self.rare.search(text, pos):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.start())
            end = len(text) if end < 0 else end
            pos = end + 1
            line = text[start:end]
            rare = len(self.rare.findall(line))
            non_ascii = len(line) - len(line.encode("ascii", "ignore"))
            number = lines.done + text.count("\n", 0, start) + 1
            self.rare_total += rare
            self.first_rare_line = self.first_rare_line or number
            if PRIVATE_USE.search(line):
                return Problem("private-use characters (not text)", number)
            if rare >= LINE_RARE_MIN and rare >= LINE_RARE_SHARE * non_ascii:
                return Problem(
                    f"looks garbled: {rare} of {non_ascii} non-ASCII characters are rare or "
                    "not Chinese",
                    number,
                )
        return None

    def verdict(self) -> Problem | None:
        share = self.rare_total / self.non_ascii_total if self.non_ascii_total else 0.0
        if self.rare_total >= FILE_RARE_MIN and share >= FILE_RARE_SHARE:
            return Problem(
                f"looks garbled: {self.rare_total} of {self.non_ascii_total} non-ASCII "
                "characters in the file are rare or not Chinese",
                self.first_rare_line or 1,
            )
        return None
