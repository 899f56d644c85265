"""A corpus of malformed CSV and XLSX files, run through real imports.

Every case is a file built here byte by byte and the source settings it is
read with. Each test checks what a user relies on after the run: the run's
state and counts, the rejected rows with their row, column, value and
reason, the rows kept, and nothing half-written. A file-level error leaves only the failed run and
its message: no customer, link, ledger row, consent event or rejected row.
"""

import csv
import datetime
import io
import os
import sqlite3
import tempfile
import zipfile

from odoo.tests import tagged

from ..tools.readers import SourceError, read_delimited
from .common import LegacyCase

HEADER = ["id", "nombre", "fecha", "importe"]
MAPPING = {
    "id": "partner_ref",
    "nombre": "partner_name",
    "fecha": "txn_date",
    "importe": "txn_amount",
}
GOOD = ["1", "Iñigo Núñez", "03/04/2024", "1.234,56"]


def delimited(rows, delimiter=";", encoding="utf-8", newline="\n", header=HEADER):
    """Return the bytes of a delimited file of ``rows`` after ``header``."""
    lines = ([delimiter.join(header)] if header else []) + [
        delimiter.join(row) for row in rows
    ]
    return (newline.join(lines) + newline).encode(encoding)


def workbook(rows, header=HEADER, formulas_saved=False):
    """Return the bytes of an XLSX workbook whose first sheet contains ``rows``.

    openpyxl saves formulas without their results; ``formulas_saved`` fills
    in the result 6 of every formula, as a spreadsheet program would.
    """
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    if header:
        sheet.append(header)
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    book.save(stream)
    if not formulas_saved:
        return stream.getvalue()
    source = zipfile.ZipFile(io.BytesIO(stream.getvalue()))
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w") as result:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<v></v>", b"<v>6</v>").replace(
                    b"<v />", b"<v>6</v>"
                )
            result.writestr(item, data)
    return target.getvalue()


def zip_without_workbook():
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("clientes.csv", "id;nombre\n1;Ana\n")
    return stream.getvalue()


def case(content, kept=(), rejected=(), failed=None, **expect):
    """Describe one corpus case.

    ``kept``: external keys of the rows that must be imported.
    ``rejected``: ``(row, column, value, fragment of the reason)`` tuples.
    ``failed``: fragment of the failed run's message (nothing is written).
    ``expect`` may hold ``source`` (source values), ``mapping``, ``kind``,
    ``names`` ({key: customer name}), ``amounts`` ({key: amount}),
    ``dates`` ({key: date}), ``message`` (a done run's message), and
    ``consents`` (keys of the rows whose customer gets a consent event).
    """
    return {
        "content": content,
        "kept": set(kept),
        "rejected": list(rejected),
        "failed": failed,
        **expect,
    }


ENGLISH = {"decimal_separator": ".", "thousands_separator": ","}

