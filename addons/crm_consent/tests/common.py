from odoo.tests import TransactionCase, new_test_user


class ConsentCase(TransactionCase):
    """Partners without history, marketing users and the shipped channels."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.user_marketing = new_test_user(
            cls.env,
            login="consent_marketing_user",
            groups="base.group_user,crm_consent.group_marketing_user",
        )
        cls.user_manager = new_test_user(
            cls.env,
            login="consent_marketing_manager",
            groups="base.group_user,crm_consent.group_marketing_manager",
        )
        cls.user_employee = new_test_user(
            cls.env, login="consent_employee", groups="base.group_user"
        )
        cls.user_portal = new_test_user(
            cls.env, login="consent_portal", groups="base.group_portal"
        )
        cls.spain = cls.env.ref("base.es")
        cls.mexico = cls.env.ref("base.mx")
        Partner = cls.env["res.partner"]
        cls.ana = Partner.create(
            {
                "name": "Ana Martín",
                "email": "ana.martin@ejemplo.es",
                "phone": "+34 611 222 333",
                "street": "Calle Mayor 5",
                "city": "Madrid",
                "country_id": cls.spain.id,
            }
        )
        cls.bruno = Partner.create(
            {
                "name": "Bruno Díaz",
                "email": "bruno.diaz@ejemplo.es",
                "mobile": "+34 622 333 444",
                "country_id": cls.spain.id,
            }
        )
        cls.carla = Partner.create(
            {
                "name": "Carla Ruiz",
                "email": "carla.ruiz@ejemplo.mx",
                "mobile": "+52 55 1234 5678",
                "country_id": cls.mexico.id,
            }
        )
        cls.channel_email = cls.env.ref("crm_consent.channel_email")
        cls.channel_phone = cls.env.ref("crm_consent.channel_phone")
        cls.channel_sms = cls.env.ref("crm_consent.channel_sms")
        cls.channel_postal = cls.env.ref("crm_consent.channel_postal")
        cls.purpose_marketing = cls.env.ref("crm_consent.purpose_marketing")
        cls.purpose_transactional = cls.env.ref("crm_consent.purpose_transactional")

    def state_of(self, partner, channel_code, purpose_code="marketing", at=False):
        return partner.consent_get(channel_code, purpose_code, at=at)[0]["state"]

    def events_of(self, partner, channel, purpose=None):
        return self.env["crm.consent.event"].search(
            [
                ("partner_id", "=", partner.id),
                ("channel_id", "=", channel.id),
                ("purpose_id", "=", (purpose or self.purpose_marketing).id),
            ],
            order="id",
        )
