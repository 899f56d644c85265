"""Malformed arguments to the public methods of the suite over XML-RPC.

Each call raises a UserError (XML-RPC fault code 2) that names the value at
fault, not a server error. A legacy import of a broken file is the exception:
``action_run`` returns a failed run whose message names the fault. In every
case the rows the call would have written are unchanged, so the row counts
before and after are equal.
"""

import base64
import io
import uuid
import xmlrpc.client
import zipfile

import pytest

# Fault code of a UserError in Odoo's XML-RPC (odoo/addons/base/controllers/rpc.py).
USER_ERROR = 2


@pytest.fixture
def partner(odoo):
    suffix = uuid.uuid4().hex[:8]
    return odoo.execute(
        "res.partner",
        "create",
        {"name": f"Entrada {suffix}", "email": f"entrada.{suffix}@ejemplo.es"},
    )


def count(odoo, model, domain):
    return odoo.execute(model, "search_count", domain)


def assert_user_error(call, *fragments):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    assert caught.value.faultCode == USER_ERROR, caught.value.faultString
    for fragment in fragments:
        assert fragment in caught.value.faultString


# (keyword arguments of consent_record, fragments expected in the error)
CONSENT_CASES = {
    "unknown channel": ({"channel_code": "telex"}, ["'telex'", "email"]),
    "channel of wrong type": ({"channel_code": 42}, ["42"]),
    "state not in list": ({"state": "maybe"}, ["'maybe'", "granted"]),
    "state of wrong type": ({"state": ["granted"]}, ["['granted']"]),
    "unknown purpose": ({"purpose_code": "lottery"}, ["'lottery'", "marketing"]),
    "day month year date": ({"date": "31/02/2024"}, ["'31/02/2024'", "2024-05-31"]),
    "impossible date": ({"date": "2024-02-31"}, ["'2024-02-31'"]),
    "date of wrong type": ({"date": 12345}, ["12345"]),
    "word as expiry date": ({"expiry_date": "mañana"}, ["'mañana'", "2024-05-31"]),
    "unknown legal basis": ({"legal_basis": "whim"}, ["'whim'"]),
    "unknown source": ({"source": "rumour"}, ["'rumour'"]),
}


@pytest.mark.parametrize("case", sorted(CONSENT_CASES))
def test_consent_record_bad_argument(odoo, partner, case):
    overrides, fragments = CONSENT_CASES[case]
    arguments = {"channel_code": "email", "state": "granted", **overrides}
    scope = [("partner_id", "=", partner)]
    events_before = count(odoo, "crm.consent.event", scope)
    states_before = count(odoo, "crm.consent", scope)

    assert_user_error(
        lambda: odoo.execute("res.partner", "consent_record", [partner], **arguments),
        *fragments,
    )

    assert count(odoo, "crm.consent.event", scope) == events_before
    assert count(odoo, "crm.consent", scope) == states_before


def legacy_source(odoo, kind, content, columns):
    return odoo.execute(
        "crm.legacy.source",
        "create",
        {
            "name": f"Fichero roto {uuid.uuid4().hex[:8]}",
            "kind": kind,
            "file": base64.b64encode(content).decode(),
            "file_name": f"clientes.{kind}",
            "encoding": "utf-8",
            "mapping_ids": [
                (0, 0, {"column": column, "target": target})
                for column, target in columns.items()
            ],
        },
    )


