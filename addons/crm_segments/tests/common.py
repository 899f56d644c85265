from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import TransactionCase


class SegmentsCommon(TransactionCase):
    """Companies, customers and currencies shared by the crm_segments tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.Transaction = cls.env["crm.customer.transaction"]
        cls.Partner = cls.env["res.partner"]
        cls.company_customer = cls.Partner.create(
            {"name": "Ferretería Iturbide S.A.", "is_company": True}
        )
        cls.contact = cls.Partner.create(
            {"name": "Lucía Ramos", "parent_id": cls.company_customer.id}
        )
        cls.customer = cls.Partner.create({"name": "María Torres"})
        cls.foreign_currency = cls.env["res.currency"].create(
            {"name": "XSG", "symbol": "¤", "rounding": 0.01}
        )
        cls.env["res.currency.rate"].create(
            {
                "currency_id": cls.foreign_currency.id,
                "name": "2024-01-01",
                "rate": 2.0,
                "company_id": cls.company.id,
            }
        )

    def record(
        self, partner, amount, date="2024-03-01", kind="purchase", ref=None, **extra
    ):
        """Record one transaction and return its id."""
        vals = {
            "partner_id": partner.id,
            "date": date,
            "amount": amount,
            "kind": kind,
            "source_ref": ref or f"test/{partner.id}/{date}/{amount}",
            **extra,
        }
        return self.Transaction.record_transactions([vals])[0]


class RfmCommon(SegmentsCommon):
    """Eleven customers of a company of their own with known RFM inputs.

    Reference day 2024-12-31, RFM window 365 days (from 2024-01-01). Each
    customer has ``frequency`` purchases inside the window, the last one on
    ``last``, worth ``monetary`` together. ``Pilar`` also got a refund of 50.
    ``Ulises`` only bought in 2023.
    """

    TODAY = "2024-12-31"
    # name: (last purchase, frequency, monetary)
    CUSTOMERS = {
        "Alba": ("2024-12-30", 6, 600.0),
        "Bruno": ("2024-12-25", 5, 900.0),
        "Pilar": ("2024-12-01", 4, 150.0),
        "Dario": ("2024-11-15", 1, 50.0),
        "Elena": ("2024-10-01", 2, 200.0),
        "Fermín": ("2024-09-01", 3, 300.0),
        "Gloria": ("2024-06-01", 7, 1000.0),
        "Hugo": ("2024-04-01", 1, 20.0),
        "Inés": ("2024-02-01", 1, 10.0),
        "Jorge": ("2024-01-15", 8, 700.0),
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.env["res.company"].create(
            {"name": "Tienda Los Andes", "currency_id": cls.company.currency_id.id}
        )
        cls.env.user.company_ids |= cls.shop
        cls.people = {}
        vals_list = []
        for name, (last, frequency, monetary) in cls.CUSTOMERS.items():
            partner = cls.Partner.create({"name": name, "company_id": cls.shop.id})
            cls.people[name] = partner
            last_day = fields.Date.to_date(last)
            for number in range(frequency):
                vals_list.append(
                    {
                        "partner_id": partner.id,
                        "date": last_day - timedelta(days=number),
                        "amount": monetary / frequency,
                        "kind": "purchase",
                        "source_ref": f"rfm/{name}/{number}",
                        "company_id": cls.shop.id,
                    }
                )
        vals_list.append(
            {
                "partner_id": cls.people["Pilar"].id,
                "date": "2024-12-02",
                "amount": -50.0,
                "kind": "refund",
                "source_ref": "rfm/Pilar/refund",
                "company_id": cls.shop.id,
            }
        )
        cls.people["Ulises"] = cls.Partner.create(
            {"name": "Ulises", "company_id": cls.shop.id}
        )
        vals_list.append(
            {
                "partner_id": cls.people["Ulises"].id,
                "date": "2023-06-01",
                "amount": 5.0,
                "kind": "purchase",
                "source_ref": "rfm/Ulises/0",
                "company_id": cls.shop.id,
            }
        )
        cls.Transaction.record_transactions(vals_list)

    def refresh_profiles(self):
        with freeze_time(self.TODAY):
            self.Partner.browse(
                [partner.id for partner in self.people.values()]
            ).profile_refresh()
