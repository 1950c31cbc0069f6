"""Decode a delimited text file (CSV/TSV, maybe gzip) to UTF-8, proving the encoding.

One streaming pass per candidate encoding, in pieces that end at a line break (a line break
byte never occurs inside a multi-byte character of UTF-8, GBK, GB18030 or Big5), so every
problem is reported with its physical line number. What is checked:

- a UTF-16 byte-order mark selects UTF-16; a NUL byte anywhere else means "not a text file";
- ``auto`` = strict UTF-8; a file that is UTF-8 up to a line that is not, after lines of
  UTF-8 text, mixes encodings and fails; otherwise GB18030, then Big5, and the first decoding
  that is *plausible* wins (see ``charsets.py``): no private-use characters, no line where
  rare or non-Chinese characters are a large share, a low share of them over the whole file,
  bytes that round-trip through the codec, and no line that is really UTF-8 text;
- a declared encoding is trusted (no plausibility statistics, so an unusual but genuine file
  can always be loaded by declaring it), except that invalid bytes and UTF-8 lines inside a
  legacy-encoded file still fail;
- the last line must end with a line break when the file has more than one line: a file cut
  during transfer fails instead of loading a truncated last value.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.ingest.charsets import UTF8_HAN, Plausibility, Problem
from pipelines.ingest.errors import LandingFileError

ENCODINGS = ("auto", "utf-8", "utf-16", "gbk", "gb18030", "big5", "windows-1252")
# Big5 is read as Windows code page 950, the Big5 variant Windows and Excel write.
CODECS = {
    "utf-8": "utf-8",
    "utf-16": "utf-16",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "big5": "cp950",
    "windows-1252": "cp1252",
}
AUTO_LEGACY = ("gb18030", "big5")
DECLARE_HINT = (
    "declare the file's encoding for this source in config/sources.yaml "
    f"(encoding: {' | '.join(ENCODINGS[1:])})"
)
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_PIECE = 1 << 20
# As DuckDB's max_line_size for CSV (csv_reader.CSV_MAX_LINE_SIZE).
MAX_LINE_BYTES = 64 * 1024 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")


@dataclass(frozen=True)
class TextSource:
    """A UTF-8 version of a text file: the original (UTF-8) or a transcoded temp copy."""

    path: Path
    encoding: str
    gzip: bool  # ``path`` is gzip-compressed (an original .csv.gz that is UTF-8)

    def open_text(self):  # noqa: ANN201 - a text stream
        if self.gzip:
            return gzip.open(self.path, "rt", encoding="utf-8-sig", newline="")
        return self.path.open("r", encoding="utf-8-sig", newline="")


def open_binary(path: Path, compressed: bool) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip."""
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


def _pieces(fh: BinaryIO, name: str) -> Iterator[bytes]:
    """The file in pieces of whole lines (the last piece may lack its line break).

    A line longer than MAX_LINE_BYTES fails the file: memory stays bounded on a binary file
    without line breaks, and DuckDB would refuse such a record anyway.
    """
    carry, offset = b"", 0
    while True:
        try:
            block = fh.read(_PIECE)
        except (OSError, EOFError) as exc:  # a cut or corrupt gzip stream
            raise LandingFileError(name, f"unreadable compressed file: {exc}") from None
        if not block:
            if carry:
                yield carry
            return
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_LINE_BYTES:
                raise LandingFileError(
                    name,
                    f"no line break in {len(data)} bytes from byte offset {offset}: not a "
                    f"delimited text file, or a record over the {MAX_LINE_BYTES} bytes limit",
                )
            carry = data
            continue
        carry = data[cut:]
        offset += cut
        yield data[:cut]


class _Lines:
    """Counts complete lines across pieces and checks NUL bytes and the last line."""

    def __init__(self, name: str) -> None:
        self.name, self.done, self.offset = name, 0, 0

    def at(self, piece: bytes, pos: int) -> int:
        """1-based line number of byte ``pos`` of ``piece``."""
        return self.done + piece.count(b"\n", 0, pos) + 1

    def check_nul(self, piece: bytes) -> None:
        pos = piece.find(b"\x00")
        if pos >= 0:
            raise LandingFileError(
                self.name,
                f"NUL byte at byte offset {self.offset + pos}: not a text file "
                "(UTF-16 without a byte-order mark, or binary?)",
                f"line {self.at(piece, pos)}",
            )

    def advance(self, piece: bytes) -> None:
        self.done += piece.count(b"\n")
        self.offset += len(piece)

    def check_last(self, last: bytes | str | None) -> None:
        if last and last[-1:] not in (b"\n", "\n") and self.done >= 1:
            raise LandingFileError(
                self.name,
                "the last line has no line break: the file looks cut off during transfer; "
                "send it again (if it is complete, end it with a line break)",
                f"line {self.done + 1}",
            )