CASES = {
    # ---- Encodings -----------------------------------------------------
    "utf8": case(delimited([GOOD]), kept=["1"], names={"1": "Iñigo Núñez"}),
    "utf8_bom_detected": case(
        b"\xef\xbb\xbf" + delimited([GOOD]), kept=["1"], names={"1": "Iñigo Núñez"}
    ),
    "utf8_bom_chosen_utf8": case(
        b"\xef\xbb\xbf" + delimited([GOOD]),
        kept=["1"],
        names={"1": "Iñigo Núñez"},
        source={"encoding": "utf-8"},
    ),
    "utf8_bom_chosen_cp1252": case(
        b"\xef\xbb\xbf" + delimited([GOOD]),
        kept=["1"],
        names={"1": "Iñigo Núñez"},
        source={"encoding": "cp1252"},
    ),
    "utf16le_bom": case(
        b"\xff\xfe"
        + delimited([["1", "Begoña Sáez €", "03/04/2024", "5"]], encoding="utf-16-le"),
        kept=["1"],
        names={"1": "Begoña Sáez €"},
    ),
    "utf16be_bom": case(
        b"\xfe\xff"
        + delimited(
            [["1", "Begoña Sáez €", "03/04/2024", "5"]],
            encoding="utf-16-be",
            newline="\r\n",
        ),
        kept=["1"],
        names={"1": "Begoña Sáez €"},
    ),
    "utf16_without_bom": case(
        delimited([GOOD], encoding="utf-16-le"),
        failed="line 1 contains a NUL character",
    ),
    "cp1252_detected": case(
        delimited([["1", "Peña € Ángel á", "03/04/2024", "5"]], encoding="cp1252"),
        kept=["1"],
        names={"1": "Peña € Ángel á"},
    ),
    "latin1_chosen": case(
        delimited([["1", "Muñoz Álvarez", "03/04/2024", "5"]], encoding="latin-1"),
        kept=["1"],
        names={"1": "Muñoz Álvarez"},
        source={"encoding": "latin-1"},
    ),
    "cp1252_bytes_chosen_utf8": case(
        delimited(
            [["1", "Ana", "03/04/2024", "5"], ["2", "Iñigo €", "03/04/2024", "5"]],
            encoding="cp1252",
        ),
        failed="line 3 is not UTF-8 text (byte 0xF1)",
        source={"encoding": "utf-8"},
    ),
    "nul_byte": case(
        delimited([GOOD, ["2", "Ana\x00", "03/04/2024", "5"]]),
        failed="line 3 contains a NUL character",
    ),
    "crlf": case(
        delimited([GOOD, ["2", "Ana", "03/04/2024", "5"]], newline="\r\n"),
        kept=["1", "2"],
        names={"2": "Ana"},
    ),
    "cr_only": case(
        delimited([GOOD, ["2", "Ana", "03/04/2024", "5"]], newline="\r"),
        kept=["1", "2"],
        names={"2": "Ana"},
    ),
    "mixed_line_endings": case(
        b"id;nombre;fecha;importe\r\n1;Ana;03/04/2024;5\r2;Luis;03/04/2024;5\n"
        b"3;Eva;03/04/2024;5",
        kept=["1", "2", "3"],
        names={"3": "Eva"},
    ),
    # ---- Delimiters ------------------------------------------------------
    "comma": case(
        delimited([["1", "Ana", "03/04/2024", "1234,56"]], delimiter=","),
        rejected=[(1, False, False, "Row 1 has 5 columns, the header has 4.")],
    ),
    "comma_quoted_decimal": case(
        b'id,nombre,fecha,importe\n1,"Gil, Ana",03/04/2024,"1.234,56"\n',
        kept=["1"],
        names={"1": "Gil, Ana"},
        amounts={"1": 1234.56},
    ),
    "tab": case(delimited([GOOD], delimiter="\t"), kept=["1"]),
    "pipe": case(delimited([GOOD], delimiter="|"), kept=["1"]),
    "whitespace_cdnow": case(
        b"id fecha unidades importe\n00001 19970101  1   11.77\n"
        b"00002   19970112 2  12.00\n",
        kept=["00001", "00002"],
        amounts={"00001": 11.77, "00002": 12.0},
        dates={"00002": datetime.date(1997, 1, 12)},
        mapping={"id": "partner_ref", "fecha": "txn_date", "importe": "txn_amount"},
        source={
            "date_format": "%Y%m%d",
            "decimal_separator": ".",
            "thousands_separator": False,
        },
    ),
    "chosen_delimiter_wrong": case(
        delimited([GOOD], delimiter=","),
        failed="Columns id, nombre, fecha, importe of the mapping are not in the "
        "source, which has id,nombre,fecha,importe.",
        source={"delimiter": ";"},
    ),
    "field_count": case(
        delimited(
            [
                GOOD,
                ["2", "Ana", "03/04/2024", "5", "extra"],
                ["3", "Luis"],
                ["4", "Eva", "03/04/2024", "5"],
            ]
        ),
        kept=["1", "4"],
        rejected=[
            (2, False, False, "Row 2 has 5 columns, the header has 4."),
            (3, False, False, "Row 3 has 2 columns, the header has 4."),
        ],
    ),
    "unclosed_quote": case(
        b'id;nombre;fecha;importe\n1;Ana;03/04/2024;5\n2;"Luis;03/04/2024;5\n'
        b"3;Eva;03/04/2024;5\n",
        failed="the quote opened on line 3 is never closed",
    ),
    "quote_then_text": case(
        b'id;nombre;fecha;importe\n1;Ana;03/04/2024;5\n2;"Luis" Gil;03/04/2024;5\n'
        b"3;Eva;03/04/2024;5\n",
        kept=["1", "3"],
        rejected=[(2, False, False, "Row 2 (line 3): a closing quote is followed")],
    ),
    "quoted_delimiter_and_newline": case(
        b'id;nombre;fecha;importe\n1;"Gil; Ana\r\nsegunda l\xc3\xadnea";03/04/2024;5\n'
        b'2;"Dice ""hola""";03/04/2024;5\n',
        kept=["1", "2"],
        names={"1": "Gil; Ana\r\nsegunda línea", "2": 'Dice "hola"'},
    ),
    # ---- Dates (format %d/%m/%Y unless set) --------------------------
    "dates_month_first": case(
        delimited([["1", "Ana", "12/31/2024", "5"], ["2", "Luis", "03/04/2024", "5"]]),
        kept=["2"],
        dates={"2": datetime.date(2024, 4, 3)},
        rejected=[
            (
                1,
                "fecha",
                "12/31/2024",
                "Row 1, column fecha: invalid date 12/31/2024 (expected format "
                "%d/%m/%Y).",
            )
        ],
    ),
    "dates_month_first_format": case(
        delimited([["1", "Ana", "12/31/2024", "5"], ["2", "Luis", "31/12/2024", "5"]]),
        kept=["1"],
        dates={"1": datetime.date(2024, 12, 31)},
        rejected=[(2, "fecha", "31/12/2024", "expected format %m/%d/%Y")],
        source={"date_format": "%m/%d/%Y"},
    ),
    "dates_iso_with_time_and_zone": case(
        delimited(
            [
                ["1", "Ana", "2024-04-03T10:00:00+02:00", "5"],
                ["2", "Luis", "2024-04-03 10:00:00", "5"],
                ["3", "Eva", "2024-04-03", "5"],
            ]
        ),
        kept=["2", "3"],
        dates={"2": datetime.date(2024, 4, 3)},
        rejected=[(1, "fecha", "2024-04-03T10:00:00+02:00", "invalid date")],
        source={"date_format": "%Y-%m-%d"},
    ),
    "dates_compact": case(
        delimited(
            [
                ["1", "Ana", "20240403", "5"],
                ["2", "Luis", "03042024", "5"],
                ["3", "Eva", "3042024", "5"],
            ]
        ),
        kept=["2"],
        dates={"2": datetime.date(2024, 4, 3)},
        rejected=[
            (1, "fecha", "20240403", "invalid date 20240403"),
            (3, "fecha", "3042024", "invalid date 3042024"),
        ],
    ),
    "dates_compact_chosen": case(
        delimited([["1", "Ana", "20240403", "5"], ["2", "Luis", "03/04/2024", "5"]]),
        kept=["1"],
        dates={"1": datetime.date(2024, 4, 3)},
        rejected=[(2, "fecha", "03/04/2024", "expected format %Y%m%d")],
        source={"date_format": "%Y%m%d"},
    ),
    "dates_two_digit_year": case(
        delimited([["1", "Ana", "03/04/24", "5"]]),
        rejected=[(1, "fecha", "03/04/24", "invalid date 03/04/24")],
    ),
    "dates_two_digit_year_chosen": case(
        delimited([["1", "Ana", "03/04/24", "5"], ["2", "Luis", "03/04/2024", "5"]]),
        kept=["1"],
        dates={"1": datetime.date(2024, 4, 3)},
        rejected=[(2, "fecha", "03/04/2024", "expected format %d/%m/%y")],
        source={"date_format": "%d/%m/%y"},
    ),
    "dates_impossible": case(
        delimited([["1", "Ana", "31/02/2024", "5"], ["2", "Luis", "29/02/2024", "5"]]),
        kept=["2"],
        dates={"2": datetime.date(2024, 2, 29)},
        rejected=[(1, "fecha", "31/02/2024", "invalid date 31/02/2024")],
    ),
    "dates_empty": case(
        delimited([["1", "Ana", "", "5"], ["2", "Luis", "", ""]]),
        kept=["2"],
        rejected=[(1, "fecha", "", "Row 1 has an amount but no date.")],
    ),
    "dates_excel_serial_in_text": case(
        delimited([["1", "Ana", "45385", "5"]]),
        rejected=[(1, "fecha", "45385", "invalid date 45385")],
    ),
    # ---- Numbers (decimal "," and thousands "." unless set) -----------
    "numbers_spanish": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "1.234,56"],
                ["2", "Luis", "03/04/2024", "1,234.56"],
                ["3", "Eva", "03/04/2024", "11.77"],
            ]
        ),
        kept=["1"],
        amounts={"1": 1234.56},
        rejected=[
            (
                2,
                "importe",
                "1,234.56",
                "Row 2, column importe: invalid amount 1,234.56 (decimal separator "
                ",, thousands separator .).",
            ),
            (3, "importe", "11.77", "invalid amount 11.77"),
        ],
    ),
    "numbers_english": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "1,234.56"],
                ["2", "Luis", "03/04/2024", "1.234,56"],
            ]
        ),
        kept=["1"],
        amounts={"1": 1234.56},
        rejected=[(2, "importe", "1.234,56", "decimal separator ., thousands")],
        source=ENGLISH,
    ),
    "numbers_spaces": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "1 234,56"],
                ["2", "Luis", "03/04/2024", "1\u00a0234,56"],
                ["3", "Eva", "03/04/2024", "1\u202f234\u202f567,5"],
                ["4", "Gema", "03/04/2024", "12 34"],
            ]
        ),
        kept=["1", "2", "3"],
        amounts={"1": 1234.56, "2": 1234.56, "3": 1234567.5},
        rejected=[(4, "importe", "12 34", "invalid amount 12 34")],
    ),
    "numbers_negative": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "-5"],
                ["2", "Luis", "03/04/2024", "(5,00)"],
                ["3", "Eva", "03/04/2024", "5-"],
                ["4", "Gema", "03/04/2024", "--5"],
            ]
        ),
        kept=["1", "2", "3"],
        amounts={"1": -5.0, "2": -5.0, "3": -5.0},
        rejected=[(4, "importe", "--5", "invalid amount --5")],
    ),
    "numbers_currency_symbols": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "€ 5"],
                ["2", "Luis", "03/04/2024", "5 €"],
                ["3", "Eva", "03/04/2024", "$5"],
                ["4", "Gema", "03/04/2024", "5 EUR"],
            ]
        ),
        rejected=[
            (1, "importe", "€ 5", "invalid amount € 5"),
            (2, "importe", "5 €", "invalid amount 5 €"),
            (3, "importe", "$5", "invalid amount $5"),
            (4, "importe", "5 EUR", "invalid amount 5 EUR"),
        ],
    ),
    "numbers_not_finite_or_scientific": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "1,5E3"],
                ["2", "Luis", "03/04/2024", "NaN"],
                ["3", "Eva", "03/04/2024", "inf"],
                ["4", "Gema", "03/04/2024", "-Infinity"],
            ]
        ),
        rejected=[
            (1, "importe", "1,5E3", "invalid amount 1,5E3"),
            (2, "importe", "NaN", "invalid amount NaN"),
            (3, "importe", "inf", "invalid amount inf"),
            (4, "importe", "-Infinity", "invalid amount -Infinity"),
        ],
    ),
    "numbers_too_large": case(
        delimited(
            [
                ["1", "Ana", "03/04/2024", "9" * 400],
                ["2", "Luis", "03/04/2024", "1.000.000.000.000"],
                ["3", "Eva", "03/04/2024", "999.999.999.999,99"],
            ]
        ),
        kept=["3"],
        amounts={"3": 999999999999.99},
        rejected=[
            (1, "importe", "9" * 400, "invalid amount 999"),
            (2, "importe", "1.000.000.000.000", "invalid amount 1.000.000.000.000"),
        ],
    ),
    # ---- Huge inputs -------------------------------------------------
    # Odoo 18's server (odoo/cli/server.py) sets the csv module's field limit
    # to 500 MiB, so a field of
    # 200,000 characters (over Python's default of 131,072) is read whole;
    # TestBadInputOutcomes checks the message when the limit is reached.
    "field_over_python_csv_limit": case(
        delimited([GOOD, ["2", "x" * 200_000, "03/04/2024", "5"]]),
        kept=["1", "2"],
        names={"2": "x" * 200_000},
    ),
    "long_line": case(
        delimited([["1", "Ana " + "a" * 100_000, "03/04/2024", "5"]]),
        kept=["1"],
        names={"1": "Ana " + "a" * 100_000},
    ),
    "many_columns": case(
        delimited(
            [GOOD + [str(index) for index in range(5000)]],
            header=HEADER + [f"c{index}" for index in range(5000)],
        ),
        kept=["1"],
    ),
    "many_columns_missing_mapped": case(
        delimited([["1"] * 5000], header=[f"c{index}" for index in range(5000)]),
        failed="which has c0, c1, c2,",
    ),
    # ---- Empty inputs ------------------------------------------------
    # An empty upload stores no file at all.
    "zero_bytes": case(b"", failed="has no file to read"),
    "bom_only": case(b"\xef\xbb\xbf", failed="the file is empty"),
    "utf16_bom_only": case(b"\xff\xfe", failed="the file is empty"),
    "blank_lines_only": case(b"\n\r\n  \n;;;\n", failed="the file is empty"),
    "header_only": case(
        delimited([]), message="The source has no data rows, so nothing was imported."
    ),
    "header_only_missing_mapped_column": case(
        b"id;nombre;importe\n",
        failed="Columns fecha of the mapping are not in the source, which has id, "
        "nombre, importe.",
    ),
    "header_only_repeated_mapped_column": case(
        b"id;nombre;fecha;importe;nombre\n",
        failed="Columns nombre of the mapping appear more than once",
    ),
    "no_header_option": case(
        delimited([GOOD], header=None),
        kept=["1"],
        mapping={
            "1": "partner_ref",
            "2": "partner_name",
            "3": "txn_date",
            "4": "txn_amount",
        },
        source={"has_header": False},
        rejected=[],
        message=False,
    ),
    # ---- XLSX --------------------------------------------------------
    "xlsx_not_a_zip": case(
        delimited([GOOD]), kind="xlsx", failed="it is not a zip archive"
    ),
    "xlsx_zip_not_workbook": case(
        zip_without_workbook(),
        kind="xlsx",
        failed="the file is a zip archive but not an XLSX workbook",
    ),
    "xlsx_old_xls": case(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
        kind="xlsx",
        failed="Excel 97-2003 workbook (.xls)",
    ),
    "xlsx_zero_bytes": case(b"", kind="xlsx", failed="has no file to read"),
    "xlsx_empty_workbook": case(
        workbook([], header=None), kind="xlsx", failed="the file is empty"
    ),
    "xlsx_header_only": case(
        workbook([]),
        kind="xlsx",
        message="The source has no data rows, so nothing was imported.",
    ),
    "xlsx_header_only_missing_mapped_column": case(
        workbook([], header=["id", "nombre", "fecha"]),
        kind="xlsx",
        failed="Columns importe of the mapping are not in the source",
    ),
    "xlsx_formula_without_result": case(
        workbook([["1", "Ana", "03/04/2024", "=2*3"]]),
        kind="xlsx",
        failed="cell D2 holds a formula whose result was never saved",
    ),
    "xlsx_formula_with_result": case(
        workbook([["1", "Ana", "03/04/2024", "=2*3"]], formulas_saved=True),
        kind="xlsx",
        kept=["1"],
        amounts={"1": 6.0},
    ),
    "xlsx_numbers_as_text": case(
        workbook(
            [
                ["1", "Ana", "03/04/2024", "1.234,56"],
                ["2", "Luis", "03/04/2024", "1234.56"],
                [3, "Eva", "03/04/2024", 1234.5],
            ]
        ),
        kind="xlsx",
        kept=["1", "3"],
        amounts={"1": 1234.56, "3": 1234.5},
        rejected=[(2, "importe", "1234.56", "invalid amount 1234.56")],
    ),
    "xlsx_date_cells": case(
        workbook(
            [
                ["1", "Ana", datetime.datetime(2024, 4, 3, 10, 30), 5],
                ["2", "Luis", datetime.date(2024, 2, 29), 5],
                ["3", "Eva", 45385, 5],
                ["4", "Gema", "31/02/2024", 5],
            ]
        ),
        kind="xlsx",
        kept=["1", "2"],
        dates={"1": datetime.date(2024, 4, 3), "2": datetime.date(2024, 2, 29)},
        rejected=[
            (3, "fecha", "45385", "invalid date 45385"),
            (4, "fecha", "31/02/2024", "invalid date 31/02/2024"),
        ],
    ),
    "consent_of_rejected_row": case(
        b"id;nombre;fecha;importe;consentimiento\n"
        b"1;Ana;03/04/2024;5;s\xc3\xad\n"
        b"2;Luis;03/04/2024;cinco;s\xc3\xad\n"
        b"3;Eva;03/04/2024;5;quiz\xc3\xa1s\n",
        kept=["1"],
        consents={"1"},
        mapping=dict(MAPPING, consentimiento="consent_state"),
        rejected=[
            (2, "importe", "cinco", "invalid amount cinco"),
            (3, "consentimiento", "quizás", "unknown consent state quizás"),
        ],
    ),
    "xlsx_extra_cell": case(
        workbook([["1", "Ana", "03/04/2024", 5, "sobra"], ["2", "Luis", "", ""]]),
        kind="xlsx",
        kept=["2"],
        rejected=[(1, False, False, "Row 1 has 5 columns, the header has 4.")],
    ),
}


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestBadInputCorpus(LegacyCase):
    """One test per case of ``CASES``."""

    def snapshot(self):
        """Return the highest id of every table a run may write to."""
        return {
            model: self.env[model].sudo().search([], order="id desc", limit=1).id or 0
            for model in (
                "res.partner",
                "crm.legacy.partner.link",
                "crm.customer.transaction",
                "crm.consent.event",
                "crm.legacy.rejected.row",
                "crm.legacy.review",
            )
        }

    def new_records(self, model, before):
        return self.env[model].sudo().search([("id", ">", before[model])])

    def check_case(self, name):
        spec = CASES[name]
        kind = spec.get("kind", "csv")
        source = self.make_source(
            spec.get("mapping", MAPPING),
            kind=kind,
            content=spec["content"],
            name=f"Corpus {name}",
            **spec.get("source", {}),
        )
        before = self.snapshot()
        run = self.run_source(source)

        partners = self.new_records("res.partner", before)
        links = self.new_records("crm.legacy.partner.link", before)
        ledger = self.new_records("crm.customer.transaction", before)
        events = self.new_records("crm.consent.event", before)
        rejected = self.new_records("crm.legacy.rejected.row", before)
        reviews = self.new_records("crm.legacy.review", before)

        if spec["failed"]:
            self.assertEqual(run.state, "failed", run.message)
            self.assertIn("The source could not be read: ", run.message)
            self.assertIn(spec["failed"], run.message)
            self.assertLess(len(run.message), 2000)
            for records in (partners, links, ledger, events, rejected, reviews):
                self.assertFalse(records, f"{records._name} written by a failed run")
            self.assertEqual(
                (run.rows_read, run.partners_created, run.transactions_created),
                (0, 0, 0),
            )
            return

        self.assertEqual(run.state, "done", run.message)
        expected_rejected = spec["rejected"]
        self.assertEqual(
            run.rows_read, len(spec["kept"]) + len(expected_rejected), "rows read"
        )
        self.assertEqual(run.rows_rejected, len(expected_rejected))
        self.assertEqual(len(rejected), len(expected_rejected))
        for row, column, value, fragment in expected_rejected:
            record = rejected.filtered(lambda r, row=row: r.row_number == row)
            self.assertEqual(len(record), 1, f"row {row} rejected once")
            self.assertEqual(record.run_id, run)
            self.assertEqual(record.column, column)
            self.assertEqual(record.value, value)
            self.assertIn(fragment, record.reason)
            self.assertIn(f"Row {row}", record.reason)
        if "message" in spec:
            if spec["message"]:
                self.assertEqual(run.message, spec["message"])
            else:
                self.assertFalse(run.message)

        # Good rows kept; rejected rows left no customer, link or ledger row.
        self.assertEqual(set(links.mapped("external_key")), spec["kept"])
        by_key = {link.external_key: link.partner_id for link in links}
        if spec["kept"]:
            self.assertEqual(links.source_id, source)
        self.assertEqual(partners, links.partner_id)
        self.assertEqual(run.partners_created, len(spec["kept"]))
        consent_keys = spec.get("consents", set())
        self.assertEqual(
            events.partner_id,
            self.env["res.partner"].union(*(by_key[key] for key in consent_keys)),
        )
        self.assertFalse(reviews)
        for key, expected_name in spec.get("names", {}).items():
            self.assertEqual(by_key[key].name, expected_name)
        # Ledger rows only for kept rows.
        self.assertEqual(ledger.partner_id, ledger.partner_id & partners)
        self.assertEqual(run.transactions_created, len(ledger))
        for key, amount in spec.get("amounts", {}).items():
            txn = ledger.filtered(lambda t, key=key: t.partner_id == by_key[key])
            self.assertEqual(len(txn), 1)
            self.assertAlmostEqual(txn.amount, amount, places=2)
        for key, date in spec.get("dates", {}).items():
            txn = ledger.filtered(lambda t, key=key: t.partner_id == by_key[key])
            self.assertEqual(txn.date, date)

    for _name in CASES:
        locals()[f"test_{_name}"] = lambda self, name=_name: self.check_case(name)
    del _name


