"""Bad variants of a signed public-link token, shared by the tests of the
public pages of crm_consent and crm_campaign_automation.

A token is dot-separated decimal fields followed by a hexadecimal
signature (``<expiry>.<signature>`` or ``<trace id>.<expiry>.<signature>``).
The variants are what a guessing visitor, a broken mail client or a
mistyped link produce. They have one character changed, are cut, extended
or upper case, or have digits or text that are not ASCII, numbers past what
``int()`` parses, extra or missing fields, or are random text.
"""

import string

# Characters that str.isdigit() accepts but that are not ASCII digits, and
# characters outside ASCII that hmac.compare_digest() refuses in a str.
UNICODE_DIGITS = "²³¹٣٤۵߁०১੨૩୪௫౬೭൮๙໐༢၃႕០᠑"
NON_ASCII = "éñüçÀ€\u200b\u00a0😀ß"
HEX = "0123456789abcdef"
GARBAGE_ALPHABET = (
    string.ascii_letters
    + string.digits
    + "-_.~!*'();:@&=+$,%"
    + (UNICODE_DIGITS + NON_ASCII)
)


def _flip(rng, text, alphabet=HEX):
    if not text:
        return rng.choice(alphabet)
    position = rng.randrange(len(text))
    replacement = rng.choice([char for char in alphabet if char != text[position]])
    return text[:position] + replacement + text[position + 1 :]


def mutations(rng, token):
    """Return one bad variant of ``token`` of each kind; a token without
    dots (a bare signature) gets only the kinds that change its signature."""
    fields = token.split(".")
    numbers, signature = fields[:-1], fields[-1]
    index = rng.randrange(len(numbers)) if numbers else 0

    def with_number(value):
        changed = list(numbers)
        changed[index] = value
        return ".".join([*changed, signature])

    number_variants = []
    if numbers:
        number_variants = [
            # A number written with digits that are not ASCII.
            with_number(
                "".join(rng.choice(UNICODE_DIGITS) for _char in numbers[index] or "1")
            ),
            # A number past int()'s default limit of 4,300 digits, or just long.
            with_number("9" * rng.choice([19, 40, 4301, 5000])),
            # Leading zeros, signs and spaces around a number.
            with_number(
                rng.choice(["0", "+", "-", " ", "\t"]) + (numbers[index] or "1")
            ),
        ]
    return number_variants + [
        # One hexadecimal character of the signature changed.
        ".".join([*numbers, _flip(rng, signature)]),
        # Cut anywhere, or extended by one character.
        token[: rng.randrange(len(token))],
        token + rng.choice(HEX + "."),
        # Upper-case signature: same value, other spelling.
        ".".join([*numbers, signature.upper()]),
        # One character of the signature replaced by text that is not ASCII.
        ".".join([*numbers, _flip(rng, signature, NON_ASCII)]),
        # Trailing whitespace or a newline.
        token + rng.choice([" ", "\n", "\r\n", "%0A", "\x00"]),
        # Fields added or dropped.
        ".".join([*numbers, "1", signature]),
        ".".join(fields[1:]) or signature[1:],
        # Random text.
        "".join(rng.choice(GARBAGE_ALPHABET) for _char in range(rng.randint(1, 80))),
    ]


def bad_tokens(rng, token, count):
    """Return ``count`` bad variants of ``token``, none equal to it."""
    variants = []
    while len(variants) < count:
        variants.extend(
            variant for variant in mutations(rng, token) if variant != token
        )
    return variants[:count]
