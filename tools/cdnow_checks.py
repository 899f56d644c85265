"""Headline figures of the CDNOW demo and their independent checks.

Each figure read from Odoo is compared with the same figure computed here in
plain Python. RFM segments and value tiers come from the source file's
purchases plus the orders the simulation confirmed. Consent refusals come
from the shop database's consent histories, opens and clicks from the
simulation's own draws, and the holdout uplift from the participants and
their orders.
"""

import datetime
import time
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import cdnow_figures
from cdnow_figures import PROBABILITIES, draw

ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


class Stage:
    """Print one line per stage: its name, counts and seconds."""

    def __init__(self, name, quiet=False):
        self.name = name
        self.quiet = quiet
        self.counts = {}

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None and not self.quiet:
            counts = ", ".join(f"{key} {value}" for key, value in self.counts.items())
            print(
                f"[{self.name}] {counts} ({time.monotonic() - self.started:.1f} s)",
                flush=True,
            )
        return False


def _local_date(value, tz_name):
    """Return the local date of an Odoo UTC datetime string."""
    moment = datetime.datetime.strptime(value, ODOO_DATETIME).replace(
        tzinfo=datetime.timezone.utc
    )
    return moment.astimezone(ZoneInfo(tz_name)).date()


def check(demo, label, odoo_value, expected):
    """Record and print one comparison."""
    ok = odoo_value == expected
    demo.checks.append(
        {"label": label, "odoo": odoo_value, "expected": expected, "ok": ok}
    )
    mark = "ok" if ok else "MISMATCH"
    print(f"  {label}: {odoo_value} (expected {expected}) {mark}", flush=True)


def source_ledger(demo):
    shift = datetime.timedelta(days=demo.shift_days)
    return [
        cdnow_figures.LedgerRow(row.customer_no, row.date + shift, row.amount)
        for row in demo.purchases
    ]


def order_ledger(demo):
    """Return the ledger rows of the confirmed orders of the shop's company."""
    orders = demo.rpc.call(
        "sale.order",
        "search_read",
        [("company_id", "=", demo.company_id), ("state", "=", "sale")],
        ["partner_id", "date_order", "amount_untaxed", "client_order_ref"],
    )
    rows = []
    for order in orders:
        customer = demo.customer_by_partner.get(order["partner_id"][0])
        if customer is None:
            continue
        # The ledger takes the date part of date_order, which is in UTC.
        day = datetime.datetime.strptime(order["date_order"], ODOO_DATETIME).date()
        amount = Decimal(str(round(order["amount_untaxed"], 2)))
        rows.append(cdnow_figures.LedgerRow(customer, day, amount))
    return rows, orders


def rfm_rules(demo):
    return demo.rpc.call(
        "crm.rfm.segment",
        "search_read",
        [("active", "=", True)],
        [
            "code",
            "sequence",
            "recency_min",
            "recency_max",
            "frequency_min",
            "frequency_max",
            "monetary_min",
            "monetary_max",
        ],
        context={},
    )


def stage_figures(demo):
    """Print the headline figures and compare each with its expected value."""
    with Stage("figures", quiet=True):
        print("[figures]", flush=True)
        rpc = demo.rpc
        rpc.call("res.partner", "profile_refresh", [])
        today = datetime.datetime.now(ZoneInfo(demo.tz)).date()
        rules = rfm_rules(demo)
        source = source_ledger(demo)
        orders_rows, orders = order_ledger(demo)
        ledger = source + orders_rows

        # Import
        customers = {row.customer_no for row in demo.purchases}
        check(demo, "customers imported", len(demo.partner_by_customer), len(customers))
        transactions = rpc.call(
            "crm.customer.transaction",
            "search_count",
            [("source_ref", "=like", f"legacy:{demo.source_id}:%")],
        )
        check(demo, "purchases imported", transactions, len(demo.purchases))

        # RFM segments and tiers, today, with the simulated orders.
        print(f"  Customers per RFM segment on {today}:", flush=True)
        expected_segments = Counter(
            (code or "none")
            for code in cdnow_figures.rfm_segments(
                ledger, today, demo.options.rfm_window_days, rules
            ).values()
        )
        odoo_segments = demo.count_by("rfm_segment")
        for code in sorted(set(expected_segments) | set(odoo_segments)):
            check(
                demo,
                f"RFM segment {code}",
                odoo_segments.get(code, 0),
                expected_segments.get(code, 0),
            )
        expected_tiers = Counter(
            cdnow_figures.value_tiers(
                ledger, demo.options.one_to_one_percent, demo.options.database_percent
            ).values()
        )
        odoo_tiers = demo.count_by("value_tier")
        for tier in sorted(set(expected_tiers) | set(odoo_tiers)):
            check(
                demo,
                f"value tier {tier}",
                odoo_tiers.get(tier, 0),
                expected_tiers.get(tier, 0),
            )
        demo.results["rfm_segments"] = odoo_segments
        demo.results["value_tiers"] = odoo_tiers

        check_campaigns(demo, source, rules, orders)