@tagged("post_install", "-at_install", "crm_legacy_connectors")
class TestBadInputOutcomes(LegacyCase):
    """Outcomes the table above does not show: batches, order, languages."""

    def test_bad_rows_keep_batch_rows(self):
        rows = [[str(n), f"Cliente {n}", "03/04/2024", "5"] for n in range(1, 301)]
        rows[149][3] = "cinco"
        rows[250][2] = "31/02/2024"
        source = self.make_source(MAPPING, content=delimited(rows), batch_size=100)
        run = self.run_source(source)
        self.assertEqual(run.state, "done")
        self.assertEqual((run.rows_read, run.rows_rejected), (300, 2))
        self.assertEqual(run.partners_created, 298)
        self.assertEqual(run.transactions_created, 298)
        self.assertEqual(run.rejected_row_ids.mapped("row_number"), [150, 251])
        keys = set(
            self.env["crm.legacy.partner.link"]
            .search([("source_id", "=", source.id)])
            .mapped("external_key")
        )
        self.assertEqual(keys, {str(n) for n in range(1, 301)} - {"150", "251"})

    def test_late_file_error_writes_no_batch(self):
        """A quote left open near the end of a file of several batches."""
        rows = [[str(n), f"Cliente {n}", "03/04/2024", "5"] for n in range(1, 1201)]
        content = delimited(rows) + b'1201;"Sin cerrar;03/04/2024;5\n'
        source = self.make_source(MAPPING, content=content, batch_size=200)
        partners_before = self.env["res.partner"].search_count([])
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn("the quote opened on line 1202 is never closed", run.message)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        self.assertFalse(
            self.env["crm.legacy.partner.link"].search([("source_id", "=", source.id)])
        )
        self.assertFalse(run.rejected_row_ids)

    def test_reader_checks_whole_file_first(self):
        """Also for runs that commit each batch: no row comes out of a file
        that turns out broken at its last line, 100,000 rows down."""
        rows = [[str(n), "Ana", "03/04/2024", "5"] for n in range(100_000)]
        good = delimited(rows)
        self.assertEqual(sum(1 for _ in read_delimited(io.BytesIO(good))), 100_000)
        broken = read_delimited(io.BytesIO(good + b"x;\xf1;03/04/2024;5\n"), "utf-8")
        with self.assertRaises(SourceError) as caught:
            next(broken)
        self.assertEqual(caught.exception.code, "encoding")
        self.assertEqual(caught.exception.params["line"], 100_002)

    def test_field_over_csv_limit_fails_run(self):
        limit = csv.field_size_limit(1000)
        self.addCleanup(csv.field_size_limit, limit)
        source = self.make_source(
            MAPPING, content=delimited([GOOD, ["2", "x" * 5000, "03/04/2024", "5"]])
        )
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn(
            "a field starting on line 3 is longer than 1000 characters", run.message
        )
        self.assertFalse(
            self.env["crm.legacy.partner.link"].search([("source_id", "=", source.id)])
        )

    def test_header_checked_by_preview(self):
        source = self.make_source(MAPPING, content=b"id;nombre;importe\n")
        with self.assertRaisesRegex(Exception, "Columns fecha of the mapping"):
            source.preview()
        source = self.make_source(MAPPING, content=delimited([]))
        self.assertEqual(source.preview(), [])

    def test_preview_names_file_fault(self):
        source = self.make_source(MAPPING, content=b'id;nombre\n1;"abierta\n')
        with self.assertRaisesRegex(
            Exception, "the quote opened on line 2 is never closed"
        ):
            source.preview()

    def test_sql_query_without_rows_checks_columns(self):
        handle, path = tempfile.mkstemp(suffix=".sqlite3")
        os.close(handle)
        self.addCleanup(os.unlink, path)
        sqlite3.connect(path).close()
        source = self.make_source(
            {"id": "partner_ref", "correo": "partner_email"},
            kind="sql",
            dsn=f"sqlite:///{path}",
            query="SELECT 1 AS id WHERE 0",
        )
        run = self.run_source(source)
        self.assertEqual(run.state, "failed")
        self.assertIn(
            "Columns correo of the mapping are not in the source", run.message
        )

    def spanish_run(self, content, **values):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_legacy_connectors"], ["es_ES"], overwrite=True
        )
        self.env.user.lang = "es_ES"
        source = self.make_source(MAPPING, content=content, **values)
        return self.env["crm.legacy.run"].browse(
            source.with_context(lang="es_ES").action_run()
        )

    def test_spanish_file_errors(self):
        run = self.spanish_run(b'id;nombre;fecha;importe\n1;"Ana;03/04/2024;5\n')
        self.assertEqual(
            run.message,
            "No se pudo leer el origen: la comilla abierta en la línea 2 no se "
            "cierra nunca, así que no se pueden separar las líneas que la siguen.",
        )
        run = self.spanish_run(
            "id;nombre;fecha;importe\n1;Iñigo;03/04/2024;5\n".encode("cp1252"),
            encoding="utf-8",
        )
        self.assertEqual(
            run.message,
            "No se pudo leer el origen: la línea 2 no es texto UTF-8 (byte 0xF1). "
            "Elija la codificación del archivo en el origen, o déjela vacía para "
            "detectarla.",
        )
        run = self.spanish_run(b"\n \r\n")
        self.assertEqual(
            run.message,
            "No se pudo leer el origen: el archivo está vacío: no tiene línea de "
            "cabecera ni filas de datos.",
        )

    def test_spanish_row_errors(self):
        run = self.spanish_run(
            b"id;nombre;fecha;importe\n"
            b"1;Ana;03/04/2024;1,234.56\n"
            b'2;"Luis" Gil;03/04/2024;5\n'
            b"3;Eva;31/02/2024;5\n"
        )
        reasons = dict(
            zip(
                run.rejected_row_ids.mapped("row_number"),
                run.rejected_row_ids.mapped("reason"),
                strict=True,
            )
        )
        self.assertEqual(
            reasons[1],
            "Fila 1, columna importe: importe no válido 1,234.56 (separador decimal "
            ",, separador de miles .).",
        )
        self.assertEqual(
            reasons[2],
            "Fila 2 (línea 3): una comilla de cierre va seguida de un texto que "
            "no es el delimitador.",
        )
        self.assertIn("Fila 3, columna fecha: fecha no válida 31/02/2024", reasons[3])

    def test_spanish_header_only(self):
        run = self.spanish_run(delimited([]))
        self.assertEqual(run.state, "done")
        self.assertEqual(
            run.message,
            "El origen no tiene filas de datos, así que no se importó nada.",
        )
