"""Property-based check of the ledger and the gate against a reference model.

Hypothesis generates sequences of consent changes (some dated in the past,
out of order) and blacklist changes for one partner. A small pure-Python
model states the rules. The current state is the latest event by date, and
the ledger keeps every event. A blacklisted address is never contactable.
The state at a past moment is the latest event at or before it.
"""

import itertools
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.tests import tagged

from .common import ConsentCase

START = datetime(2024, 1, 1)

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.sampled_from(["granted", "refused", "pending"]),
            st.integers(min_value=0, max_value=400),
        ),
        st.tuples(st.just("blacklist_add")),
        st.tuples(st.just("blacklist_remove")),
    ),
    min_size=1,
    max_size=8,
)


class ReferenceModel:
    """Expected ledger of one partner for e-mail marketing."""

    def __init__(self):
        self.events = []  # (date, sequence, state, previous_state)
        self.blacklisted = False
        self.sequence = itertools.count()

    def state_at(self, moment):
        past = [event for event in self.events if event[0] <= moment]
        return max(past)[2] if past else False

    def current(self):
        return max(self.events)[2] if self.events else False

    def _append(self, date, state):
        previous = self.state_at(date)
        current_before = max(self.events) if self.events else None
        self.events.append((date, next(self.sequence), state, previous))
        return current_before is None or date >= current_before[0]

    def record(self, state, date):
        became_current = self._append(date, state)
        if became_current and state == "refused":
            self.blacklisted = True
        elif became_current and state == "granted":
            self.blacklisted = False

    def blacklist_add(self, now):
        if self.blacklisted:
            return
        self.blacklisted = True
        if self.current() != "refused":
            self._append(now, "refused")

    def blacklist_remove(self, now):
        if not self.blacklisted:
            return
        self.blacklisted = False
        if self.current() == "refused":
            self._append(now, "granted")


@tagged("post_install", "-at_install")
class TestConsentProperties(ConsentCase):
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(operations=operations)
    def test_ledger_matches_reference(self, operations):
        partner = self.env["res.partner"].create(
            {
                "name": "Cliente generado",
                "email": f"gen{next(EMAIL_NUMBERS)}@ejemplo.es",
            }
        )
        model = ReferenceModel()
        Blacklist = self.env["mail.blacklist"]

        for operation in operations:
            now = fields.Datetime.now()
            if operation[0] == "record":
                _kind, state, day = operation
                date = START + timedelta(days=day)
                partner.consent_record("email", state, date=date)
                model.record(state, date)
            elif operation[0] == "blacklist_add":
                Blacklist._add(partner.email)
                model.blacklist_add(now)
            else:
                Blacklist._remove(partner.email)
                model.blacklist_remove(now)

        events = self.events_of(partner, self.channel_email)
        self.assertEqual(len(events), len(model.events), operations)
        expected_pairs = sorted(
            (sequence, state, previous)
            for _d, sequence, state, previous in model.events
        )
        self.assertEqual(
            [(event.state, event.previous_state) for event in events],
            [(state, previous) for _s, state, previous in expected_pairs],
            operations,
        )
        self.assertEqual(self.state_of(partner, "email"), model.current(), operations)
        contactable = model.current() == "granted" and not model.blacklisted
        self.assertEqual(
            bool(partner.consent_filter_contactable("email")), contactable, operations
        )
        for day in (0, 100, 200, 300, 400):
            moment = START + timedelta(days=day, hours=12)
            self.assertEqual(
                self.state_of(partner, "email", at=moment),
                model.state_at(moment),
                (operations, day),
            )


EMAIL_NUMBERS = itertools.count()
