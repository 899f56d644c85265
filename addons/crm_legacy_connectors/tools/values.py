"""Parsers for the text values found in legacy exports.

Each parser raises ``ValueError`` on a value it cannot read, so the caller can
reject the row with the column and the value instead of guessing.
"""

import csv
import datetime
import functools
import re
from decimal import Decimal, InvalidOperation

# Encodings tried in order when the source does not set one. UTF-8 is strict,
# so a cp1252 byte such as 0xF1 (ñ) fails it. cp1252 leaves five bytes
# undefined, so latin-1, which maps every byte, is the last resort.
DETECTED_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DETECTED_DELIMITERS = (";", ",", "\t", "|")
WHITESPACE_DELIMITER = "whitespace"


def decode_bytes(data, encoding=None):
    """Return ``(text, encoding)`` for the bytes of a file.

    With ``encoding`` set, decoding errors raise ``UnicodeDecodeError``.
    """
    if encoding:
        return data.decode(encoding), encoding
    for candidate in DETECTED_ENCODINGS:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    # latin-1 decodes every byte, so this line is never reached.
    raise UnicodeDecodeError("latin-1", data, 0, 1, "undecodable")


def detect_delimiter(header_line):
    """Return the delimiter that occurs most often in the header line.

    Only the header is read because data rows often hold the other
    candidates inside values (``Iñigo Núñez, Logroño`` in a ``;`` file).
    A header without any candidate is split on whitespace.
    """
    counts = {sep: header_line.count(sep) for sep in DETECTED_DELIMITERS}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    if len(header_line.split()) > 1:
        return WHITESPACE_DELIMITER
    return ","


def split_lines(text, delimiter):
    """Yield the fields of each non-blank line of ``text``."""
    if delimiter == WHITESPACE_DELIMITER:
        for line in text.splitlines():
            if line.strip():
                yield line.split()
        return
    for fields in csv.reader(text.splitlines(), delimiter=delimiter):
        if any(value.strip() for value in fields):
            yield fields


def parse_amount(value, decimal_separator=",", thousands_separator="."):
    """Return the ``Decimal`` written in ``value`` with the given separators.

    Thousands separators must group digits by three (``1.234,56``), so with
    Spanish separators ``11.77`` is rejected instead of read as 1177. Spaces
    of any width (``1 234,56`` with a space, a no-break space or a narrow
    no-break space) also group by three. A minus sign, before or after the
    number, and accounting parentheses make the amount negative. NaN,
    infinities and amounts of ``MAX_AMOUNT`` or more are rejected.
    """
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _checked_amount(Decimal(str(value)), value)
    if isinstance(value, str):
        return _parse_amount_text(value, decimal_separator, thousands_separator)
    return _parse_amount_text(str(value or ""), decimal_separator, thousands_separator)


# Purchase files repeat the same amounts (CDNOW: 8,209 distinct amounts in
# 69,659 rows), and a Decimal cannot be changed by the caller.
@functools.lru_cache(maxsize=16384)
def _parse_amount_text(value, decimal_separator, thousands_separator):
    text = value.strip()
    if any(char.isspace() for char in text):
        text = _group_spaces(text)
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text.startswith("-"):
        negative, text = True, text[1:]
    elif text.endswith("-"):
        negative, text = True, text[:-1]
    elif text.startswith("+"):
        text = text[1:]
    match = _amount_pattern(decimal_separator, thousands_separator).fullmatch(text)
    if not match:
        raise ValueError(value)
    digits = match.group(1)
    if thousands_separator:
        digits = digits.replace(thousands_separator, "")
    if match.group(2):
        digits += "." + match.group(2)
    try:
        amount = Decimal(digits)
    except InvalidOperation as error:
        raise ValueError(value) from error
    return _checked_amount(-amount if negative else amount, value)


# Amounts are stored as floats and rounded to the cent, which stays exact up
# to about 15 significant digits: from 10**12 on, 999999999999.99 could be
# stored as a round trillion.
MAX_AMOUNT = Decimal(10) ** 12


def _checked_amount(amount, value):
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ValueError(value)
    return amount


def _group_spaces(text):
    """Return ``text`` without the spaces that group its digits by three.

    Any other space inside the number is kept, so the value is rejected.
    """
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", "", text)
    # Spaces between the number and its sign or parentheses: "- 5", "( 5 )".
    return re.sub(r"(?<=^[-+(]) | (?=[-)]$)", "", text)


@functools.lru_cache(maxsize=64)
def _amount_pattern(decimal_separator, thousands_separator):
    """Return the compiled pattern of an amount with these separators."""
    dec = re.escape(decimal_separator or ".")
    if thousands_separator:
        thousands = re.escape(thousands_separator)
        integer = rf"(?:\d{{1,3}}(?:{thousands}\d{{3}})+|\d+)"
    else:
        integer = r"\d+"
    return re.compile(rf"({integer})(?:{dec}(\d+))?")


def parse_date(value, date_format="%d/%m/%Y"):
    """Return the ``datetime.date`` written in ``value`` with ``date_format``.

    The value may also be written without the separators of the format
    (``15042024`` for ``%d/%m/%Y``), in the same order. No other order is
    tried, so a file is never read half day-first and half month-first.
    """
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValueError(value)
    return _parse_date_text(text, date_format)


# Legacy files repeat the same few thousand dates over millions of rows, and
# strptime costs about as much as the rest of a row's parsing.
@functools.lru_cache(maxsize=4096)
def _parse_date_text(text, date_format):
    formats = [date_format]
    compact_format = re.sub(r"[^%A-Za-z]", "", date_format)
    # Without separators, only zero-padded values are read: 1042024 could be
    # 1 April or 10 April.
    if (
        compact_format != date_format
        and text.isdigit()
        and len(text) == _compact_width(compact_format)
    ):
        formats.append(compact_format)
    for fmt in formats:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    # Datetime values read with a date format: keep the date part only when
    # the rest is a time (Odoo and SQL exports write "2024-04-03 10:00:00").
    head, _sep, tail = text.partition(" ")
    if tail and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", tail):
        return parse_date(head, date_format)
    raise ValueError(text)


def _compact_width(compact_format):
    """Return the number of digits of a zero-padded date in ``compact_format``
    (``%d%m%Y``), or 0 when the format has a directive that is not a number."""
    widths = {"d": 2, "m": 2, "y": 2, "Y": 4, "H": 2, "M": 2, "S": 2, "j": 3}
    directives = re.findall(r"%(.)", compact_format)
    if any(directive not in widths for directive in directives):
        return 0
    return sum(widths[directive] for directive in directives)
