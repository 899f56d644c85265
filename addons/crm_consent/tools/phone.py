import phonenumbers


def normalize_phone(number, country_code=None, fallback_country_code=None):
    """Return ``number`` in E.164 form (``+525512345678``), or None.

    A number written without its international prefix is read as a number of
    ``country_code`` (ISO 3166 alpha-2), then of ``fallback_country_code``.
    Numbers that phonenumbers cannot parse or does not consider possible for
    the region return None, so callers never store a guess.
    """
    if not number or not isinstance(number, str):
        return None
    for region in (country_code, fallback_country_code, None):
        if region is None and not number.strip().startswith("+"):
            continue
        try:
            parsed = phonenumbers.parse(number, region.upper() if region else None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
    return None
