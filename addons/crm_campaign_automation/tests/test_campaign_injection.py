"""Code and SQL written by a marketing user in domains and templates.

Segment and campaign filters are evaluated with ``safe_eval``, which rejects
imports and dunder names, and their values reach PostgreSQL as query
parameters. Mail templates with expressions beyond plain field placeholders
can only be saved by members of "Mail Template Editor", so a marketing user
outside it cannot put code in a template that the executor renders.
"""

import os
import tempfile

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CampaignCase

SQL_VALUES = [
    "x'); DELETE FROM res_partner; --",
    "%' OR '1'='1",
    "ana.martin@ejemplo.es' OR 1=1 --",
]


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignInjection(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marker = os.path.join(tempfile.gettempdir(), "crm_injection_marker")
        cls.code_domain = (
            f"[('id', '=', __import__('os').system('touch {cls.marker}'))]"
        )

    def setUp(self):
        super().setUp()
        if os.path.exists(self.marker):
            os.remove(self.marker)

    def test_segment_domain_code_rejected(self):
        segment = self.env["crm.segment"].create(
            {"name": "Segmento", "domain": "[('id', '=', 0)]"}
        )
        with self.assertRaises(ValidationError):
            segment.with_user(self.user_marketing).write({"domain": self.code_domain})
        self.assertFalse(os.path.exists(self.marker))

    def test_segment_domain_sql_values_inert(self):
        partner_count = self.env["res.partner"].search_count([])
        segment = self.env["crm.segment"].create(
            {"name": "Segmento", "domain": "[('id', '=', 0)]"}
        )
        for value in SQL_VALUES:
            with self.subTest(value=value):
                segment.with_user(self.user_marketing).write(
                    {"domain": repr([("email", "=", value)])}
                )
                segment.with_user(self.user_marketing).action_refresh()
                self.assertEqual(segment.member_count, 0)
        self.assertEqual(self.env["res.partner"].search_count([]), partner_count)

    def test_campaign_domain_code_rejected(self):
        Campaign = self.env["crm.campaign"].with_user(self.user_marketing)
        with self.assertRaises(UserError):  # ValidationError included
            Campaign.create({"name": "Inyección", "domain": self.code_domain})
        self.assertFalse(os.path.exists(self.marker))

    def test_campaign_domain_sql_values_inert(self):
        partner_count = self.env["res.partner"].search_count([])
        campaign = self.create_campaign([{"kind": "email"}])
        for value in SQL_VALUES:
            with self.subTest(value=value):
                campaign.with_user(self.user_marketing).write(
                    {"domain": repr([("email", "=", value)])}
                )
                preview = campaign.with_user(self.user_marketing).get_audience_preview()
                self.assertEqual(preview["audience"], 0)
        self.assertEqual(self.env["res.partner"].search_count([]), partner_count)

    def restrict_template_rendering(self):
        """Apply the "Restrict Template Rendering" setting: dynamic templates
        are then reserved to the "Mail Template Editor" group."""
        editor = self.env.ref("mail.group_mail_template_editor")
        self.env.ref("base.group_user").write({"implied_ids": [(3, editor.id)]})
        editor.write({"users": [(5, 0, 0)]})
        self.assertFalse(
            self.user_marketing.has_group("mail.group_mail_template_editor")
        )

    def test_template_code_rejected_for_non_editor(self):
        self.restrict_template_rendering()
        Template = self.env["mail.template"].with_user(self.user_marketing)
        model_id = self.env["ir.model"]._get("res.partner").id
        unsafe_values = [
            {
                "body_html": "<p t-out=\"object.env['res.users'].sudo()"
                ".search([]).mapped('login')\"/>"
            },
            {"subject": "{{ object.sudo().env['res.users'].search([]).login }}"},
            {"subject": "{{ object.env.cr.execute('DELETE FROM res_partner') }}"},
        ]
        for values in unsafe_values:
            with self.subTest(values=values), self.assertRaises(AccessError):
                Template.create({"name": "Plantilla", "model_id": model_id, **values})

        # Plain field placeholders stay allowed, and code cannot be added later.
        template = Template.create(
            {
                "name": "Plantilla",
                "model_id": model_id,
                "subject": "Hola {{ object.name }}",
                "body_html": "<p>Hola <t t-out='object.name'/></p>",
            }
        )
        with self.assertRaises(AccessError):
            template.write(
                {"subject": "{{ object.env['ir.config_parameter'].sudo() }}"}
            )

    def test_braces_in_body_stay_text(self):
        """The body is QWeb, where ``{{ }}`` is literal text, not an expression."""
        partner_count = self.env["res.partner"].search_count([])
        template = self.env["mail.template"].create(
            {
                "name": "Llaves",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "subject": "Hola",
                "body_html": "<p>{{ object.env.cr.execute('DELETE FROM res_partner') }}</p>",
            }
        )
        campaign = self.create_campaign(
            [{"kind": "email", "mail_template_id": template.id}]
        )
        campaign.action_launch()
        campaign.action_execute()

        mails = self.mails_of(campaign)
        self.assertEqual(len(mails), 3)
        self.assertIn("object.env.cr.execute", mails[0].body_html)
        self.assertEqual(self.env["res.partner"].search_count([]), partner_count)

    @mute_logger("odoo.addons.crm_campaign_automation.models.crm_campaign_trace")
    def test_template_import_fails_step(self):
        """Even a template editor's code cannot import modules: the step fails
        on its traces and no e-mail is queued."""
        template = self.env["mail.template"].create(
            {
                "name": "Plantilla con import",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "subject": f"{{{{ __import__('os').system('touch {self.marker}') }}}}",
                "body_html": "<p>Hola</p>",
            }
        )
        campaign = self.create_campaign(
            [{"kind": "email", "mail_template_id": template.id}]
        )
        campaign.action_launch()
        campaign.action_execute()

        traces = self.traces_of(campaign)
        self.assertEqual(set(traces.mapped("state")), {"error"})
        self.assertFalse(self.mails_of(campaign))
        self.assertFalse(os.path.exists(self.marker))