def consent_state(demo, customer, channel):
    return cdnow_figures.current_consent(demo.histories.get((customer, channel)))


def audience_at_refresh(demo, source, rules, segment_key):
    """Return the customers in the segment when the demo refreshed it.

    The demo refreshes its segments once, right after the import, when the
    ledger contains the source's purchases only.
    """
    refresh_date = demo.segment_refresh_dates[demo.segment_ids[segment_key]]
    day = _local_date(refresh_date, demo.tz)
    if segment_key == "one_to_one":
        tiers = cdnow_figures.value_tiers(
            source, demo.options.one_to_one_percent, demo.options.database_percent
        )
        return {customer for customer, tier in tiers.items() if tier == "one_to_one"}
    segments = cdnow_figures.rfm_segments(
        source, day, demo.options.rfm_window_days, rules
    )
    return {customer for customer, code in segments.items() if code == segment_key}


def check_campaigns(demo, source, rules, orders):
    rpc = demo.rpc
    tiers_at_launch = cdnow_figures.value_tiers(
        source, demo.options.one_to_one_percent, demo.options.database_percent
    )

    # Participants
    participant_fields = ["partner_id", "state"]
    if demo.has_experiments:
        participant_fields.append("is_holdout")
    participants = rpc.call(
        "crm.campaign.participant",
        "search_read",
        [("campaign_id", "=", demo.reactivation_id)],
        participant_fields,
    )
    by_participant = {row["id"]: row for row in participants}
    enrolled = {
        demo.customer_by_partner.get(row["partner_id"][0]) for row in participants
    }
    expected_audience = audience_at_refresh(demo, source, rules, "at_risk")
    print("  Re-activation campaign (at-risk segment):", flush=True)
    check(demo, "participants", len(enrolled), len(expected_audience))
    check(
        demo,
        "participants outside the expected audience",
        len(enrolled - expected_audience),
        0,
    )
    holdout = {row["id"] for row in participants if row.get("is_holdout")}
    buyers = {
        order["client_order_ref"].rsplit("-", 1)[-1]
        for order in orders
        if (order["client_order_ref"] or "").startswith("CDNOW-DEMO-")
    }

    # E-mails, step by step
    traces = demo.read_email_traces([])
    traces_by_id = {trace["id"]: trace for trace in traces}
    steps = {}
    for trace in traces:
        steps.setdefault(tuple(trace["step_id"]), []).append(trace)
    root = [step for step, rows in steps.items() if not rows[0]["parent_trace_id"]]
    statuses = demo.read_mailing_statuses(traces)
    messages = demo.fetch_messages()
    refusals = Counter()
    for step in sorted(steps, key=lambda item: item[0]):
        rows = steps[step]
        is_root = step in root
        outcome = Counter()
        expected = Counter()
        opened = clicked = expected_opened = expected_clicked = 0
        for trace in rows:
            if trace["state"] == "scheduled":
                continue
            key = trace["skip_reason"] if trace["state"] != "done" else "sent"
            outcome[key] += 1
            customer = demo.customer_by_partner.get(trace["partner_id"][0])
            if trace["skip_reason"] in ("goal", "stopped"):
                # A journey ends before a step when the participant bought
                # first, which only the simulation's orders can cause.
                bought = str(trace["participant_id"][0]) in buyers
                expected["goal" if bought else "no order"] += 1
            elif is_root:
                if tiers_at_launch.get(customer) == "one_to_one":
                    expected["filter"] += 1
                elif trace["participant_id"][0] in holdout:
                    expected["holdout"] += 1
                elif consent_state(demo, customer, "email") != "granted":
                    expected["consent"] += 1
                else:
                    expected["sent"] += 1
            else:
                parent = traces_by_id[trace["parent_trace_id"][0]]
                parent_opened = draw(
                    demo.seed, "open", parent["id"], demo.open_probability(parent)
                )
                expected["trigger" if parent_opened else "sent"] += 1
            if trace["state"] == "done":
                status = statuses.get(trace["id"])
                opened += status in ("open", "click")
                clicked += status == "click"
                will_open = draw(
                    demo.seed, "open", trace["id"], demo.open_probability(trace)
                )
                expected_opened += will_open
                expected_clicked += will_open and draw(
                    demo.seed, "click", trace["id"], PROBABILITIES["click_after_open"]
                )
        name = step[1]
        if is_root and demo.options.simulate_days > demo.options.test_days:
            check(
                demo,
                f"{name}: still waiting",
                sum(1 for trace in rows if trace["state"] == "scheduled"),
                0,
            )
        for key in sorted(set(outcome) | set(expected)):
            check(demo, f"{name}: {key}", outcome.get(key, 0), expected.get(key, 0))
        received = sum(
            1 for trace in rows if trace["state"] == "done" and trace["id"] in messages
        )
        check(
            demo, f"{name}: e-mails received by the catcher", received, outcome["sent"]
        )
        check(demo, f"{name}: opened", opened, expected_opened)
        check(demo, f"{name}: clicked", clicked, expected_clicked)
        for reason in ("consent", "pressure"):
            refusals[reason] += outcome.get(reason, 0)
        demo.results.setdefault("steps", {})[name] = dict(outcome, opened=opened)
    demo.results["refused"] = dict(refusals)

    # One-to-one calls
    call_traces = rpc.call(
        "crm.campaign.trace",
        "search_read",
        [("campaign_id", "=", demo.one_to_one_id)],
        ["partner_id", "state", "skip_reason"],
    )
    members = audience_at_refresh(demo, source, rules, "one_to_one")
    print("  One-to-one treatment (top tier):", flush=True)
    check(demo, "one-to-one participants", len(call_traces), len(members))
    check(
        demo,
        "personal calls planned",
        sum(1 for trace in call_traces if trace["state"] == "done"),
        sum(
            1
            for customer in members
            if consent_state(demo, customer, "phone") == "granted"
        ),
    )
    check(
        demo,
        "calls refused for consent",
        sum(1 for trace in call_traces if trace["skip_reason"] == "consent"),
        sum(
            1
            for customer in members
            if consent_state(demo, customer, "phone") != "granted"
        ),
    )

    # Conversions: holdout against treated participants
    treated = [pid for pid in by_participant if pid not in holdout]
    rate = lambda group: (  # noqa: E731
        sum(1 for pid in group if str(pid) in buyers) / len(group) if group else 0.0
    )
    treated_rate, holdout_rate = rate(treated), rate(sorted(holdout))
    demo.results["conversion"] = {
        "treated": treated_rate,
        "holdout": holdout_rate,
        "uplift": treated_rate - holdout_rate,
    }
    print(
        f"  Conversion: treated {treated_rate:.2%} of {len(treated)}, holdout "
        f"{holdout_rate:.2%} of {len(holdout)}, uplift "
        f"{treated_rate - holdout_rate:+.2%}",
        flush=True,
    )
    if demo.has_experiments:
        check_holdout(demo, treated, sorted(holdout), buyers)
        check_experiments(demo, traces, statuses)


