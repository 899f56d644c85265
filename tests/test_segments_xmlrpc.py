"""Contract of crm_segments over XML-RPC, as an integrator calls it.

Covers the public names of the addon: the customer ledger and its
``record_transactions`` method, the stored profile fields of ``res.partner``
with ``profile_refresh``, and ``crm.segment`` with ``action_refresh``.
"""

import uuid
import xmlrpc.client

import pytest

PROFILE_FIELDS = [
    "first_purchase_date",
    "last_purchase_date",
    "purchase_count",
    "revenue_total",
    "average_order_value",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_segment",
    "value_tier",
]


def unique_ref(prefix):
    return f"{prefix}/{uuid.uuid4().hex}"


@pytest.fixture
def company_and_contact(odoo):
    company_id = odoo.execute(
        "res.partner",
        "create",
        {"name": f"Mercado Central {uuid.uuid4().hex[:6]} S.A.", "is_company": True},
    )
    contact_id = odoo.execute(
        "res.partner", "create", {"name": "Andrea Molina", "parent_id": company_id}
    )
    return company_id, contact_id


def record(odoo, partner_id, amount, kind="purchase", ref=None, date="2026-01-15"):
    return odoo.execute(
        "crm.customer.transaction",
        "record_transactions",
        [
            {
                "partner_id": partner_id,
                "date": date,
                "amount": amount,
                "kind": kind,
                "source_ref": ref or unique_ref("rpc"),
            }
        ],
    )


def test_transaction_contract_fields(odoo):
    fields = odoo.execute(
        "crm.customer.transaction", "fields_get", attributes=["type", "selection"]
    )
    for name in (
        "partner_id",
        "date",
        "amount",
        "currency_id",
        "kind",
        "source_ref",
        "company_id",
    ):
        assert name in fields, name
    kinds = {value for value, _label in fields["kind"]["selection"]}
    assert kinds == {"purchase", "refund", "payment"}


def test_record_transactions_returns_ids_in_order(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    refs = [unique_ref("rpc-order"), unique_ref("rpc-order")]
    ids = odoo.execute(
        "crm.customer.transaction",
        "record_transactions",
        [
            {
                "partner_id": company_id,
                "date": "2026-01-10",
                "amount": 10.0,
                "kind": "purchase",
                "source_ref": refs[0],
            },
            {
                "partner_id": company_id,
                "date": "2026-01-11",
                "amount": 20.0,
                "kind": "purchase",
                "source_ref": refs[1],
            },
        ],
    )
    rows = odoo.execute(
        "crm.customer.transaction", "read", ids, ["source_ref", "amount"]
    )
    assert [row["source_ref"] for row in rows] == refs
    assert [row["amount"] for row in rows] == [10.0, 20.0]


def test_record_transactions_is_idempotent(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    ref = unique_ref("rpc-idem")
    first = record(odoo, company_id, 40.0, ref=ref)
    second = record(odoo, company_id, 45.0, ref=ref)
    assert first == second
    count = odoo.execute(
        "crm.customer.transaction", "search_count", [("source_ref", "=", ref)]
    )
    assert count == 1


def test_contact_purchase_counts_for_company(odoo, company_and_contact):
    company_id, contact_id = company_and_contact
    [tx_id] = record(odoo, contact_id, 30.0)
    [row] = odoo.execute("crm.customer.transaction", "read", [tx_id], ["partner_id"])
    assert row["partner_id"][0] == company_id


def test_invalid_row_raises_naming_row_and_field(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    with pytest.raises(xmlrpc.client.Fault) as error:
        record(odoo, company_id, 10.0, kind="gift")
    assert "row 0" in error.value.faultString
    assert "kind" in error.value.faultString
    assert "gift" in error.value.faultString


def test_profile_fields_are_stored(odoo):
    fields = odoo.execute(
        "res.partner", "fields_get", PROFILE_FIELDS, attributes=["store"]
    )
    for name in PROFILE_FIELDS:
        assert fields[name]["store"] is True, name


def test_value_tier_selection(odoo):
    fields = odoo.execute(
        "res.partner", "fields_get", ["value_tier"], attributes=["selection"]
    )
    tiers = {value for value, _label in fields["value_tier"]["selection"]}
    assert tiers == {"one_to_one", "database", "mass"}


def test_profile_refresh_on_recordset(odoo, company_and_contact):
    company_id, contact_id = company_and_contact
    record(odoo, contact_id, 100.0, date="2026-01-10")
    record(odoo, company_id, 50.0, date="2026-01-20")
    record(odoo, company_id, -30.0, kind="refund", date="2026-01-25")
    assert odoo.execute("res.partner", "profile_refresh", [company_id]) is True
    [partner] = odoo.execute("res.partner", "read", [company_id], PROFILE_FIELDS)
    assert partner["purchase_count"] == 2
    assert partner["revenue_total"] == 150.0
    assert partner["average_order_value"] == 75.0
    assert partner["first_purchase_date"] == "2026-01-10"
    assert partner["last_purchase_date"] == "2026-01-20"
    assert partner["value_tier"] in ("one_to_one", "database", "mass")
    assert partner["rfm_segment"]


def test_profile_refresh_on_empty_recordset(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    record(odoo, company_id, 75.0)
    assert odoo.execute("res.partner", "profile_refresh", []) is True
    [partner] = odoo.execute("res.partner", "read", [company_id], ["purchase_count"])
    assert partner["purchase_count"] == 1


def test_rfm_scores_are_one_to_five(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    record(odoo, company_id, 75.0)
    odoo.execute("res.partner", "profile_refresh", [company_id])
    [partner] = odoo.execute(
        "res.partner",
        "read",
        [company_id],
        ["rfm_recency", "rfm_frequency", "rfm_monetary"],
    )
    for name in ("rfm_recency", "rfm_frequency", "rfm_monetary"):
        assert partner[name] in (1, 2, 3, 4, 5) or partner[name] is False, name


def test_segment_refresh_materialises_members(odoo, company_and_contact):
    company_id, _contact_id = company_and_contact
    segment_id = odoo.execute(
        "crm.segment",
        "create",
        {"name": "Contrato XML-RPC", "domain": str([("id", "=", company_id)])},
    )
    assert odoo.execute("crm.segment", "action_refresh", [segment_id]) is True
    [segment] = odoo.execute(
        "crm.segment",
        "read",
        [segment_id],
        ["name", "domain", "partner_ids", "member_count"],
    )
    assert segment["partner_ids"] == [company_id]
    assert segment["member_count"] == 1


def test_segment_with_missing_field_is_rejected(odoo):
    with pytest.raises(xmlrpc.client.Fault) as error:
        odoo.execute(
            "crm.segment",
            "create",
            {"name": "Campo inexistente", "domain": "[('shoe_size', '=', 42)]"},
        )
    assert "shoe_size" in error.value.faultString


def test_segment_including_itself_is_rejected(odoo):
    first = odoo.execute("crm.segment", "create", {"name": "Ciclo A", "domain": "[]"})
    second = odoo.execute(
        "crm.segment",
        "create",
        {"name": "Ciclo B", "domain": "[]", "include_segment_ids": [(6, 0, [first])]},
    )
    with pytest.raises(xmlrpc.client.Fault):
        odoo.execute(
            "crm.segment", "write", [first], {"include_segment_ids": [(6, 0, [second])]}
        )