def zip_archive():
    """Return a zip archive holding one text file: not an XLSX workbook."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("clientes.txt", "ana@ejemplo.es\n")
    return stream.getvalue()


# (kind, file content, mapping, fragment expected in the run's message)
LEGACY_CASES = {
    "xlsx that is no workbook": (
        "xlsx",
        b"email\nana@ejemplo.es\n",
        {"email": "partner_email"},
        "zip",
    ),
    "mapped column missing": (
        "csv",
        b"correo;nombre\nana@ejemplo.es;Ana\n",
        {"email": "partner_email"},
        "email",
    ),
    "utf-8 source in windows-1252": (
        "csv",
        "email;nombre\nana@ejemplo.es;Iñigo\n".encode("cp1252"),
        {"email": "partner_email", "nombre": "partner_name"},
        "line 2 is not UTF-8 text (byte 0xF1)",
    ),
    "utf-16 without byte order mark": (
        "csv",
        "email;nombre\nana@ejemplo.es;Ana\n".encode("utf-16-le"),
        {"email": "partner_email"},
        "line 1 contains a NUL character",
    ),
    "quote never closed": (
        "csv",
        b'email;nombre\nana@ejemplo.es;Ana\nluis@ejemplo.es;"Luis\n',
        {"email": "partner_email"},
        "the quote opened on line 3 is never closed",
    ),
    "only blank lines": (
        "csv",
        b"\r\n\n   \n",
        {"email": "partner_email"},
        "the file is empty",
    ),
    "header only, mapped column missing": (
        "csv",
        b"correo;nombre\n",
        {"email": "partner_email"},
        "Columns email of the mapping are not in the source, which has correo, nombre.",
    ),
    "zip that is no workbook": (
        "xlsx",
        zip_archive(),
        {"email": "partner_email"},
        "not an XLSX workbook",
    ),
}


@pytest.mark.parametrize("case", sorted(LEGACY_CASES))
def test_legacy_run_bad_file(odoo, case):
    kind, content, columns, fragment = LEGACY_CASES[case]
    source_id = legacy_source(odoo, kind, content, columns)
    partners_before = count(odoo, "res.partner", [("email", "=", "ana@ejemplo.es")])
    links_before = count(odoo, "crm.legacy.partner.link", [])

    run_id = odoo.execute("crm.legacy.source", "action_run", [source_id])

    [run] = odoo.execute(
        "crm.legacy.run",
        "read",
        [run_id],
        ["state", "message", "partners_created", "transactions_created"],
    )
    assert run["state"] == "failed"
    assert run["message"].startswith("The source could not be read: ")
    assert fragment in run["message"]
    assert run["partners_created"] == 0
    assert run["transactions_created"] == 0
    emails = [("email", "=", "ana@ejemplo.es")]
    assert count(odoo, "res.partner", emails) == partners_before
    assert count(odoo, "crm.legacy.partner.link", []) == links_before


def test_legacy_run_empty_upload(odoo):
    """An empty ``file`` stores no file, so the run fails with that reason."""
    source_id = legacy_source(odoo, "csv", b"", {"email": "partner_email"})
    links_before = count(odoo, "crm.legacy.partner.link", [])

    run_id = odoo.execute("crm.legacy.source", "action_run", [source_id])

    [run] = odoo.execute("crm.legacy.run", "read", [run_id], ["state", "message"])
    assert run["state"] == "failed"
    assert "has no file to read" in run["message"]
    assert count(odoo, "crm.legacy.rejected.row", [("run_id", "=", run_id)]) == 0
    assert count(odoo, "crm.legacy.partner.link", []) == links_before


def test_legacy_run_header_only(odoo):
    source_id = legacy_source(
        odoo, "csv", b"email;nombre\n", {"email": "partner_email"}
    )

    run_id = odoo.execute("crm.legacy.source", "action_run", [source_id])

    [run] = odoo.execute(
        "crm.legacy.run", "read", [run_id], ["state", "message", "rows_read"]
    )
    assert run["state"] == "done"
    assert run["rows_read"] == 0
    assert run["message"] == "The source has no data rows, so nothing was imported."


def source_values(**overrides):
    return {
        "name": f"Origen roto {uuid.uuid4().hex[:8]}",
        "kind": "csv",
        "mapping_ids": [(0, 0, {"column": "email", "target": "partner_email"})],
        **overrides,
    }


# (values of crm.legacy.source, fault code, fragments expected in the error)
SOURCE_CASES = {
    "file not base64": (
        {"file": "esto no es base64 ¡!"},
        USER_ERROR,
        ["File field", "is not base64-encoded", "base64.b64encode()"],
    ),
    "file base64 without padding": (
        {"file": "YWJj" + "ZA"},
        USER_ERROR,
        ["is not base64-encoded"],
    ),
    "unknown kind": ({"kind": "pdf"}, USER_ERROR, ["Kind", "'pdf'", "csv (CSV File)"]),
    "kind of wrong type": ({"kind": 5}, USER_ERROR, ["Kind", "5", "xlsx"]),
    "unknown encoding": (
        {"encoding": "ebcdic"},
        USER_ERROR,
        ["Encoding", "'ebcdic'", "utf-8 (UTF-8)"],
    ),
    "unknown delimiter": (
        {"delimiter": "#"},
        USER_ERROR,
        ["Delimiter", "'#'", "; (Semicolon)"],
    ),
    "unknown customer update": (
        {"partner_update": "always"},
        USER_ERROR,
        ["Update Matched Customers", "'always'", "fill"],
    ),
    "unknown mapping target": (
        {"mapping_ids": [(0, 0, {"column": "email", "target": "shoe_size"})]},
        USER_ERROR,
        ["Target", "'shoe_size'", "partner_email"],
    ),
    "batch size as words": (
        {"batch_size": "mil"},
        USER_ERROR,
        ["Batch Size", "'mil'", "whole number"],
    ),
    "batch size as list": (
        {"batch_size": [1000]},
        USER_ERROR,
        ["Batch Size", "[1000]", "whole number"],
    ),
    "timeout as decimal": (
        {"timeout": 2.5},
        USER_ERROR,
        ["Timeout", "2.5", "whole number"],
    ),
    "batch size negative": (
        {"batch_size": -1},
        USER_ERROR,
        ["The batch size must be positive."],
    ),
    "same decimal and thousands separator": (
        {"decimal_separator": ",", "thousands_separator": ","},
        USER_ERROR,
        ["are both ,"],
    ),
    "digit as separator": (
        {"decimal_separator": "0"},
        USER_ERROR,
        ["cannot be digits"],
    ),
    "date format without directives": (
        {"date_format": "fecha"},
        USER_ERROR,
        ["The date format fecha of source"],
    ),
    "date format with unknown directive": (
        {"date_format": "%Q"},
        USER_ERROR,
        ["The date format %Q of source"],
    ),
    "huge nested domain": (
        {"kind": "odoo", "domain": "[" * 100_000},
        USER_ERROR,
        ["Invalid domain [[[", "…"],
    ),
    "huge flat domain": (
        {"kind": "odoo", "domain": repr([("id", "=", n) for n in range(50_000)]) + "x"},
        USER_ERROR,
        ["Invalid domain [('id', '=', 0)", "…"],
    ),
    "domain that is no list": (
        {"kind": "odoo", "domain": "{'id': 1}"},
        USER_ERROR,
        ["Invalid domain {'id': 1}."],
    ),
}


@pytest.mark.parametrize("case", sorted(SOURCE_CASES))
def test_legacy_source_bad_value(odoo, case):
    """A wrong value raises a UserError naming the field, the value and, for
    a Selection field, the accepted values. No source is created."""
    overrides, fault_code, fragments = SOURCE_CASES[case]
    values = source_values(**overrides)

    with pytest.raises(xmlrpc.client.Fault) as caught:
        odoo.execute("crm.legacy.source", "create", values)

    fault = caught.value
    assert fault.faultCode == fault_code, fault.faultString
    for fragment in fragments:
        assert fragment in fault.faultString
    # A huge value is shortened, not echoed whole.
    assert len(fault.faultString) < 20_000
    assert count(odoo, "crm.legacy.source", [("name", "=", values["name"])]) == 0


# (values written on an existing source or mapping, fragments expected)
WRITE_CASES = {
    "batch size as words": (
        "crm.legacy.source",
        {"batch_size": "mucho"},
        ["Batch Size", "'mucho'"],
    ),
    "unknown kind": ("crm.legacy.source", {"kind": "pdf"}, ["Kind", "'pdf'", "csv"]),
    "unknown mapping target": (
        "crm.legacy.mapping",
        {"target": "shoe_size"},
        ["Target", "'shoe_size'", "partner_email"],
    ),
}


@pytest.mark.parametrize("case", sorted(WRITE_CASES))
def test_legacy_source_write_bad_value(odoo, case):
    model, values, fragments = WRITE_CASES[case]
    source_id = legacy_source(
        odoo, "csv", b"email\nana@ejemplo.es\n", {"email": "partner_email"}
    )
    if model == "crm.legacy.mapping":
        record_ids = odoo.execute(model, "search", [("source_id", "=", source_id)])
    else:
        record_ids = [source_id]
    fields = list(values)
    before = odoo.execute(model, "read", record_ids, fields)

    assert_user_error(
        lambda: odoo.execute(model, "write", record_ids, values), *fragments
    )

    assert odoo.execute(model, "read", record_ids, fields) == before


@pytest.fixture(scope="module")
def spanish(odoo):
    """Install es_ES as a user does, from the language wizard."""
    [lang] = odoo.execute(
        "res.lang",
        "search_read",
        [("code", "=", "es_ES"), ("active", "in", [True, False])],
        fields=["active"],
    )
    if not lang["active"]:
        wizard = odoo.execute(
            "base.language.install", "create", {"lang_ids": [(6, 0, [lang["id"]])]}
        )
        odoo.execute("base.language.install", "lang_install", [wizard])
    return "es_ES"


# (values of crm.legacy.source, Spanish fragments expected in the error)
SPANISH_CASES = {
    "file not base64": (
        {"file": "esto no es base64 ¡!"},
        ["Archivo", "no está codificado en base64", "base64.b64encode()"],
    ),
    "batch size as words": (
        {"batch_size": "mucho"},
        ["Tamaño de lote", "'mucho'", "número entero"],
    ),
    "unknown kind": (
        {"kind": "pdf"},
        ["'pdf'", "Valores aceptados", "csv (Archivo CSV)"],
    ),
    "unknown mapping target": (
        {"mapping_ids": [(0, 0, {"column": "email", "target": "shoe_size"})]},
        ["'shoe_size'", "Valores aceptados", "partner_email"],
    ),
}


@pytest.mark.parametrize("case", sorted(SPANISH_CASES))
def test_legacy_source_bad_value_in_spanish(odoo, spanish, case):
    overrides, fragments = SPANISH_CASES[case]
    values = source_values(**overrides)

    with pytest.raises(xmlrpc.client.Fault) as caught:
        odoo.execute("crm.legacy.source", "create", values, context={"lang": spanish})

    fault = caught.value
    assert fault.faultCode == USER_ERROR, fault.faultString
    for fragment in fragments:
        assert fragment in fault.faultString
    # Python's own English text is not appended.
    for english in ("Only base64", "invalid literal", "Wrong value", "is not a valid"):
        assert english not in fault.faultString
    assert count(odoo, "crm.legacy.source", [("name", "=", values["name"])]) == 0


def test_legacy_source_file_with_line_breaks(odoo):
    """base64.encodebytes() breaks lines every 76 characters."""
    content = "email\n" + "".join(f"cliente{n}@ejemplo.es\n" for n in range(10))
    source_id = odoo.execute(
        "crm.legacy.source",
        "create",
        source_values(file=base64.encodebytes(content.encode()).decode()),
    )

    [source] = odoo.execute("crm.legacy.source", "read", [source_id], ["file"])
    assert base64.b64decode(source["file"]).decode() == content


def test_legacy_source_write_bad_file_keeps_old_file(odoo):
    source_id = legacy_source(
        odoo, "csv", b"email\nana@ejemplo.es\n", {"email": "partner_email"}
    )
    [before] = odoo.execute("crm.legacy.source", "read", [source_id], ["file"])

    assert_user_error(
        lambda: odoo.execute(
            "crm.legacy.source", "write", [source_id], {"file": "%%%"}
        ),
        "is not base64-encoded",
    )

    [after] = odoo.execute("crm.legacy.source", "read", [source_id], ["file"])
    assert after["file"] == before["file"]


# (arguments of consent_get, fragments expected in the error)
CONSENT_GET_CASES = {
    "unknown channel": (["telex"], ["'telex'", "email"]),
    "channel of wrong type": ([42], ["42"]),
    "unknown purpose": (["email", "lottery"], ["'lottery'", "marketing"]),
}


@pytest.mark.parametrize("case", sorted(CONSENT_GET_CASES))
def test_consent_get_bad_argument(odoo, partner, case):
    arguments, fragments = CONSENT_GET_CASES[case]
    assert_user_error(
        lambda: odoo.execute("res.partner", "consent_get", [partner], *arguments),
        *fragments,
    )


# (domain of crm.segment, fragments expected in the error)
SEGMENT_CASES = {
    "not python": ("garbage", ["garbage"]),
    "unknown field": ("[('shoe_size', '=', 42)]", ["shoe_size"]),
    "huge nested domain": ("[" * 100_000, ["not a valid domain"]),
}


@pytest.mark.parametrize("case", sorted(SEGMENT_CASES))
def test_segment_bad_domain(odoo, case):
    domain, fragments = SEGMENT_CASES[case]
    name = f"Segmento roto {uuid.uuid4().hex[:8]}"

    assert_user_error(
        lambda: odoo.execute("crm.segment", "create", {"name": name, "domain": domain}),
        *fragments,
    )

    assert count(odoo, "crm.segment", [("name", "=", name)]) == 0


def test_campaign_launch_without_steps(odoo, partner):
    name = f"Sin pasos {uuid.uuid4().hex[:8]}"
    campaign_id = odoo.execute(
        "crm.campaign",
        "create",
        {"name": name, "domain": repr([("id", "=", partner)])},
    )
    scope = [("campaign_id", "=", campaign_id)]

    assert_user_error(
        lambda: odoo.execute("crm.campaign", "action_launch", [campaign_id]),
        name,
        "no step",
    )

    [campaign] = odoo.execute("crm.campaign", "read", [campaign_id], ["state"])
    assert campaign["state"] == "draft"
    assert count(odoo, "crm.campaign.participant", scope) == 0
    assert count(odoo, "crm.campaign.trace", scope) == 0