def prepare_text(
    path: Path, compressed: bool, encoding: str, name: str, workdir: Path
) -> TextSource:
    """A UTF-8 :class:`TextSource` for ``path``, or :class:`LandingFileError` saying why not."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    with open_binary(path, compressed) as fh:
        head = fh.read(4)
    if head.startswith(UTF16_BOMS) or encoding == "utf-16":
        if encoding not in ("auto", "utf-16"):
            raise LandingFileError(
                name,
                f"the file starts with a UTF-16 byte-order mark but its declared encoding is "
                f"{encoding}",
                "line 1",
            )
        return _transcode_utf16(path, compressed, name, workdir / "transcoded.csv")
    if encoding in ("auto", "utf-8"):
        problem = _scan_utf8(path, compressed, name, encoding)
        if problem is None:
            return TextSource(path, "utf-8", compressed)
        return _detect_legacy(path, compressed, name, workdir, problem)
    target = workdir / "transcoded.csv"
    problem = _decode_legacy(path, compressed, encoding, name, target, heuristic=False)
    if problem:
        raise LandingFileError(
            name, f"{problem.reason} (declared encoding: {encoding})", f"line {problem.line}"
        )
    return TextSource(target, encoding, False)


def _scan_utf8(path: Path, compressed: bool, name: str, declared: str) -> Problem | None:
    """None when the file is UTF-8; else where it stops being UTF-8 (raises on mixing)."""
    lines = _Lines(name)
    first_text: int | None = None
    last = b""
    with open_binary(path, compressed) as fh:
        for piece in _pieces(fh, name):
            lines.check_nul(piece)
            if not piece.isascii():
                if first_text is None:
                    first_text = lines.at(piece, _NON_ASCII.search(piece).start())
                try:
                    piece.decode("utf-8")
                except UnicodeDecodeError as exc:
                    line = lines.at(piece, exc.start)
                    reason = f"bytes not valid utf-8 at byte offset {lines.offset + exc.start}"
                    if declared == "utf-8":
                        raise LandingFileError(
                            name, f"{reason} (declared encoding: utf-8)", f"line {line}"
                        ) from None
                    if first_text < line:
                        raise LandingFileError(
                            name,
                            f"not valid utf-8 although line {first_text} is utf-8 text: the "
                            "file mixes encodings (a row saved in another encoding?); export "
                            "the whole file again in one encoding",
                            f"line {line}",
                        ) from None
                    return Problem(reason, line)
            lines.advance(piece)
            last = piece
    lines.check_last(last)
    return None


def _detect_legacy(
    path: Path, compressed: bool, name: str, workdir: Path, utf8: Problem
) -> TextSource:
    problems = [f"not utf-8 (line {utf8.line}: {utf8.reason})"]
    for encoding in AUTO_LEGACY:
        target = workdir / f"transcoded-{encoding}.csv"
        problem = _decode_legacy(path, compressed, encoding, name, target, heuristic=True)
        if problem is None:
            return TextSource(target, encoding, False)
        problems.append(f"not {encoding} (line {problem.line}: {problem.reason})")
        target.unlink(missing_ok=True)
    raise LandingFileError(
        name,
        "cannot tell the file's encoding: " + "; ".join(problems) + "; " + DECLARE_HINT,
        f"line {utf8.line}",
    )


def _decode_legacy(
    path: Path, compressed: bool, encoding: str, name: str, target: Path, heuristic: bool
) -> Problem | None:
    """Transcode to ``target``; the first problem, or None when the decoding is accepted."""
    codec = CODECS[encoding]
    lines = _Lines(name)
    stats = Plausibility(codec) if heuristic else None
    last = b""
    with open_binary(path, compressed) as fh, target.open("w", encoding="utf-8") as sink:
        for piece in _pieces(fh, name):
            lines.check_nul(piece)
            try:
                text = piece.decode(codec)
            except UnicodeDecodeError as exc:
                # Often the bytes that do not decode are a row saved as UTF-8: say so.
                _raise_on_utf8_line(piece, lines, encoding)
                at = lines.offset + exc.start
                return Problem(
                    f"bytes not valid {encoding} at byte offset {at}", lines.at(piece, exc.start)
                )
            _raise_on_utf8_line(piece, lines, encoding)
            if stats is not None:
                problem = stats.check_piece(piece, text, lines)
                if problem:
                    return problem
            sink.write(text.removeprefix("\ufeff") if lines.offset == 0 else text)
            lines.advance(piece)
            last = piece
    lines.check_last(last)
    return stats.verdict() if stats is not None else None


def _raise_on_utf8_line(piece: bytes, lines: _Lines, encoding: str) -> None:
    """Fail on a line that is UTF-8 Chinese text inside a legacy-encoded file.

    Legacy-encoded Chinese practically never forms two valid UTF-8 ideographs on a line that is
    valid UTF-8 as a whole. At most one check per line, so the cost is bounded by the lines.
    """
    pos = 0
    while match := UTF8_HAN.search(piece, pos):
        start = piece.rfind(b"\n", 0, match.start()) + 1
        end = piece.find(b"\n", match.start())
        end = len(piece) if end < 0 else end
        line = piece[start:end]
        pos = end + 1
        if len(UTF8_HAN.findall(line)) < 2:
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        raise LandingFileError(
            lines.name,
            f"this line is utf-8 text inside a {encoding} file: the file mixes encodings "
            "(a row saved in another encoding?); export the whole file again in one encoding",
            f"line {lines.at(piece, start)}",
        )


def _transcode_utf16(path: Path, compressed: bool, name: str, target: Path) -> TextSource:
    decoder = codecs.getincrementaldecoder("utf-16")(errors="strict")
    lines = _Lines(name)
    last = ""
    with open_binary(path, compressed) as fh, target.open("w", encoding="utf-8") as sink:
        while True:
            block = fh.read(_PIECE)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise LandingFileError(
                    name,
                    f"bytes not valid utf-16 near byte offset {lines.offset + exc.start}",
                    f"line {lines.done + 1}",
                ) from None
            text = text.removeprefix("\ufeff") if lines.offset == 0 else text
            sink.write(text)
            lines.done += text.count("\n")
            lines.offset += len(block)
            last = text or last
            if not block:
                break
    lines.check_last(last)
    return TextSource(target, "utf-16", False)
