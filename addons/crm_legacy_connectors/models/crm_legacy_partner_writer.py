import datetime
import io

from odoo import api, models
from odoo.tools import SQL, email_normalize

# Characters that the text format of COPY reads as escapes or separators.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Types of computed fields whose column value, read back with SQL, can be
# copied into other partners as it is.
KNOWN_VALUE_TYPES = {"char", "text", "selection", "integer", "float", "boolean"}


def _copy_boolean(value):
    return "t" if value else "f"


def _copy_text(value):
    if value is None or value is False:
        return "\\N"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return str(value).translate(COPY_ESCAPES)


class CrmLegacyPartnerWriter(models.AbstractModel):
    """Set-based creation and update of the partners of a legacy import.

    Partners are written with SQL instead of ``res.partner.create`` and
    ``write``: creating them through the ORM took 1.5 to 1.8 ms per partner
    in bench/bench_legacy.py. What the ORM
    would do for a partner without parent or children is reproduced:

    - columns with a default get the value of ``default_get``, read once per
      run (``lang``, ``active``, ``type``, ranks, warnings...);
      company-dependent defaults such as the receivable account are not
      stored, and Odoo reads them from their fallback as it does for a
      partner created without them;
    - ``commercial_partner_id`` is the partner itself, ``complete_name`` its
      name, ``email_normalized`` the first address of its e-mail,
      ``partner_share`` true, ``user_id`` and ``commercial_company_name``
      empty, as the ORM computes them for a partner without parent, company
      name or user;
    - every other stored computed field with a column (``phone_e164``,
      ``phone_sanitized``, the Peppol fields...) is computed by the ORM on
      the first partner of each distinct combination of the columns it
      depends on (phone, country, tax id...), and that partner's values are
      copied into the others with the same combination. This relies on a
      computed field depending only on the fields it declares, as the ORM's
      own recomputation does. When a dependency cannot be followed to a
      column, the ORM computes the fields of every partner;
    - crm_consent's suppression lists are applied, as its ``create`` and
      ``write`` overrides do.

    Skipped, as the ORM import skipped them with ``tracking_disable`` and
    ``mail_create_nolog``: the creation message in the chatter, followers and
    field tracking.
    """

    _name = "crm.legacy.partner.writer"
    _description = "Legacy Import Partner Writer"

    @api.model
    def _partner_defaults(self, partners):
        """Return the default column values of a new partner."""
        defaults = partners.default_get(list(partners._fields))
        column_defaults = {}
        for name, value in defaults.items():
            field = partners._fields[name]
            if (
                field.store
                and field.column_type
                and not field.company_dependent
                and not field.compute
            ):
                column_defaults[name] = value
        return column_defaults

    @api.model
    def _insert_partners(self, partners, vals_list, context):
        """Create one partner per dict of ``vals_list`` with one COPY.

        ``partners`` is an empty ``res.partner`` recordset whose environment
        is used. ``context`` is the import context, where the defaults are
        kept for the rest of the run. Returns the new partners, in the order
        of ``vals_list``.
        """
        if context.get("partner_defaults") is None:
            context["partner_defaults"] = self._partner_defaults(partners)
        defaults = context["partner_defaults"]
        ids = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    "SELECT nextval(%s) FROM generate_series(1, %s)",
                    f"{partners._table}_id_seq",
                    len(vals_list),
                )
            )
        ]
        now = self.env.cr.now()
        # The stored computed fields whose value is known for a partner
        # without parent, company name or user, and the defaults that no
        # partner of the batch overrides, are the same for every row: they
        # are formatted once.
        shared = dict(
            defaults,
            commercial_company_name=None,
            user_id=None,
            partner_share=True,
            create_uid=self.env.uid,
            write_uid=self.env.uid,
            create_date=now,
            write_date=now,
        )
        given = set().union(*vals_list)
        overridden = [name for name in given if name in defaults]
        for name in given:
            shared.pop(name, None)
        rows = []
        for partner_id, vals in zip(ids, vals_list, strict=True):
            row = {name: defaults[name] for name in overridden}
            row.update(vals)
            row.update(
                id=partner_id,
                commercial_partner_id=partner_id,
                complete_name=vals["name"],
                email_normalized=email_normalize(vals.get("email") or "", strict=False),
            )
            rows.append(row)
        columns = sorted(set().union(*rows))
        # Fields kept as attachments (the image sizes) have no column and stay
        # empty: recomputing them would search ir.attachment per partner.
        recomputed = [
            field
            for field in partners._fields.values()
            if field.store
            and field.column_type
            and field.compute
            and field.name not in columns
            and field.name not in shared
        ]
        inputs = self._recompute_inputs(partners, recomputed)
        if not recomputed:
            self._copy_rows(partners, columns, rows, shared)
        elif inputs is None:
            self._copy_rows(partners, columns, rows, shared)
            self._recompute(partners.browse(ids), recomputed)
        else:
            self._copy_with_known_values(
                partners, columns, rows, shared, recomputed, inputs, context
            )
        created = partners.browse(ids)
        created._consent_apply_suppression()
        return created

    @api.model
    def _recompute(self, partners, recomputed):
        """Compute the stored computed fields ``recomputed`` of ``partners``
        through the ORM and write them."""
        for field in recomputed:
            self.env.add_to_compute(field, partners)
        # Without tracking_disable, mail prepares tracking values per record.
        partners.with_context(tracking_disable=True).flush_recordset(
            [field.name for field in recomputed]
        )

    @api.model
    def _recompute_inputs(self, partners, recomputed):
        """Return the names of the columns that the fields ``recomputed``
        depend on, or None when they cannot be determined.

        Dependencies are followed through the fields that have no column
        (``country_code`` is ``country_id.code``) and through the recomputed
        fields themselves, down to columns of the partner. A column holding
        a related record (``country_id``) stands for the fields of that
        record that the dependency reads. Lists of other records
        (``child_ids``, ``bank_ids``) are empty on a new partner and decide
        nothing.
        """
        if any(field.type not in KNOWN_VALUE_TYPES for field in recomputed):
            return None
        names = set()
        expanded = {field.name for field in recomputed}
        todo = [path for field in recomputed for path in self._depends_of(field)]
        while todo:
            name = todo.pop().split(".", 1)[0]
            field = partners._fields.get(name)
            if field is None:
                return None
            if name in expanded or field.type in ("one2many", "many2many"):
                continue
            if field.store and field.column_type:
                names.add(name)
            elif field.compute or field.related:
                expanded.add(name)
                todo.extend(self._depends_of(field))
            else:
                return None
        return sorted(names)

    @api.model
    def _depends_of(self, field):
        return list(field.get_depends(self.env["res.partner"])[0])

    @api.model
    def _copy_with_known_values(
        self, partners, columns, rows, shared, recomputed, inputs, context
    ):
        """COPY ``rows`` with the values of the fields ``recomputed`` set.

        Partners whose ``inputs`` columns hold the same values get the same
        computed values. The first partner of each new combination of input
        values is copied alone and computed through the ORM; its values are
        kept for the run and copied into the other partners. Computing every
        partner through the ORM took a third of a first run's time.
        """
        known = context.setdefault("partner_computed_values", {})
        computed_names = tuple(field.name for field in recomputed)

        def key(row):
            return (
                computed_names,
                tuple(row.get(name, shared.get(name)) for name in inputs),
            )

        firsts = {}
        try:
            for row in rows:
                row_key = key(row)
                if row_key not in known:
                    firsts.setdefault(row_key, row)
        except TypeError:  # a value that cannot be a dict key
            self._copy_rows(partners, columns, rows, shared)
            self._recompute(partners.browse([row["id"] for row in rows]), recomputed)
            return
        if firsts:
            first_ids = [row["id"] for row in firsts.values()]
            self._copy_rows(partners, columns, list(firsts.values()), shared)
            self._recompute(partners.browse(first_ids), recomputed)
            values_by_id = {
                row[0]: dict(zip(computed_names, row[1:], strict=True))
                for row in self.env.execute_query(
                    SQL(
                        "SELECT id, %s FROM res_partner WHERE id = ANY(%s)",
                        SQL(", ").join(map(SQL.identifier, computed_names)),
                        first_ids,
                    )
                )
            }
            for row_key, row in firsts.items():
                known[row_key] = values_by_id[row["id"]]
        first_ids = {row["id"] for row in firsts.values()}
        others = [row for row in rows if row["id"] not in first_ids]
        for row in others:
            row.update(known[key(row)])
        if others:
            self._copy_rows(
                partners, sorted({*columns, *computed_names}), others, shared
            )

    @api.model
    def _copy_rows(self, model, columns, rows, shared=None):
        """Insert ``rows`` (dicts by column) into the table of ``model`` with
        ``COPY ... FROM STDIN``. ``shared`` contains the values of further
        columns that are the same for every row. ``False`` and ``None`` are
        NULL, except in boolean columns."""
        shared = shared or {}
        shared_columns = sorted(shared)
        suffix = "".join(
            "\t" + self._copy_converter(model._fields[column])(shared[column])
            for column in shared_columns
        )
        converters = [
            (column, self._copy_converter(model._fields[column])) for column in columns
        ]
        lines = [
            "\t".join([convert(row.get(column)) for column, convert in converters])
            + suffix
            for row in rows
        ]
        statement = SQL(
            "COPY %s (%s) FROM STDIN",
            SQL.identifier(model._table),
            SQL(", ").join(
                SQL.identifier(column) for column in [*columns, *shared_columns]
            ),
        )
        # COPY takes no query parameters: the statement contains identifiers only.
        self.env.cr.copy_expert(statement.code, io.StringIO("\n".join(lines) + "\n"))

    @api.model
    def _copy_converter(self, field):
        """Return the function that writes a value of ``field`` in the text
        format of COPY."""
        if field.type == "boolean":
            return _copy_boolean
        return _copy_text

    @api.model
    def _update_partners(self, partners, updates, overwrite=False):
        """Write source values onto existing partners in one statement.

        ``updates`` maps partner ids to ``{field name: value}``. A value
        fills a field that is empty on the partner. With ``overwrite``, it
        replaces a different value too. A filled tax id is copied to the
        partner's contacts, as Odoo syncs commercial fields. Returns the
        updated partners.
        """
        if not updates:
            return partners.browse()
        field_names = sorted({name for values in updates.values() for name in values})
        partner_ids = list(updates)
        arrays = []
        targets = []
        for name in field_names:
            field = partners._fields[name]
            column = SQL.identifier(name)
            source_value = SQL.identifier("source", name)
            current = SQL.identifier("partner", name)
            sql_type = SQL("int[]") if field.type == "many2one" else SQL("varchar[]")
            arrays.append(
                SQL(
                    "%s::%s",
                    [
                        updates[partner_id].get(name) or None
                        for partner_id in partner_ids
                    ],
                    sql_type,
                )
            )
            empty = (
                SQL("%s IS NULL", current)
                if field.type == "many2one"
                else SQL("COALESCE(%s, '') = ''", current)
            )
            targets.append(
                SQL(
                    "CASE WHEN %(new)s IS NOT NULL AND (%(overwrite)s OR %(empty)s) "
                    "THEN %(new)s ELSE %(current)s END AS %(column)s",
                    new=source_value,
                    overwrite=bool(overwrite),
                    empty=empty,
                    current=current,
                    column=column,
                )
            )
        columns = SQL(", ").join(SQL.identifier(name) for name in field_names)
        partners.flush_model(field_names)
        rows = self.env.execute_query(
            SQL(
                """
                WITH source AS (
                    SELECT * FROM unnest(%(ids)s::int[], %(arrays)s)
                        AS source(id, %(columns)s)
                ),
                target AS (
                    SELECT partner.id, %(targets)s
                      FROM source
                      JOIN res_partner partner ON partner.id = source.id
                )
                UPDATE res_partner partner
                   SET (%(columns)s, write_uid, write_date)
                       = (%(target_columns)s, %(uid)s, %(now)s)
                  FROM target
                 WHERE partner.id = target.id
                   AND (%(partner_columns)s) IS DISTINCT FROM (%(target_columns)s)
                RETURNING partner.id
                """,
                ids=partner_ids,
                arrays=SQL(", ").join(arrays),
                columns=columns,
                targets=SQL(", ").join(targets),
                target_columns=SQL(", ").join(
                    SQL.identifier("target", name) for name in field_names
                ),
                partner_columns=SQL(", ").join(
                    SQL.identifier("partner", name) for name in field_names
                ),
                uid=self.env.uid,
                now=self.env.cr.now(),
            )
        )
        updated = partners.browse([row[0] for row in rows])
        if not updated:
            return updated
        changed = updated
        if "vat" in field_names:
            contacts = self.env.execute_query(
                SQL(
                    """
                    UPDATE res_partner contact
                       SET vat = parent.vat, write_uid = %(uid)s, write_date = %(now)s
                      FROM res_partner parent
                     WHERE parent.id = ANY(%(ids)s)
                       AND contact.commercial_partner_id = parent.id
                       AND contact.id <> parent.id
                       AND contact.vat IS DISTINCT FROM parent.vat
                    RETURNING contact.id
                    """,
                    ids=updated.ids,
                    uid=self.env.uid,
                    now=self.env.cr.now(),
                )
            )
            changed |= partners.browse([row[0] for row in contacts])
        # Recompute what depends on the written columns (email_normalized,
        # phone_e164, phone_sanitized...) through the ORM's dependency graph.
        changed.invalidate_recordset([*field_names, "write_uid", "write_date"])
        changed.modified(field_names)
        changed.flush_recordset()
        self.env.flush_all()
        updated._consent_apply_suppression()
        return updated
