from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CrmConsentText(models.Model):
    """Wording shown to a customer when consent was asked.

    Events point to the version they were given under, so the exact text a
    customer agreed to can be shown later. A text that was used is never
    edited in place: a new version is created instead.
    """

    _name = "crm.consent.text"
    _description = "Consent Text"
    _order = "purpose_id, version desc"

    purpose_id = fields.Many2one(
        "crm.consent.purpose", required=True, ondelete="restrict"
    )
    channel_id = fields.Many2one(
        "crm.consent.channel",
        ondelete="restrict",
        help="Leave empty when the text covers every channel.",
    )
    version = fields.Integer(required=True, default=1, readonly=True)
    body = fields.Html(required=True, translate=True, sanitize=True)
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "purpose_channel_version_unique",
            "unique (purpose_id, channel_id, version)",
            "This version of the consent text already exists.",
        ),
    ]

    @api.depends("purpose_id", "channel_id", "version")
    def _compute_display_name(self):
        for text in self:
            parts = [text.purpose_id.name, text.channel_id.name, f"v{text.version}"]
            text.display_name = " · ".join(part for part in parts if part)

    def write(self, vals):
        if "body" in vals and self._is_used():
            raise ValidationError(
                self.env._(
                    "This consent text was shown to customers and cannot change. "
                    "Use 'New version' to publish new wording."
                )
            )
        return super().write(vals)

    def _is_used(self):
        return bool(
            self.env["crm.consent.event"]
            .sudo()
            .search_count([("consent_text_id", "in", self.ids)], limit=1)
        )

    def action_new_version(self):
        """Copy this text as the next version and archive this one."""
        self.ensure_one()
        latest = self.search(
            [
                ("purpose_id", "=", self.purpose_id.id),
                ("channel_id", "=", self.channel_id.id),
            ],
            order="version desc",
            limit=1,
        )
        new_text = self.copy({"version": latest.version + 1})
        self.active = False
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new_text.id,
            "view_mode": "form",
        }

    @api.model
    def _get_current(self, purpose, channel):
        """Return the latest active text for a purpose and channel, if any."""
        return self.search(
            [
                ("purpose_id", "=", purpose.id),
                ("channel_id", "in", [channel.id, False]),
            ],
            order="channel_id desc nulls last, version desc",
            limit=1,
        )
