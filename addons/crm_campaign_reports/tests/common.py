from datetime import date, datetime

from odoo.tests import HttpCase, TransactionCase, new_test_user

# Moment the e-mail step of the test campaign is recorded as sent, in UTC.
SENT_AT = datetime(2026, 3, 2, 10, 0)
SENT_DAY = date(2026, 3, 2)


class CampaignReportFixture:
    """A campaign with one e-mail step sent to four customers, whose report
    figures are known:

    ========  ==========  =======  ===========================================
    Partner   Tier        Trace    Responses
    ========  ==========  =======  ===========================================
    Ana       one-to-one  done     opened, clicked, converted on 5 March,
                                   purchases of 120 on 5 March (in the
                                   30-day window) and 50 on 20 April (out)
    Bruno     database    done     opened, replied, unsubscribed on 3 March
    Carla     database    done     bounced; purchase of 80 on 20 February,
                                   before the step
    Diego     mass        skipped  e-mail consent refused
    ========  ==========  =======  ===========================================

    Totals: 3 sent, 2 delivered, 2 opened, 1 clicked, 1 replied, 1 bounced,
    1 unsubscribed, 1 skipped, 1 converted, revenue 120; open rate 2/2 =
    100 %, click rate 1/2 = 50 %, conversion rate 1/3 = 33.33 %.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(
            context=dict(cls.env.context, tracking_disable=True, tz="UTC")
        )
        cls.company = cls.env.company
        cls.company.write(
            {
                "campaign_pressure_limit": 0,
                "campaign_hour_from": 0.0,
                "campaign_hour_to": 24.0,
                **{f"campaign_weekday_{day}": True for day in range(7)},
            }
        )
        cls.user_marketing = new_test_user(
            cls.env,
            login="report_marketing_user",
            groups="base.group_user,crm_consent.group_marketing_user",
        )
        cls.tag = cls.env["res.partner.category"].create({"name": "Informe test"})
        partner_values = [
            ("Ana Martín", "ana", "one_to_one"),
            ("Bruno Díaz", "bruno", "database"),
            ("Carla Ruiz", "carla", "database"),
            ("Diego Gómez", "diego", "mass"),
        ]
        partners = cls.env["res.partner"].create(
            [
                {
                    "name": name,
                    "email": f"{login}@ejemplo.es",
                    "country_id": cls.env.ref("base.es").id,
                    "category_id": [(4, cls.tag.id)],
                }
                for name, login, _tier in partner_values
            ]
        )
        for partner, (_name, _login, tier) in zip(
            partners, partner_values, strict=True
        ):
            partner.value_tier = tier
        cls.ana, cls.bruno, cls.carla, cls.diego = partners
        (cls.ana | cls.bruno | cls.carla).consent_record("email", "granted")
        cls.diego.consent_record("email", "refused")

        cls.template = cls.env["mail.template"].create(
            {
                "name": "Vuelve con nosotros",
                "model_id": cls.env["ir.model"]._get("res.partner").id,
                "subject": "Hola {{ object.name }}",
                "body_html": "<p>Vuelve: <a href='https://ejemplo.es/oferta'>oferta</a></p>",
                "email_from": "tienda@ejemplo.es",
            }
        )
        cls.campaign, cls.step = cls.run_email_campaign(
            "Reactivación", partners, SENT_AT
        )
        traces = cls.campaign.trace_ids
        cls.trace_by_partner = {trace.partner_id: trace for trace in traces}

        cls.trace_by_partner[cls.ana].mailing_trace_id.write(
            {
                "trace_status": "open",
                "open_datetime": datetime(2026, 3, 2, 11, 0),
                "links_click_datetime": datetime(2026, 3, 2, 11, 5),
            }
        )
        cls.trace_by_partner[cls.bruno].mailing_trace_id.write(
            {
                "trace_status": "reply",
                "open_datetime": datetime(2026, 3, 2, 12, 0),
                "reply_datetime": datetime(2026, 3, 2, 12, 30),
            }
        )
        cls.trace_by_partner[cls.carla].mailing_trace_id.write(
            {"trace_status": "bounce"}
        )
        cls.bruno.consent_record(
            "email", "refused", source="unsubscribe", date=datetime(2026, 3, 3, 9, 0)
        )
        cls.trace_by_partner[cls.ana].participant_id.write(
            {"state": "converted", "conversion_date": datetime(2026, 3, 5, 16, 0)}
        )
        cls.env["crm.customer.transaction"].sudo().record_transactions(
            [
                {
                    "partner_id": cls.ana.id,
                    "date": "2026-03-05",
                    "amount": 120.0,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-1",
                },
                {
                    "partner_id": cls.ana.id,
                    "date": "2026-04-20",
                    "amount": 50.0,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-2",
                },
                {
                    "partner_id": cls.carla.id,
                    "date": "2026-02-20",
                    "amount": 80.0,
                    "kind": "purchase",
                    "source_ref": "report-test/carla-1",
                },
            ]
        )

    @classmethod
    def run_email_campaign(cls, name, partners, sent_at):
        """Launch and run a one-step e-mail campaign on ``partners``, then date
        its traces ``sent_at``. Returns the campaign and its step."""
        campaign = cls.env["crm.campaign"].create(
            {
                "name": name,
                "domain": repr([("id", "in", partners.ids)]),
                "attribution_days": 30,
            }
        )
        step = cls.env["crm.campaign.step"].create(
            {
                "campaign_id": campaign.id,
                "name": "Primer correo",
                "kind": "email",
                "trigger": "begin",
                "interval_number": 0,
                "interval_type": "hours",
                "mail_template_id": cls.template.id,
            }
        )
        campaign.action_launch()
        campaign.action_execute()
        campaign.trace_ids.write({"executed_at": sent_at})
        return campaign, step

    def read_report(self, groupby, domain=None, campaign=None, model=None):
        """Return the report measures of ``campaign`` grouped by ``groupby`` as
        ``{group key: {measure: value}}``, read with the web client's
        aggregates from ``model`` (the campaign analysis by default)."""
        report = self.env[model or "crm.campaign.report"]
        measures = [
            name
            for name, field in report._fields.items()
            if field.type in ("integer", "float", "monetary") and name != "id"
        ]
        aggregates = [f"{name}:{report._fields[name].aggregator}" for name in measures]
        rows = report._read_group(
            [("campaign_id", "=", (campaign or self.campaign).id), *(domain or [])],
            groupby,
            aggregates,
        )
        return {
            tuple(row[: len(groupby)]): dict(
                zip(measures, row[len(groupby) :], strict=True)
            )
            for row in rows
        }


class CampaignReportCase(CampaignReportFixture, TransactionCase):
    """CampaignReportFixture in a transaction rolled back after the class."""


class CampaignReportHttpCase(CampaignReportFixture, HttpCase):
    """CampaignReportFixture with the test HTTP server, which wkhtmltopdf
    calls for the report's assets while printing a PDF."""


