from odoo.tests import TransactionCase, new_test_user


class CampaignCase(TransactionCase):
    """Three consenting Spanish customers, an e-mail template and a campaign
    helper, shared by the campaign tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(
            context=dict(cls.env.context, tracking_disable=True, tz="UTC")
        )
        cls.user_marketing = new_test_user(
            cls.env,
            login="campaign_marketing_user",
            groups="base.group_user,crm_consent.group_marketing_user",
            tz="Europe/Madrid",
        )
        cls.company = cls.env.company
        # Contact at any hour on any day unless a test sets other limits.
        cls.company.write(
            {
                "campaign_pressure_limit": 0,
                "campaign_hour_from": 0.0,
                "campaign_hour_to": 24.0,
                **{f"campaign_weekday_{day}": True for day in range(7)},
            }
        )
        Partner = cls.env["res.partner"]
        cls.ana, cls.bruno, cls.carla = Partner.create(
            [
                {
                    "name": "Ana Martín",
                    "street": "Calle Mayor 5",
                    "city": "Sevilla",
                    "zip": "41001",
                    "email": "ana.martin@ejemplo.es",
                    "mobile": "+34 611 222 333",
                    "country_id": cls.env.ref("base.es").id,
                    "tz": "Europe/Madrid",
                },
                {
                    "name": "Bruno Díaz",
                    "street": "Avenida de la Constitución 12",
                    "city": "Sevilla",
                    "zip": "41001",
                    "email": "bruno.diaz@ejemplo.es",
                    "mobile": "+34 622 333 444",
                    "country_id": cls.env.ref("base.es").id,
                    "tz": "Europe/Madrid",
                },
                {
                    "name": "Carla Ruiz",
                    "street": "Plaza Nueva 3",
                    "city": "Sevilla",
                    "zip": "41001",
                    "email": "carla.ruiz@ejemplo.es",
                    "mobile": "+34 633 444 555",
                    "country_id": cls.env.ref("base.es").id,
                    "tz": "Europe/Madrid",
                },
            ]
        )
        cls.customers = cls.ana | cls.bruno | cls.carla
        cls.customers.consent_record("email", "granted")
        cls.customers.consent_record("sms", "granted")
        cls.customers.consent_record("phone", "granted")
        cls.customers.consent_record("postal", "granted")
        cls.tag = cls.env["res.partner.category"].create({"name": "Campaña test"})
        cls.tag_audience = cls.env["res.partner.category"].create(
            {"name": "Audiencia test"}
        )
        cls.customers.write({"category_id": [(4, cls.tag_audience.id)]})
        cls.product = cls.env["product.product"].create({"name": "Cafetera"})
        cls.template = cls.env["mail.template"].create(
            {
                "name": "Te echamos de menos",
                "model_id": cls.env["ir.model"]._get("res.partner").id,
                "subject": "Hola {{ object.name }}",
                "body_html": "<p>Vuelve: <a href='https://ejemplo.es/oferta'>oferta</a></p>",
                "email_from": "tienda@ejemplo.es",
            }
        )
        cls.sms_template = cls.env["sms.template"].create(
            {
                "name": "SMS oferta",
                "model_id": cls.env["ir.model"]._get("res.partner").id,
                "body": "Hola {{ object.name }}, 10% en tu próxima compra.",
            }
        )

    @classmethod
    def create_campaign(cls, steps, **values):
        """Create a draft campaign on the test audience with ``steps``.

        ``steps`` is a list of dicts of step values; a ``parent`` key holds the
        index of the parent step in the list.
        """
        campaign = cls.env["crm.campaign"].create(
            {
                "name": values.pop("name", "Reactivación"),
                "domain": repr([("category_id", "in", cls.tag_audience.ids)]),
                **values,
            }
        )
        created = []
        for step_values in steps:
            values_copy = dict(step_values)
            parent = values_copy.pop("parent", None)
            vals = {
                "campaign_id": campaign.id,
                "name": values_copy.get("name", values_copy.get("kind", "email")),
                **values_copy,
            }
            if parent is not None:
                vals["parent_id"] = created[parent].id
                vals.setdefault("trigger", "after_step")
            if vals.get("kind", "email") == "email":
                vals.setdefault("mail_template_id", cls.template.id)
            if vals.get("kind") == "sms":
                vals.setdefault("sms_template_id", cls.sms_template.id)
            created.append(cls.env["crm.campaign.step"].create(vals))
        return campaign

    def traces_of(self, campaign, step=None, partner=None):
        domain = [("campaign_id", "=", campaign.id)]
        if step:
            domain.append(("step_id", "=", step.id))
        if partner:
            domain.append(("partner_id", "=", partner.id))
        return self.env["crm.campaign.trace"].search(domain)

    def mails_of(self, campaign):
        mailings = campaign.step_ids.mailing_id
        return self.env["mail.mail"].search([("mailing_id", "in", mailings.ids)])
