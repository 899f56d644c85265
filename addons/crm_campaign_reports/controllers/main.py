import base64

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import content_disposition, request


class CampaignReportController(http.Controller):
    @http.route(
        "/crm_campaign_reports/xlsx/<int:campaign_id>",
        type="http",
        auth="user",
        methods=["GET"],
    )
    def campaign_xlsx(self, campaign_id):
        """Download the XLSX report of a campaign the logged-in user can read.

        Returns 404 for a campaign that does not exist. Access rights and
        company rules apply as on the form, so a campaign the user cannot read
        raises AccessError, which Odoo returns as 403.
        """
        campaign = request.env["crm.campaign"].browse(campaign_id).exists()
        if not campaign:
            raise NotFound()
        content = base64.b64decode(campaign.report_xlsx())
        filename = f"{campaign.name}.xlsx"
        return request.make_response(
            content,
            headers=[
                (
                    "Content-Type",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                ("Content-Disposition", content_disposition(filename)),
                ("Content-Length", str(len(content))),
            ],
        )
