"""Tax id normalisation with python-stdnum, per country."""

import contextlib
import re

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError

# Modules tried per country, most common identifier first. Countries not
# listed use stdnum's ``vat`` module for the country, when it has one.
TAX_ID_MODULES = {
    "ar": ("cuit",),
    "br": ("cpf", "cnpj"),
    "cl": ("rut",),
    "co": ("nit",),
    "ec": ("ruc", "ci"),
    "es": ("nif",),
    "mx": ("rfc",),
    "pe": ("ruc", "cui"),
    "uy": ("rut",),
    "ve": ("rif",),
}

# Tax ids that pass the checksum but that shops type for "any customer".
# Merging customers on them would join strangers.
PLACEHOLDER_TAX_IDS = {
    "mx": {"XAXX010101000", "XEXX010101000"},  # RFC "público en general"
    "cl": {"666666666", "555555555", "111111111"},
    "co": {"222222222222"},  # NIT "consumidor final"
}


class TaxIdError(ValueError):
    """Raised for a tax id that is invalid for its country."""


def _uruguay_rut(number):
    """Validate a Uruguay RUT, accepting the ``22`` prefix.

    python-stdnum 1.19 rejects RUTs that start with ``22``, a prefix the
    Uruguayan tax office (DGI) issues; python-stdnum 2.1 accepts it. The
    other checks are stdnum's own.
    """
    from stdnum.uy import rut

    compact = rut.compact(number)
    if compact.startswith("22") and len(compact) == 12 and compact.isdigit():
        patched = "21" + compact[2:]
        try:
            # The patched prefix changes the check digit, which is verified
            # on the real number below.
            with contextlib.suppress(rut.InvalidChecksum):
                rut.validate(patched)
        except ValidationError as error:
            raise TaxIdError(number) from error
        if compact[-1] != rut.calc_check_digit(compact):
            raise TaxIdError(number)
        return compact
    try:
        return rut.validate(compact)
    except ValidationError as error:
        raise TaxIdError(number) from error


def _modules(country_code):
    country_code = (country_code or "").lower()
    names = TAX_ID_MODULES.get(country_code, ("vat",))
    modules = []
    for name in names:
        module = get_cc_module(country_code, name) if country_code else None
        if module:
            modules.append(module)
    return modules


def normalize_tax_id(value, country_code):
    """Return ``(compact, module)`` for a tax id written in any notation.

    ``compact`` has no punctuation (``20-12345678-6`` gives ``20123456786``).
    Raises ``TaxIdError`` when no identifier of the country accepts the value.
    A country stdnum does not know keeps the value without punctuation.
    """
    text = str(value or "").strip()
    if not text:
        return None, None
    country_code = (country_code or "").lower()
    if country_code == "uy":
        from stdnum.uy import rut

        return _uruguay_rut(text), rut
    modules = _modules(country_code)
    if not modules:
        compact = re.sub(r"[^0-9A-Za-z]", "", text).upper()
        if not compact:
            raise TaxIdError(value)
        return compact, None
    for module in modules:
        try:
            return module.validate(text), module
        except ValidationError:
            continue
    raise TaxIdError(value)


def format_tax_id(compact, module):
    """Return the tax id in its local notation (``12.345.613-0`` in Chile)."""
    if module and hasattr(module, "format"):
        try:
            return module.format(compact)
        except (ValidationError, ValueError, IndexError):
            return compact
    return compact


def is_placeholder_tax_id(compact, country_code):
    """Return True for a tax id that is valid but used for unknown customers.

    A number made of one repeated digit (``111.111.111-11`` in Brazil) is a
    placeholder in every country; some countries have named ones too.
    """
    if not compact:
        return False
    digits = re.sub(r"\D", "", compact)
    if len(digits) >= 6 and len(set(digits[:-1])) == 1:
        return True
    return compact.upper() in PLACEHOLDER_TAX_IDS.get((country_code or "").lower(), ())
