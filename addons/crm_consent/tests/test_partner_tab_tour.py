from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPartnerTabTour(HttpCase):
    def test_consent_tab_in_spanish(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(["crm_consent"], ["es_ES"])
        user = new_test_user(
            self.env,
            login="consent_tour_user",
            groups="base.group_user,crm_consent.group_marketing_user",
            lang="es_ES",
        )
        partner = self.env["res.partner"].create(
            {"name": "Elena Vidal", "email": "elena.vidal@ejemplo.es"}
        )
        partner.consent_record("email", "granted", proof="Alta en la tienda")

        self.start_tour(
            f"/odoo/res.partner/{partner.id}",
            "crm_consent_partner_tab",
            login=user.login,
        )
