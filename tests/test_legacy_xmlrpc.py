"""XML-RPC contract of crm_legacy_connectors: sources, runs, rejected rows."""

import base64
import uuid

import pytest

RUN_FIELDS = [
    "state",
    "rows_read",
    "partners_created",
    "partners_matched",
    "transactions_created",
    "consents_recorded",
    "rows_rejected",
    "rejected_row_ids",
]


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


def make_csv_source(odoo, content, mapping, **values):
    return odoo.execute(
        "crm.legacy.source",
        "create",
        {
            "name": values.pop("name", "XML-RPC source"),
            "kind": "csv",
            "file": base64.b64encode(content).decode(),
            "file_name": "clientes.csv",
            "date_format": "%d/%m/%Y",
            "decimal_separator": ",",
            "thousands_separator": ".",
            "mapping_ids": [
                (0, 0, {"column": column, "target": target})
                for column, target in mapping.items()
            ],
            **values,
        },
    )


def read_run(odoo, run_id):
    return odoo.execute("crm.legacy.run", "read", [run_id], RUN_FIELDS)[0]


MAPPING = {
    "codigo": "partner_ref",
    "nombre": "partner_name",
    "email": "partner_email",
    "pedido": "txn_ref",
    "fecha": "txn_date",
    "importe": "txn_amount",
}


def spanish_file(tag):
    return (
        "codigo;nombre;email;pedido;fecha;importe\n"
        f"{tag}-1;Iñigo Núñez;Inigo.{tag}@Ejemplo.ES;{tag}-P1;03/04/2024;1.234,56\n"
        f"{tag}-2;Ana Gómez;ana.{tag}@ejemplo.es;{tag}-P2;31/02/2024;10,00\n"
        f"{tag}-1;Iñigo Núñez;inigo.{tag}@ejemplo.es;{tag}-P3;16/12/2024;5,00\n"
    ).encode("cp1252")


def test_action_run_returns_run_with_counts(odoo, tag):
    source_id = make_csv_source(odoo, spanish_file(tag), MAPPING)
    run = read_run(odoo, odoo.execute("crm.legacy.source", "action_run", [source_id]))
    assert run["state"] == "done"
    assert run["rows_read"] == 3
    assert run["partners_created"] == 1
    assert run["transactions_created"] == 2
    assert run["rows_rejected"] == 1


def test_rejected_row_names_row_column_value(odoo, tag):
    source_id = make_csv_source(odoo, spanish_file(tag), MAPPING)
    run = read_run(odoo, odoo.execute("crm.legacy.source", "action_run", [source_id]))
    rejected = odoo.execute(
        "crm.legacy.rejected.row",
        "read",
        run["rejected_row_ids"],
        ["row_number", "column", "value", "reason", "raw"],
    )
    assert len(rejected) == 1
    assert rejected[0]["row_number"] == 2
    assert rejected[0]["column"] == "fecha"
    assert rejected[0]["value"] == "31/02/2024"
    assert "31/02/2024" in rejected[0]["reason"]
    assert rejected[0]["raw"].startswith(f"{tag}-2;Ana Gómez")


def test_rerun_is_idempotent(odoo, tag):
    source_id = make_csv_source(odoo, spanish_file(tag), MAPPING)
    odoo.execute("crm.legacy.source", "action_run", [source_id])
    run = read_run(odoo, odoo.execute("crm.legacy.source", "action_run", [source_id]))
    assert run["partners_created"] == 0
    assert run["partners_matched"] == 1
    assert run["transactions_created"] == 0
    count = odoo.execute(
        "crm.customer.transaction",
        "search_count",
        [("source_ref", "=like", f"legacy:{source_id}:%")],
    )
    assert count == 2


def test_email_case_gives_one_partner(odoo, tag):
    content = (
        f"email\nJuan.Lopez.{tag}@Ejemplo.ES\njuan.lopez.{tag}@ejemplo.es\n"
    ).encode()
    source_id = make_csv_source(odoo, content, {"email": "partner_email"})
    odoo.execute("crm.legacy.source", "action_run", [source_id])
    count = odoo.execute(
        "res.partner",
        "search_count",
        [("email_normalized", "=", f"juan.lopez.{tag}@ejemplo.es")],
    )
    assert count == 1


def test_preview_writes_nothing(odoo, tag):
    source_id = make_csv_source(odoo, spanish_file(tag), MAPPING)
    rows = odoo.execute("crm.legacy.source", "preview", [source_id])
    assert [row["row_number"] for row in rows] == [1, 2, 3]
    assert rows[0]["values"]["txn_amount"] == "1234.56"
    assert rows[0]["values"]["txn_date"] == "2024-04-03"
    assert rows[1]["error"]
    assert not odoo.execute(
        "crm.legacy.partner.link", "search", [("source_id", "=", source_id)]
    )


def test_demo_source_exists(odoo):
    source_id = odoo.ref("crm_legacy_connectors.demo_source_erp_csv")
    source = odoo.execute("crm.legacy.source", "read", [source_id], ["kind"])[0]
    assert source["kind"] == "csv"
