from odoo import fields, models

# Substrings of the user agents of image proxies and link scanners that fetch
# the tracking image without a reader opening the e-mail. Gmail's proxy
# fetches the image when the recipient opens the message, so excluding it
# undercounts Gmail readers in exchange for leaving out cached fetches.
MACHINE_OPEN_USER_AGENTS = (
    "googleimageproxy",
    "yahoomailproxy",
    "mimecast",
    "barracuda",
    "proofpoint",
)


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    crm_machine_open = fields.Boolean(
        string="Opened by an Image Proxy",
        readonly=True,
        help="The first open of this campaign message came from a known image "
        "proxy or scanner, so it may not be a reader's open.",
    )
    crm_human_open_datetime = fields.Datetime(
        string="First Reader Open",
        readonly=True,
        help="First open of this campaign message from a client that is not a "
        "known image proxy, in UTC.",
    )

    def _record_campaign_open(self, user_agent):
        """Record who opened these campaign traces from the request's
        ``user_agent``: a known image proxy, or a reader's client."""
        agent = (user_agent or "").lower()
        is_machine = any(marker in agent for marker in MACHINE_OPEN_USER_AGENTS)
        campaign_traces = self.filtered(
            lambda trace: trace.mass_mailing_id.crm_campaign_step_id
        )
        if is_machine:
            campaign_traces.filtered(
                lambda trace: not trace.crm_human_open_datetime
            ).write({"crm_machine_open": True})
        else:
            campaign_traces.filtered(
                lambda trace: not trace.crm_human_open_datetime
            ).write({"crm_human_open_datetime": fields.Datetime.now()})
        return campaign_traces
