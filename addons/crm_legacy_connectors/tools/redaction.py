"""Masking of connection secrets in error messages and log lines.

Drivers and URLs can echo part of a connection string back in an error: an
invalid libpq DSN names the word after the one it could not parse, and an
XML-RPC protocol error names the URL with its ``user:password@`` part. Every
message built from such an error goes through ``redact`` before it is logged
or stored on a run, which users without access to the secrets can read.
"""

import re
from urllib.parse import parse_qs, unquote, urlparse

MASK = "********"

# Shortest whitespace-separated piece of a password that is masked on its own,
# so that a password with spaces stays hidden when a parser quotes one word.
MIN_PIECE_LENGTH = 4

# A quoted value, or everything up to the next "keyword=": an unquoted
# password with a space is a libpq syntax error whose message quotes the word
# after the space.
_KEYWORD_PASSWORD = re.compile(
    r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'?|.*?(?=\s+\w+\s*=|\s*$))",
    re.IGNORECASE,
)


def _url_passwords(text):
    """Return the passwords of ``text`` read as a URL: user info and query."""
    try:
        parsed = urlparse(text)
        found = [parsed.password] if parsed.password else []
        found += parse_qs(parsed.query).get("password", [])
    except ValueError:
        return []
    return found


def _dsn_passwords(dsn):
    """Return the passwords written in a libpq key/value string or a URI."""
    found = _url_passwords(dsn)
    for match in _KEYWORD_PASSWORD.finditer(dsn):
        value = match.group(1)
        found.append(value)
        if value.startswith("'"):
            found.append(value.strip("'").replace("\\'", "'").replace("\\\\", "\\"))
    return found


def secret_values(dsn=None, url=None, password=None):
    """Return the strings to mask for a source's connection settings.

    The whole DSN counts as secret, together with the passwords found in it,
    in the URL and in ``password``. Each password is also masked URL-decoded
    and as its whitespace-separated pieces of at least ``MIN_PIECE_LENGTH``
    characters.
    """
    passwords = [password] if password else []
    if dsn:
        passwords += _dsn_passwords(dsn)
    if url:
        passwords += _url_passwords(url)
    values = {dsn} if dsn else set()
    for candidate in passwords:
        for text in (candidate, unquote(candidate)):
            values.add(text)
            values.update(
                piece for piece in text.split() if len(piece) >= MIN_PIECE_LENGTH
            )
    values.discard("")
    # Longest first, so that a password inside the DSN is masked with the DSN.
    return sorted(values, key=len, reverse=True)


def redact(text, secrets):
    """Return ``text`` with every string of ``secrets`` replaced by ``MASK``."""
    text = str(text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