class CampaignAttributionCase(CampaignReportCase):
    """The campaign of CampaignReportCase plus an overlapping one, with
    purchases and refusals placed so that last touch and all touch differ:

    - "Primavera" sends one e-mail on 4 March 10:00 to Ana and Carla, with a
      30-day window (4 March to 3 April); both are delivered.
    - Ana buys 40 on 3 March: only "Reactivación" (2 March) reached her, so
      both attributions credit it. Her purchase of 120 on 5 March falls in
      both windows: last touch credits "Primavera", all touch both. Her
      purchase of 75 on 2 April is after the window of "Reactivación"
      (2 March to 1 April) and within that of "Primavera".
    - Carla buys 300 on 10 March. Her "Reactivación" e-mail bounced, so it
      reached nobody and only "Primavera" is credited.
    - Ana refuses e-mail from the preference centre on 6 March: an
      unsubscribe credited to "Primavera", her last e-mail. Her SMS refusal
      the same day and Carla's e-mail refusal by import on 7 March are not
      unsubscribes (no SMS reached Ana; imports are not responses).
    - Ana's tier changed from database to one-to-one on 3 March, so she was
      in the database tier for "Reactivación" and one-to-one for "Primavera".
    - Segment "Clientes VIP" has Ana and Carla as members.

    Expected, by hand:

    ============  =========  =======  =========  =========  ============
    Campaign      Purchases  Revenue  Purchases  Revenue    Unsubscribed
                  (last)     (last)   (all)      (all)
    ============  =========  =======  =========  =========  ============
    Reactivación  1          40       2          160        1 (Bruno)
    Primavera     3          495      3          495        1 (Ana)
    ============  =========  =======  =========  =========  ============

    Last touch adds up to the 535 bought within a window; all touch to 655.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spring, cls.spring_step = cls.run_email_campaign(
            "Primavera", cls.ana | cls.carla, datetime(2026, 3, 4, 10, 0)
        )
        for trace in cls.spring.trace_ids:
            trace.mailing_trace_id.trace_status = "sent"
        cls.env["crm.customer.transaction"].sudo().record_transactions(
            [
                {
                    "partner_id": cls.ana.id,
                    "date": "2026-03-03",
                    "amount": 40.0,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-3",
                },
                {
                    "partner_id": cls.ana.id,
                    "date": "2026-04-02",
                    "amount": 75.0,
                    "kind": "purchase",
                    "source_ref": "report-test/ana-4",
                },
                {
                    "partner_id": cls.carla.id,
                    "date": "2026-03-10",
                    "amount": 300.0,
                    "kind": "purchase",
                    "source_ref": "report-test/carla-2",
                },
            ]
        )
        cls.ana.consent_record(
            "email",
            "refused",
            source="preference_centre",
            date=datetime(2026, 3, 6, 9, 0),
        )
        cls.ana.consent_record(
            "sms",
            "refused",
            source="preference_centre",
            date=datetime(2026, 3, 6, 9, 5),
        )
        cls.carla.consent_record(
            "email", "refused", source="import", date=datetime(2026, 3, 7, 9, 0)
        )
        cls.env["crm.value.tier.log"].sudo().create(
            {
                "partner_id": cls.ana.id,
                "company_id": cls.company.id,
                "previous_tier": "database",
                "tier": "one_to_one",
                "date": datetime(2026, 3, 3, 8, 0),
            }
        )
        cls.segment = (
            cls.env["crm.segment"]
            .sudo()
            .create(
                {
                    "name": "Clientes VIP",
                    "domain": repr([("id", "in", (cls.ana | cls.carla).ids)]),
                    "auto_refresh": False,
                }
            )
        )
        cls.segment.write({"partner_ids": [(6, 0, (cls.ana | cls.carla).ids)]})