def check_holdout(demo, treated, holdout, buyers):
    uplift = demo.rpc.call("crm.campaign", "get_holdout_uplift", [demo.reactivation_id])
    demo.results["holdout_uplift"] = uplift
    print(
        f"  Holdout uplift (Odoo): {uplift['uplift']:+.2%} "
        f"[{uplift['uplift_low']:+.2%}, {uplift['uplift_high']:+.2%}]",
        flush=True,
    )
    check(demo, "treated participants", uplift["treated_count"], len(treated))
    check(demo, "holdout participants", uplift["holdout_count"], len(holdout))
    for label, group in (("treated", treated), ("holdout", holdout)):
        check(
            demo,
            f"{label} conversions",
            uplift[f"{label}_conversions"],
            sum(1 for pid in group if str(pid) in buyers),
        )


def check_experiments(demo, traces, statuses):
    """Compare the A/B test's recipients and opens per variant with the
    test-sample e-mails sent and the simulation's open draws."""
    steps = demo.rpc.call(
        "crm.campaign.step",
        "search",
        [("campaign_id", "=", demo.reactivation_id), ("variant_ids", "!=", False)],
    )
    for step_id in steps:
        results = demo.rpc.call(
            "crm.campaign.step", "get_experiment_results", [step_id]
        )
        demo.results.setdefault("experiments", {})[step_id] = results
        names = {row["variant_id"]: row["name"] for row in results["variants"]}
        winner = results.get("winner_variant_id")
        winner = winner[0] if isinstance(winner, list) else winner
        print(
            f"  A/B test ({results['metric']}), state {results['state']}, winner "
            f"{names.get(winner, 'none')}:",
            flush=True,
        )
        sample = [
            trace
            for trace in traces
            if trace["step_id"][0] == step_id
            and trace["state"] == "done"
            and trace.get("is_test_sample")
        ]
        for variant in results["variants"]:
            mine = [t for t in sample if t["variant"] == variant["name"]]
            print(
                f"    {variant['name']}: {variant['successes']} opened of "
                f"{variant['recipients']} ({variant['rate']:.1%}), probability "
                f"of being the best {variant['probability_best']:.1%}",
                flush=True,
            )
            check(
                demo, f"{variant['name']}: recipients", variant["recipients"], len(mine)
            )
            check(
                demo,
                f"{variant['name']}: opened",
                variant["successes"],
                sum(
                    1
                    for t in mine
                    if draw(demo.seed, "open", t["id"], demo.open_probability(t))
                ),
            )
