"""Check the Selection and Integer values sent to create() and write().

Odoo converts such values late and rejects a wrong one with a server error
in English that names the field by its technical name. These checks run
first and raise a translated UserError naming the field's label, the value
and the accepted values.
"""

from odoo.exceptions import UserError

# Characters of a rejected value quoted in an error message.
MAX_QUOTED = 200


def _quote(value):
    text = repr(value)
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"


def _is_integer(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        try:
            int(value.strip())
        except ValueError:
            return False
        return True
    return False


def check_field_values(records, vals):
    """Raise a UserError when a Selection or Integer value of ``vals`` cannot
    be stored in the fields of ``records``' model.

    Integers written as text, such as "1000", are accepted as Odoo does.
    """
    env = records.env
    for name, value in vals.items():
        field = records._fields.get(name)
        if field is None or value is None or value is False:
            continue
        if field.type == "selection":
            accepted = field._description_selection(env)
            if value == "" or value in [key for key, _label in accepted]:
                continue
            raise UserError(
                env._(
                    "%(value)s is not a valid value for the field %(field)s. "
                    "Accepted values: %(accepted)s.",
                    value=_quote(value),
                    field=field._description_string(env),
                    accepted=", ".join(f"{key} ({label})" for key, label in accepted),
                )
            )
        if field.type == "integer" and not _is_integer(value):
            raise UserError(
                env._(
                    "%(value)s is not a valid value for the field %(field)s: "
                    "enter a whole number, such as 1000.",
                    value=_quote(value),
                    field=field._description_string(env),
                )
            )
