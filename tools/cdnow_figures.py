"""Compute the demo's expected figures in plain Python, without Odoo.

These functions restate the definitions of crm_segments on a list of ledger
rows, so that the CDNOW demo can compare what Odoo stored with what the
source file implies:

* RFM scores: among the customers with a purchase in the RFM window (the
  ``window_days`` days ending ``today``), each score is
  ``min(5, 1 + floor(5 * percent_rank))`` where ``percent_rank`` is
  ``(rank - 1) / (n - 1)`` over the ascending values, ties sharing the lowest
  rank (PostgreSQL's ``percent_rank()``). Recency ranks the last purchase
  date, frequency the number of purchases, monetary the sum of the amounts,
  all within the window.
* RFM segment: the first rule, by sequence then id, whose three score ranges
  contain the customer's scores; ``lost`` for a customer without a purchase
  in the window.
* Value tier: customers ranked by lifetime value (all their purchases),
  descending; ``cume_dist`` counts the customers with a value greater than or
  equal to theirs. ``one_to_one`` when ``100 * cume_dist`` is at most the
  one-to-one percentage, ``database`` when at most the database percentage,
  else ``mass``.
"""

import datetime
import math
import random
from collections import Counter, namedtuple

LedgerRow = namedtuple("LedgerRow", "customer date amount")


def percent_rank_scores(values):
    """Return ``{key: score}`` for ``{key: value}`` as crm_segments scores them."""
    ordered = sorted(values.values())
    count = len(ordered)
    first_rank = {}
    for position, value in enumerate(ordered, start=1):
        first_rank.setdefault(value, position)
    scores = {}
    for key, value in values.items():
        rank = 0.0 if count == 1 else (first_rank[value] - 1) / (count - 1)
        scores[key] = min(5, 1 + math.floor(5 * rank))
    return scores


def rfm_scores(ledger, today, window_days):
    """Return ``{customer: (recency, frequency, monetary)}`` of the customers
    with a purchase in the window ending ``today``."""
    since = today - datetime.timedelta(days=max(window_days, 1) - 1)
    last_date, frequency, monetary = {}, Counter(), {}
    for row in ledger:
        if not since <= row.date <= today:
            continue
        last_date[row.customer] = max(last_date.get(row.customer, row.date), row.date)
        frequency[row.customer] += 1
        monetary[row.customer] = monetary.get(row.customer, 0) + row.amount
    recency_scores = percent_rank_scores(last_date)
    frequency_scores = percent_rank_scores(dict(frequency))
    monetary_scores = percent_rank_scores(monetary)
    return {
        customer: (
            recency_scores[customer],
            frequency_scores[customer],
            monetary_scores[customer],
        )
        for customer in last_date
    }


def rfm_segments(ledger, today, window_days, rules):
    """Return ``{customer: segment code or None}`` for every customer of the
    ledger.

    ``rules`` are the active ``crm.rfm.segment`` records as dicts with
    ``code``, ``sequence``, ``id`` and the ``*_min``/``*_max`` ranges.
    """
    ordered_rules = sorted(rules, key=lambda rule: (rule["sequence"], rule["id"]))
    scores = rfm_scores(ledger, today, window_days)
    segments = {}
    for customer in {row.customer for row in ledger}:
        if customer not in scores:
            segments[customer] = "lost"
            continue
        recency, frequency, monetary = scores[customer]
        segments[customer] = next(
            (
                rule["code"]
                for rule in ordered_rules
                if rule["recency_min"] <= recency <= rule["recency_max"]
                and rule["frequency_min"] <= frequency <= rule["frequency_max"]
                and rule["monetary_min"] <= monetary <= rule["monetary_max"]
            ),
            None,
        )
    return segments


def value_tiers(ledger, one_to_one_percent, database_percent):
    """Return ``{customer: tier}`` by the "top share of lifetime value" rules."""
    lifetime_value = {}
    for row in ledger:
        lifetime_value[row.customer] = lifetime_value.get(row.customer, 0) + row.amount
    count = len(lifetime_value)
    descending = sorted(lifetime_value.values(), reverse=True)
    # Customers with a value >= v, found once per distinct value.
    at_least = {}
    for position, value in enumerate(descending, start=1):
        at_least[value] = position
    tiers = {}
    for customer, value in lifetime_value.items():
        share = at_least[value] / count * 100
        if share <= one_to_one_percent:
            tiers[customer] = "one_to_one"
        elif share <= database_percent:
            tiers[customer] = "database"
        else:
            tiers[customer] = "mass"
    return tiers


def current_consent(history):
    """Return the latest state of a consent history, or None when the
    history is empty. ``history`` is ``[(date, state)]``."""
    if not history:
        return None
    return max(history)[1]


# Probabilities of the simulated customer responses. An open or a click is
# drawn once per e-mail; a purchase once per participant, from its best
# response: a click, else an open, else the baseline, which holdout
# participants and customers who got no e-mail have too.
PROBABILITIES = {
    "open_first": 0.25,
    "open_reminder": 0.15,
    "open_variant_a": 0.20,
    "open_variant_b": 0.32,
    "click_after_open": 0.35,
    "buy_after_click": 0.30,
    "buy_after_open": 0.08,
    "buy_baseline": 0.03,
}


def draw(seed, kind, key, probability):
    """Return whether the simulated event ``kind`` happens for record ``key``."""
    return random.Random(f"{seed}:{kind}:{key}").random() < probability
