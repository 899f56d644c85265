import xmlrpc.client
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import freeze_time, tagged

from ..tools import experiment_stats
from ..tools.experiment_assignment import assignment_fraction
from .common import CampaignCase

# Upper 0.1 % points of the chi-square distribution (standard statistical
# tables): 2 degrees of freedom 13.816, 1 degree of freedom 10.828.
CHI2_999_DF2 = 13.816
CHI2_999_DF1 = 10.828


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignExperiment(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Sixty more consenting customers, so that every variant of a random
        # split gets several of them whatever the record ids.
        cls.crowd = cls.env["res.partner"].create(
            [
                {
                    "name": f"Cliente {index:02d}",
                    "email": f"cliente{index:02d}@ejemplo.es",
                    "mobile": f"+34 600 000 0{index:02d}",
                    "category_id": [(4, cls.tag_audience.id)],
                    "tz": "Europe/Madrid",
                }
                for index in range(60)
            ]
        )
        cls.crowd.consent_record("email", "granted")
        cls.crowd.consent_record("sms", "granted")
        cls.audience = cls.customers | cls.crowd
        cls.product.list_price = 100.0
        cls.product.taxes_id = False

    def create_experiment(self, variants, step_values=None, **campaign_values):
        """Create a campaign with one e-mail step carrying ``variants``."""
        campaign = self.create_campaign(
            [{"kind": "email", **(step_values or {})}], **campaign_values
        )
        campaign.experiment_seed = 20260504
        step = campaign.step_ids
        self.env["crm.campaign.variant"].create(
            [
                {"step_id": step.id, "name": name, "sequence": index, **values}
                for index, (name, values) in enumerate(variants)
            ]
        )
        return campaign, step

    def buy(self, partner):
        order = self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [
                    (0, 0, {"product_id": self.product.id, "product_uom_qty": 1})
                ],
            }
        )
        order.action_confirm()
        return order

    # ------------------------------------------------------------------
    # Assignment
    # ------------------------------------------------------------------

    def test_assignment_balance_chi_square(self):
        weights = [("A", {"weight": 1}), ("B", {"weight": 1}), ("C", {"weight": 2})]
        campaign, step = self.create_experiment(weights, holdout_percent=10.0)
        # A second step with the same weights tests on a 50 % sample.
        sample_step = self.env["crm.campaign.step"].create(
            {
                "campaign_id": campaign.id,
                "name": "Muestra",
                "mail_template_id": self.template.id,
                "test_sample_percent": 50.0,
                "variant_ids": [
                    (0, 0, {"name": name, "sequence": index, **values})
                    for index, (name, values) in enumerate(weights)
                ],
            }
        )
        partners = self.env["res.partner"].create(
            [{"name": f"Socio {index}"} for index in range(10000)]
        )
        Participant = self.env["crm.campaign.participant"]
        variants = step._get_sorted_variants()
        sample_positions = list(sample_step._get_sorted_variants())
        counts = dict.fromkeys(variants.ids, 0)
        sample_by_variant = {(True, variant_id): 0 for variant_id in variants.ids}
        sampled = 0
        for partner in partners:
            participant = Participant.new(
                {"campaign_id": campaign.id, "partner_id": partner.id}
            )
            variant, _is_sample = step._get_variant_assignment(participant)
            counts[variant.id] += 1
            sample_variant = sample_step._get_variant_assignment(participant)[0]
            if sample_variant:
                sampled += 1
                position = sample_positions.index(sample_variant)
                self.assertEqual(variants[position], variant, "same position")
                sample_by_variant[(True, variant.id)] += 1
        created = Participant.create(
            [
                {"campaign_id": campaign.id, "partner_id": partner.id}
                for partner in partners[:2000]
            ]
        )
        holdout = len(created.filtered("is_holdout"))

        # Weights 1:1:2 over 10,000 partners: 2,500, 2,500 and 5,000 expected.
        expected = [2500, 2500, 5000]
        chi_square = sum(
            (counts[variant_id] - expected_count) ** 2 / expected_count
            for variant_id, expected_count in zip(variants.ids, expected, strict=True)
        )
        self.assertLess(chi_square, CHI2_999_DF2, counts)
        # Sample membership is independent of the variant: within the sample,
        # the split keeps the weights (2x2 table, sample x (A or B, C)).
        sample_small = sum(sample_by_variant[(True, vid)] for vid in variants.ids[:2])
        sample_large = sample_by_variant[(True, variants.ids[2])]
        rest_small = counts[variants.ids[0]] + counts[variants.ids[1]] - sample_small
        rest_large = counts[variants.ids[2]] - sample_large
        table = [[sample_small, sample_large], [rest_small, rest_large]]
        total = 10000
        independence = 0.0
        for row in range(2):
            for column in range(2):
                row_total = sum(table[row])
                column_total = table[0][column] + table[1][column]
                expected_cell = row_total * column_total / total
                independence += (
                    table[row][column] - expected_cell
                ) ** 2 / expected_cell
        self.assertLess(independence, CHI2_999_DF1, table)
        # 50 % sample of 10,000: within 3.29 standard deviations (50) of 5,000.
        self.assertLess(abs(sampled - 5000), 3.29 * 50)
        # 10 % holdout of 2,000: within 3.29 standard deviations (13.4) of 200.
        self.assertLess(abs(holdout - 200), 3.29 * 13.42)

    def test_variant_sticky_across_steps_and_reentry(self):
        campaign = self.create_campaign(
            [{"kind": "email"}, {"kind": "email", "parent": 0}], allow_reentry=True
        )
        campaign.experiment_seed = 77
        first, second = campaign.step_ids.sorted("id")
        for step in (first, second):
            self.env["crm.campaign.variant"].create(
                [
                    {"step_id": step.id, "name": "Control", "sequence": 1},
                    {"step_id": step.id, "name": "Reto", "sequence": 2},
                ]
            )
        campaign.action_launch()
        campaign.action_execute()
        campaign.action_execute()

        positions = {}
        for step in (first, second):
            variants = step._get_sorted_variants()
            for trace in self.traces_of(campaign, step):
                self.assertEqual(trace.state, "done")
                position = list(variants).index(trace.variant_id)
                positions.setdefault(trace.partner_id, set()).add(position)
        self.assertEqual(len(positions), len(self.audience))
        for partner, seen in positions.items():
            self.assertEqual(len(seen), 1, f"{partner.name} changed variant position")
        self.assertEqual(
            {position for seen in positions.values() for position in seen},
            {0, 1},
            "both variants are used",
        )

        # A second journey of the same partners gets the same variants.
        before = {
            trace.partner_id: trace.variant_id
            for trace in self.traces_of(campaign, first)
        }
        campaign.action_enroll()
        campaign.action_execute()
        traces = self.traces_of(campaign, first)
        self.assertEqual(len(traces), 2 * len(self.audience))
        for trace in traces:
            self.assertEqual(trace.variant_id, before[trace.partner_id])

    # ------------------------------------------------------------------
    # Executor
    # ------------------------------------------------------------------

    def test_executor_applies_variant_overrides(self):
        other_template = self.env["mail.template"].create(
            {
                "name": "Plantilla B",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "subject": "Plantilla B para {{ object.name }}",
                "body_html": "<p>Cuerpo de la plantilla B</p>",
                "email_from": "tienda@ejemplo.es",
            }
        )
        campaign, _step = self.create_experiment(
            [
                ("Asunto", {"subject": "Oferta para {{ object.name }}"}),
                ("Plantilla", {"mail_template_id": other_template.id}),
                ("Cuerpo", {"body_html": "<p>Hola <t t-out='object.name'/>, 20 %</p>"}),
                ("SMS", {"kind": "sms", "sms_template_id": self.sms_template.id}),
                ("Espera", {"interval_number": 2, "interval_type": "days"}),
            ]
        )
        with freeze_time("2026-05-04 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
        by_name = {}
        for trace in self.traces_of(campaign):
            by_name.setdefault(trace.variant_id.name, self.env["crm.campaign.trace"])
            by_name[trace.variant_id.name] |= trace
        self.assertEqual(
            set(by_name), {"Asunto", "Plantilla", "Cuerpo", "SMS", "Espera"}
        )

        for trace in by_name["Asunto"]:
            self.assertEqual(
                trace.mail_mail_id.subject, f"Oferta para {trace.partner_id.name}"
            )
            self.assertIn("oferta", trace.mail_mail_id.body_html, "template body kept")
        for trace in by_name["Plantilla"]:
            self.assertEqual(
                trace.mail_mail_id.subject, f"Plantilla B para {trace.partner_id.name}"
            )
        for trace in by_name["Cuerpo"]:
            self.assertIn(
                f"Hola {trace.partner_id.name}, 20 %", trace.mail_mail_id.body_html
            )
            self.assertEqual(
                trace.mail_mail_id.subject, f"Hola {trace.partner_id.name}"
            )
        for trace in by_name["SMS"]:
            self.assertEqual(trace.kind, "sms")
            self.assertTrue(trace.sms_id)
            self.assertFalse(trace.mail_mail_id)
        for trace in by_name["Espera"]:
            self.assertEqual(trace.state, "scheduled")
            self.assertEqual(trace.scheduled_at, datetime(2026, 5, 6, 10, 0))

    def test_channel_override_checks_its_consent(self):
        campaign, _step = self.create_experiment(
            [("SMS", {"kind": "sms", "sms_template_id": self.sms_template.id})]
        )
        self.ana.consent_record("sms", "refused")
        campaign.action_launch()
        campaign.action_execute()

        ana_trace = self.traces_of(campaign, partner=self.ana)
        self.assertEqual(ana_trace.state, "skipped")
        self.assertEqual(ana_trace.skip_reason, "consent")
        self.assertEqual(self.traces_of(campaign, partner=self.bruno).state, "done")

    def test_sample_then_winner_flow(self):
        campaign, step = self.create_experiment(
            [("Control", {}), ("Reto", {"subject": "Última oportunidad"})],
            step_values={
                "test_sample_percent": 50.0,
                "test_metric": "click",
                "test_min_sample": 3,
                "test_alpha": 0.05,
            },
        )
        control, challenger = step._get_sorted_variants()
        campaign.action_launch()
        campaign.action_execute()

        traces = self.traces_of(campaign)
        sent = traces.filtered(lambda trace: trace.state == "done")
        waiting = traces - sent
        self.assertTrue(sent and waiting, "part of the audience is in the sample")
        self.assertEqual(step.test_state, "running")
        self.assertTrue(all(sent.mapped("is_test_sample")))
        self.assertEqual(set(waiting.mapped("state")), {"scheduled"})
        self.assertEqual(set(waiting.mapped("skip_reason")), {"experiment"})
        self.assertFalse(waiting.mail_mail_id, "nobody outside the sample got a mail")
        self.assertFalse(any(waiting.mapped("variant_id")))
        challenger_sent = sent.filtered(lambda trace: trace.variant_id == challenger)
        control_sent = sent - challenger_sent
        self.assertGreaterEqual(len(challenger_sent), 3)
        self.assertGreaterEqual(len(control_sent), 3)
        self.assertEqual(
            set(challenger_sent.mail_mail_id.mapped("subject")), {"Última oportunidad"}
        )

        # Nobody clicked yet: posteriors Beta(1, n_A + 1) and Beta(1, n_B + 1),
        # compared with Evan Miller's closed form.
        results = step.get_experiment_results()
        self.assertFalse(results["decided"])
        rows = {row["variant_id"]: row for row in results["variants"]}
        self.assertAlmostEqual(
            rows[challenger.id]["probability_best"],
            experiment_stats.prob_b_beats_a(
                1, len(control_sent) + 1, 1, len(challenger_sent) + 1
            ),
        )
        # Equal (zero) rates: no evidence of a difference.
        self.assertEqual(rows[challenger.id]["p_value"], 1.0)
        self.assertEqual(results["method"], "msprt")
        self.assertFalse(self.env["crm.campaign.step"]._decide_experiments())

        # Every challenger recipient clicks, no control recipient does.
        challenger_sent.mailing_trace_id.set_clicked()
        results = step.get_experiment_results()
        rows = {row["variant_id"]: row for row in results["variants"]}
        self.assertEqual(rows[challenger.id]["successes"], len(challenger_sent))
        self.assertEqual(rows[challenger.id]["rate"], 1.0)
        self.assertEqual(rows[control.id]["successes"], 0)
        # Posteriors Beta(n_B + 1, 1) and Beta(1, n_A + 1): the closed form.
        expected = experiment_stats.prob_b_beats_a(
            1, len(control_sent) + 1, len(challenger_sent) + 1, 1
        )
        self.assertAlmostEqual(rows[challenger.id]["probability_best"], expected)
        self.assertGreater(expected, 0.95)
        # Rates 1 and 0 have no variance, so the normal approximation of the
        # mSPRT gives a certain difference: p-value 0.
        self.assertEqual(rows[challenger.id]["p_value"], 0.0)

        messages_before = len(campaign.message_ids)
        self.env["crm.campaign.trace"]._cron_execute()

        self.assertEqual(step.test_state, "decided")
        self.assertEqual(step.winner_variant_id, challenger)
        self.assertTrue(challenger.is_winner)
        self.assertFalse(control.is_winner)
        self.assertGreater(len(campaign.message_ids), messages_before)
        self.assertIn(challenger.name, campaign.message_ids[0].body)
        self.assertEqual(set(waiting.mapped("state")), {"done"})
        self.assertEqual(waiting.variant_id, challenger)
        self.assertFalse(any(waiting.mapped("is_test_sample")))
        self.assertEqual(
            set(waiting.mail_mail_id.mapped("subject")), {"Última oportunidad"}
        )
        # Rolled-out traces stay out of the test's counts.
        rows = {
            row["variant_id"]: row for row in step.get_experiment_results()["variants"]
        }
        self.assertEqual(rows[challenger.id]["recipients"], len(challenger_sent))

        # A partner entering later gets the winner at once.
        late = self.env["res.partner"].create(
            {
                "name": "Lucía Tardía",
                "email": "lucia@ejemplo.es",
                "category_id": [(4, self.tag_audience.id)],
            }
        )
        late.consent_record("email", "granted")
        campaign.action_enroll()
        campaign.action_execute()
        late_trace = self.traces_of(campaign, partner=late)
        self.assertEqual(late_trace.state, "done")
        self.assertEqual(late_trace.variant_id, challenger)

    def test_winner_without_overrides_uses_step_content(self):
        campaign, step = self.create_experiment(
            [("Control", {}), ("Reto", {"subject": "Otro asunto"})],
            step_values={"test_sample_percent": 30.0},
        )
        control = step._get_sorted_variants()[0]
        campaign.action_launch()
        campaign.action_execute()

        control.action_set_winner()
        campaign.action_execute()

        rolled_out = self.traces_of(campaign).filtered(
            lambda trace: trace.variant_id == control and not trace.is_test_sample
        )
        self.assertTrue(rolled_out)
        for trace in rolled_out:
            self.assertEqual(trace.state, "done")
            self.assertEqual(
                trace.mail_mail_id.subject, f"Hola {trace.partner_id.name}"
            )
        self.assertIn("chose variant Control", campaign.message_ids[0].body)

    def test_decision_rule_min_sample_and_p_value(self):
        campaign, step = self.create_experiment(
            [("Control", {}), ("Reto", {})],
            step_values={"test_metric": "click", "test_min_sample": 1000},
        )
        control, challenger = step._get_sorted_variants()
        campaign.action_launch()
        campaign.action_execute()
        traces = self.traces_of(campaign)
        challenger_traces = traces.filtered(lambda t: t.variant_id == challenger)
        n_control = len(traces) - len(challenger_traces)
        n_challenger = len(challenger_traces)
        challenger_traces[:2].mailing_trace_id.set_clicked()
        Step = self.env["crm.campaign.step"]

        # Fewer recipients than the minimum sample: the test has not started.
        self.assertFalse(Step._decide_experiments())
        self.assertEqual(step.test_state, "running")
        rows = {r["variant_id"]: r for r in step.get_experiment_results()["variants"]}
        self.assertEqual(rows[challenger.id]["p_value"], 1.0)

        # Minimum sample reached: 2 clicks against none is a weak difference.
        step.test_min_sample = 1
        stats_p_value = experiment_stats.msprt_p_value(
            experiment_stats.rate_difference_log_likelihood_ratio(
                2, n_challenger, 0, n_control
            )
        )
        self.assertGreater(stats_p_value, 0.05)
        rows = {r["variant_id"]: r for r in step.get_experiment_results()["variants"]}
        self.assertAlmostEqual(rows[challenger.id]["p_value"], stats_p_value)
        self.assertAlmostEqual(rows[control.id]["p_value"], stats_p_value)
        self.assertFalse(Step._decide_experiments())
        # The executor's look is stored as the running minimum.
        key = f"{min(control.id, challenger.id)}-{max(control.id, challenger.id)}"
        self.assertAlmostEqual(step.test_p_values[key], stats_p_value)

        # An earlier look that reached 0.01 stays the p-value, p_n =
        # min(p_(n-1), 1 / Lambda_n), so the test is decided on it.
        step.test_p_values = {key: 0.01}
        rows = {r["variant_id"]: r for r in step.get_experiment_results()["variants"]}
        self.assertAlmostEqual(rows[challenger.id]["p_value"], 0.01)
        # A new metric starts a new test and clears the stored looks.
        step.test_metric = "open"
        self.assertFalse(step.test_p_values)
        step.test_metric = "click"
        step.test_p_values = {key: 0.01}
        self.assertEqual(Step._decide_experiments(), step)
        self.assertEqual(step.winner_variant_id, challenger)
        self.assertIn("0.0100", campaign.message_ids[0].body)
        self.assertIn("significance level 0.05", campaign.message_ids[0].body)

    def test_test_end_decides_best_so_far(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign, step = self.create_experiment(
                [("Control", {}), ("Reto", {})],
                step_values={
                    "test_min_sample": 1000,
                    "test_sample_percent": 50.0,
                    "test_end_date": datetime(2026, 5, 5, 10, 0),
                },
            )
            control = step._get_sorted_variants()[0]
            campaign.action_launch()
            campaign.action_execute()
            self.traces_of(campaign).filtered(
                lambda trace: trace.variant_id == control
            ).mailing_trace_id.set_clicked()
            waiting = self.traces_of(campaign).filtered(
                lambda trace: trace.skip_reason == "experiment"
            )
            self.assertEqual(
                set(waiting.mapped("scheduled_at")), {datetime(2026, 5, 5, 10, 0)}
            )
            self.assertFalse(self.env["crm.campaign.step"]._decide_experiments())
        with freeze_time("2026-05-05 10:00:00"):
            self.env["crm.campaign.trace"]._cron_execute()
        self.assertEqual(step.winner_variant_id, control)
        self.assertIn(
            "test period ended without a significant result",
            campaign.message_ids[0].body,
        )
        self.assertEqual(set(waiting.mapped("state")), {"done"})

    def test_decide_now_button(self):
        campaign, step = self.create_experiment([("Control", {}), ("Reto", {})])
        challenger = step._get_sorted_variants()[1]
        campaign.action_launch()
        campaign.action_execute()
        self.traces_of(campaign).filtered(
            lambda trace: trace.variant_id == challenger
        ).mailing_trace_id.set_replied()
        step.test_metric = "reply"

        step.action_decide_winner()

        self.assertEqual(step.test_state, "decided")
        self.assertEqual(step.winner_variant_id, challenger)
        single = self.create_campaign([{"kind": "email"}]).step_ids
        with self.assertRaises(UserError):
            single.action_decide_winner()

    # ------------------------------------------------------------------
    # Metrics
    # ------------------------------------------------------------------

    def test_machine_opens_excluded_from_open_rate(self):
        campaign, step = self.create_experiment(
            [("Control", {}), ("Reto", {})],
            step_values={"test_metric": "open", "test_machine_open_seconds": 10},
        )
        with freeze_time("2026-05-04 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
        traces = self.traces_of(campaign).sorted("id")
        sent_at = datetime(2026, 5, 4, 10, 0)
        traces.mailing_trace_id.write({"sent_datetime": sent_at})
        proxy, prefetch, reader, clicker = traces[:4]
        # An open fetched by Gmail's image proxy a minute after sending.
        with freeze_time("2026-05-04 10:01:00"):
            proxy.mailing_trace_id.set_opened()
            proxy.mailing_trace_id._record_campaign_open(
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
                "(via ggpht.com GoogleImageProxy)"
            )
        # An open 3 seconds after sending: a prefetch.
        with freeze_time("2026-05-04 10:00:03"):
            prefetch.mailing_trace_id.set_opened()
        # A reader's open an hour later.
        with freeze_time("2026-05-04 11:00:00"):
            reader.mailing_trace_id.set_opened()
            reader.mailing_trace_id._record_campaign_open(
                "Mozilla/5.0 (X11; Linux x86_64) Thunderbird/115.0"
            )
        # A click without a recorded open.
        clicker.mailing_trace_id.set_clicked()

        def total_successes():
            results = step.get_experiment_results()
            return sum(row["successes"] for row in results["variants"])

        self.assertEqual(total_successes(), 2, "reader and clicker")
        self.assertTrue(proxy.mailing_trace_id.crm_machine_open)
        step.test_exclude_machine_opens = False
        self.assertEqual(total_successes(), 4)

    def test_revenue_metric_per_recipient(self):
        campaign, step = self.create_experiment(
            [("Control", {}), ("Reto", {})], step_values={"test_metric": "revenue"}
        )
        with freeze_time("2026-05-04 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
        with freeze_time("2026-05-05 10:00:00"):
            self.buy(self.ana)
            self.buy(self.ana)
            self.buy(self.bruno)
        rows = {
            row["variant_id"]: row for row in step.get_experiment_results()["variants"]
        }
        traces = self.traces_of(campaign)
        for variant in step.variant_ids:
            variant_traces = traces.filtered(lambda t, v=variant: t.variant_id == v)
            revenue = 200.0 * (self.ana in variant_traces.partner_id) + 100.0 * (
                self.bruno in variant_traces.partner_id
            )
            row = rows[variant.id]
            self.assertEqual(row["recipients"], len(variant_traces))
            self.assertAlmostEqual(row["successes"], revenue)
            self.assertAlmostEqual(row["rate"], revenue / len(variant_traces))
            self.assertLessEqual(row["interval_low"], row["rate"])
            self.assertGreaterEqual(row["interval_high"], row["rate"])

        # The conversion metric counts buyers, not orders: Ana's two orders
        # make one conversion.
        step.test_metric = "conversion"
        rows = {
            row["variant_id"]: row for row in step.get_experiment_results()["variants"]
        }
        for variant in step.variant_ids:
            buyers = traces.filtered(
                lambda t, v=variant: (
                    t.variant_id == v and t.partner_id in (self.ana | self.bruno)
                )
            )
            self.assertEqual(rows[variant.id]["successes"], len(buyers))

    def test_results_are_xmlrpc_safe(self):
        campaign, step = self.create_experiment([("Control", {}), ("Reto", {})])
        campaign.action_launch()
        campaign.action_execute()

        results = step.get_experiment_results()

        xmlrpc.client.dumps((results,), allow_none=False)
        self.assertEqual(results["step_id"], step.id)
        self.assertEqual(results["metric"], "click")
        self.assertIs(results["winner_variant_id"], False)
        self.assertEqual(
            sum(row["recipients"] for row in results["variants"]), len(self.audience)
        )
        variant = step.variant_ids[0]
        self.assertEqual(
            variant.recipient_count,
            next(
                row["recipients"]
                for row in results["variants"]
                if row["variant_id"] == variant.id
            ),
        )
        xmlrpc.client.dumps((campaign.get_holdout_uplift(),), allow_none=False)

    # ------------------------------------------------------------------
    # Holdout
    # ------------------------------------------------------------------

    def test_holdout_receives_nothing_and_counts_in_uplift(self):
        campaign = self.create_campaign(
            [{"kind": "email"}, {"kind": "email", "parent": 0}],
            holdout_percent=40.0,
        )
        campaign.experiment_seed = 4242
        with freeze_time("2026-05-04 10:00:00"):
            campaign.action_launch()
            campaign.action_execute()
            campaign.action_execute()
        participants = campaign.participant_ids
        holdout = participants.filtered("is_holdout")
        treated = participants - holdout
        self.assertTrue(holdout and treated)

        holdout_traces = self.traces_of(campaign).filtered(
            lambda trace: trace.participant_id.is_holdout
        )
        self.assertEqual(set(holdout_traces.mapped("state")), {"skipped"})
        self.assertEqual(set(holdout_traces.mapped("skip_reason")), {"holdout"})
        self.assertEqual(holdout_traces.step_id, campaign.step_ids.sorted("id")[0])
        mails = self.mails_of(campaign)
        self.assertFalse(set(mails.mapped("res_id")) & set(holdout.partner_id.ids))
        self.assertEqual(set(mails.mapped("res_id")), set(treated.partner_id.ids))

        # Membership follows the seeded hash, so it is the same in every run.
        for participant in participants:
            fraction = assignment_fraction(
                4242, campaign.id, participant.partner_id.id, "holdout"
            )
            self.assertEqual(participant.is_holdout, fraction * 100 < 40.0)

        # Purchases after entry: two treated buyers (one buys twice) and one
        # holdout buyer; an order before entry does not count.
        treated_buyers = treated.partner_id[:2]
        holdout_buyer = holdout.partner_id[:1]
        with freeze_time("2026-05-01 10:00:00"):
            self.buy(holdout.partner_id[-1])
        with freeze_time("2026-05-06 10:00:00"):
            self.buy(treated_buyers[0])
            self.buy(treated_buyers[0])
            self.buy(treated_buyers[1])
            self.buy(holdout_buyer)

        uplift = campaign.get_holdout_uplift()

        n_treated, n_holdout = len(treated), len(holdout)
        self.assertEqual(uplift["treated_count"], n_treated)
        self.assertEqual(uplift["holdout_count"], n_holdout)
        self.assertEqual(uplift["treated_conversions"], 2)
        self.assertEqual(uplift["holdout_conversions"], 1)
        self.assertAlmostEqual(uplift["treated_rate"], 2 / n_treated)
        self.assertAlmostEqual(uplift["holdout_rate"], 1 / n_holdout)
        self.assertAlmostEqual(uplift["uplift"], 2 / n_treated - 1 / n_holdout)
        self.assertLess(uplift["uplift_low"], uplift["uplift"])
        self.assertGreater(uplift["uplift_high"], uplift["uplift"])
        self.assertAlmostEqual(
            uplift["treated_revenue_per_participant"], 300.0 / n_treated
        )
        self.assertAlmostEqual(
            uplift["holdout_revenue_per_participant"], 100.0 / n_holdout
        )
        self.assertAlmostEqual(
            uplift["revenue_uplift"], 300.0 / n_treated - 100.0 / n_holdout
        )
        self.assertLess(uplift["revenue_uplift_low"], uplift["revenue_uplift"])
        self.assertGreater(uplift["revenue_uplift_high"], uplift["revenue_uplift"])

    def test_holdout_percent_bounds(self):
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.create_campaign([{"kind": "email"}], holdout_percent=100.0)

    # ------------------------------------------------------------------
    # Validation and access
    # ------------------------------------------------------------------

    def test_variant_and_test_settings_validation(self):
        campaign, step = self.create_experiment([("Control", {})])
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            step.variant_ids.weight = 0
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            step.test_sample_percent = 0.0
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            step.test_alpha = 0.5
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            step.test_alpha = 0.0
        sms_variant = self.env["crm.campaign.variant"].create(
            {"step_id": step.id, "name": "SMS sin plantilla", "kind": "sms"}
        )
        step.sms_template_id = False
        with self.assertRaises(UserError):
            campaign.action_launch()
        sms_variant.sms_template_id = self.sms_template
        campaign.action_launch()

    def test_sent_variant_cannot_be_deleted(self):
        campaign, step = self.create_experiment([("Control", {}), ("Reto", {})])
        campaign.action_launch()
        campaign.action_execute()
        with self.assertRaises(UserError):
            step.variant_ids.unlink()

    def test_marketing_user_edits_variants(self):
        _campaign, step = self.create_experiment([("Control", {})])
        Variant = self.env["crm.campaign.variant"].with_user(self.user_marketing)
        variant = Variant.create({"step_id": step.id, "name": "Reto", "weight": 3})
        variant.write({"subject": "Nuevo asunto"})
        self.assertEqual(variant.read(["weight"])[0]["weight"], 3)
        with self.assertRaises(AccessError):
            variant.unlink()

    def test_waiting_partner_retries_hourly_without_end(self):
        with freeze_time("2026-05-04 10:00:00"):
            campaign, _step = self.create_experiment(
                [("Control", {}), ("Reto", {})],
                step_values={"test_sample_percent": 20.0},
            )
            campaign.action_launch()
            campaign.action_execute()
        waiting = self.traces_of(campaign).filtered(
            lambda trace: trace.skip_reason == "experiment"
        )
        self.assertTrue(waiting)
        self.assertEqual(
            set(waiting.mapped("scheduled_at")),
            {datetime(2026, 5, 4, 10, 0) + timedelta(hours=1)},
        )
