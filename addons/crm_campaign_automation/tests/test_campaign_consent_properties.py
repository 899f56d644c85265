"""Property-based check that campaigns never contact without consent.

Hypothesis generates partners with random contact details and consent
histories: grants and refusals for the marketing and transactional purposes
on every channel (some dated in the past, some with an expired grant),
double opt-in requests left pending, blacklist entries added and lifted,
and suppression lists. It also generates the company's regime per channel for
Spanish partners and a campaign with e-mail, SMS, call and postal steps. The
executor then runs the campaign.

A pure-Python reference model states what each partner allowed when the
executor ran. The current consent is the latest event by date, and a refusal
or grant of marketing by e-mail or SMS moves Odoo's blacklists. A blacklisted
address is never contacted for marketing, and a partner never asked passes
only under an opt-out regime. The test checks every message the campaign
created against it, and the consent state each trace recorded.
"""

import itertools
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.tests import tagged

from odoo.addons.crm_consent.models.crm_consent_suppression_list import (
    address_digest,
)

from .common import CampaignCase

START = datetime(2024, 1, 1)
PAST_EXPIRY = date(2025, 1, 1)
FUTURE_EXPIRY = date(2099, 1, 1)

CHANNELS = ["email", "sms", "phone", "postal"]
PURPOSES = ["marketing", "transactional"]
STEP_CHANNELS = {"email": "email", "sms": "sms", "call": "phone", "postal": "postal"}
# Channel whose blacklist follows marketing consent, by blacklist kind.
BLACKLIST_CHANNELS = {"email": "email", "phone": "sms"}

NUMBERS = itertools.count(1000)

operation = st.one_of(
    st.tuples(
        st.just("record"),
        st.sampled_from(CHANNELS),
        st.sampled_from(PURPOSES),
        st.sampled_from(["granted", "refused", "pending"]),
        st.integers(min_value=0, max_value=400),
        st.sampled_from([None, PAST_EXPIRY, FUTURE_EXPIRY]),
    ),
    st.tuples(
        st.just("double_opt_in"),
        st.sampled_from(PURPOSES),
        st.integers(min_value=0, max_value=400),
    ),
    st.tuples(
        st.just("blacklist"),
        st.sampled_from(["email", "phone"]),
        st.booleans(),
    ),
    st.tuples(st.just("suppress"), st.sampled_from(["email", "sms", "phone"])),
)

partner_spec = st.fixed_dictionaries(
    {
        "country": st.sampled_from(["es", "mx"]),
        "has_email": st.booleans(),
        "has_mobile": st.booleans(),
        "has_street": st.booleans(),
        "operations": st.lists(operation, max_size=6),
    }
)

scenario = st.fixed_dictionaries(
    {
        "partners": st.lists(partner_spec, min_size=1, max_size=4),
        "regimes": st.fixed_dictionaries(
            {
                channel: st.sampled_from([None, "opt_in", "opt_out"])
                for channel in CHANNELS
            }
        ),
        "purpose": st.sampled_from(PURPOSES),
        "step_kinds": st.lists(
            st.sampled_from(list(STEP_CHANNELS)), min_size=1, max_size=4, unique=True
        ),
    }
)


class PartnerReference:
    """Expected consent ledger and blacklist flags of one partner."""

    def __init__(self, spec, partner):
        self.spec = spec
        # Addresses as Odoo stored them: a generated number may fail the
        # phone validation of its country and leave no E.164 form.
        self.addresses = {
            "email": bool(partner.email_normalized),
            "phone": bool(partner.mobile_e164 or partner.phone_e164),
            "postal": bool(partner.street),
        }
        self.events = {}  # (channel, purpose) -> [(date, sequence, state, expiry)]
        self.blacklisted = {"email": False, "phone": False}
        self.sequence = itertools.count()

    def has_address(self, channel):
        return self.addresses["phone" if channel == "sms" else channel]

    def current(self, channel, purpose):
        events = self.events.get((channel, purpose))
        return max(events) if events else None

    def append(self, channel, purpose, moment, state, expiry=None):
        """Append an event; return True when it became the current state."""
        current = self.current(channel, purpose)
        self.events.setdefault((channel, purpose), []).append(
            (moment, next(self.sequence), state, expiry)
        )
        return current is None or moment >= current[0]

    def current_state(self, channel, purpose):
        current = self.current(channel, purpose)
        return current[2] if current else None

    def record(self, channel, purpose, state, moment, expiry=None):
        became_current = self.append(channel, purpose, moment, state, expiry)
        blacklist_kind = {"email": "email", "sms": "phone"}.get(channel)
        if (
            became_current
            and purpose == "marketing"
            and blacklist_kind
            and self.has_address(channel)
            and state != "pending"
        ):
            self.blacklisted[blacklist_kind] = state == "refused"

    def blacklist(self, kind, add, now):
        """Add or lift the partner's address on a blacklist, as the consent
        hooks record it: adding refuses marketing unless refused already,
        lifting grants marketing back only where it was refused."""
        if not self.has_address(BLACKLIST_CHANNELS[kind]):
            return
        if self.blacklisted[kind] == add:
            return
        self.blacklisted[kind] = add
        channel = BLACKLIST_CHANNELS[kind]
        state = self.current_state(channel, "marketing")
        if add and state != "refused":
            self.append(channel, "marketing", now, "refused")
        elif not add and state == "refused":
            self.append(channel, "marketing", now, "granted")

    def suppress(self, channel, now):
        address_channel = "email" if channel == "email" else "sms"
        if not self.has_address(address_channel):
            return
        if self.current_state(channel, "marketing") != "refused":
            self.append(channel, "marketing", now, "refused")

    def expected(self, channel, purpose, today, regimes, purpose_regimes):
        """Return ``(may_contact, consent_state)`` as the gate must decide."""
        blacklist_kind = {"email": "email", "sms": "phone"}.get(channel)
        blacklisted = bool(
            purpose == "marketing"
            and blacklist_kind
            and self.blacklisted[blacklist_kind]
        )
        current = self.current(channel, purpose)
        state = current[2] if current else None
        expiry = current[3] if current else None
        expired = state == "granted" and expiry is not None and expiry < today
        if blacklisted:
            consent_state = "blacklisted"
        elif expired:
            consent_state = "expired"
        else:
            consent_state = state or "none"

        regime = purpose_regimes[purpose]
        if purpose == "marketing" and self.spec["country"] == "es":
            regime = regimes[channel] or regime
        allowed = (state == "granted" and not expired) or (
            state is None and regime == "opt_out"
        )
        may_contact = self.has_address(channel) and not blacklisted and allowed
        return may_contact, consent_state


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestCampaignConsentProperties(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channels = {
            code: cls.env.ref(f"crm_consent.channel_{code}") for code in CHANNELS
        }
        cls.purposes = {
            "marketing": cls.env.ref("crm_consent.purpose_marketing"),
            "transactional": cls.env.ref("crm_consent.purpose_transactional"),
        }
        cls.purpose_regimes = {
            code: purpose.regime for code, purpose in cls.purposes.items()
        }

    def create_partners(self, specs, tag):
        vals_list = []
        for spec in specs:
            number = next(NUMBERS)
            mobile = (
                f"+34 6{10_000_000 + number}"
                if spec["country"] == "es"
                else f"+52 55 {50_000_000 + number}"
            )
            vals_list.append(
                {
                    "name": f"Cliente {number}",
                    "country_id": self.env.ref(f"base.{spec['country']}").id,
                    "email": spec["has_email"] and f"cliente{number}@ejemplo.es",
                    "mobile": spec["has_mobile"] and mobile,
                    "street": spec["has_street"] and f"Calle {number}",
                    "category_id": [(4, tag.id)],
                    "tz": "Europe/Madrid",
                }
            )
        return self.env["res.partner"].create(vals_list)

    def apply(self, partner, reference, operation):
        """Apply one generated change to ``partner`` and to its reference."""
        kind = operation[0]
        now = fields.Datetime.now()
        if kind == "record":
            _kind, channel, purpose, state, day, expiry = operation
            moment = START + timedelta(days=day)
            partner.consent_record(
                channel,
                state,
                purpose_code=purpose,
                date=moment,
                expiry_date=expiry or False,
            )
            reference.record(channel, purpose, state, moment, expiry)
        elif kind == "double_opt_in":
            _kind, purpose, day = operation
            moment = START + timedelta(days=day)
            partner.consent_record(
                "email",
                "granted",
                purpose_code=purpose,
                date=moment,
                double_opt_in=True,
            )
            reference.record("email", purpose, "pending", moment)
        elif kind == "blacklist":
            _kind, blacklist_kind, add = operation
            if blacklist_kind == "email":
                blacklist, address = self.env["mail.blacklist"], partner.email
            else:
                blacklist, address = self.env["phone.blacklist"], partner.mobile_e164
            if address:
                # mail.blacklist takes one address, phone.blacklist a list.
                addresses = address if blacklist_kind == "email" else [address]
                if add:
                    blacklist._add(addresses)
                else:
                    blacklist._remove(addresses)
            reference.blacklist(blacklist_kind, add, now)
        else:
            _kind, channel = operation
            suppression_list = self.env["crm.consent.suppression.list"].create(
                {"name": f"Lista {partner.id}", "channel_id": self.channels[channel].id}
            )
            address = (
                partner.email_normalized if channel == "email" else partner.mobile_e164
            )
            if address:
                suppression_list._insert_digests([address_digest(address)])
                partner._consent_apply_suppression(suppression_list)
            reference.suppress(channel, now)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(scenario=scenario)
    def test_no_contact_without_consent(self, scenario):
        Regime = self.env["crm.consent.regime"]
        Regime.search([]).unlink()
        for channel, regime in scenario["regimes"].items():
            if regime:
                Regime.create(
                    {
                        "company_id": self.env.company.id,
                        "country_id": self.env.ref("base.es").id,
                        "channel_id": self.channels[channel].id,
                        "regime": regime,
                    }
                )
        tag = self.env["res.partner.category"].create({"name": "Audiencia generada"})
        partners = self.create_partners(scenario["partners"], tag)
        references = {}
        for partner, spec in zip(partners, scenario["partners"], strict=True):
            reference = PartnerReference(spec, partner)
            for generated in spec["operations"]:
                self.apply(partner, reference, generated)
            references[partner.id] = reference

        campaign = self.create_campaign(
            [
                {
                    "name": f"Paso {kind}",
                    "kind": kind,
                    "mail_template_id": self.template.id,
                }
                if kind == "postal"
                else {"name": f"Paso {kind}", "kind": kind}
                for kind in scenario["step_kinds"]
            ],
            domain=repr([("category_id", "in", tag.ids)]),
            purpose_id=self.purposes[scenario["purpose"]].id,
        )
        campaign.action_launch()
        campaign.action_execute()

        today = fields.Date.context_today(campaign)
        traces = self.traces_of(campaign)
        self.assertEqual(len(traces), len(partners) * len(scenario["step_kinds"]))
        allowed_by_kind = {kind: set() for kind in STEP_CHANNELS}
        for trace in traces:
            reference = references[trace.partner_id.id]
            may_contact, consent_state = reference.expected(
                STEP_CHANNELS[trace.kind],
                scenario["purpose"],
                today,
                scenario["regimes"],
                self.purpose_regimes,
            )
            context = (scenario, trace.kind, trace.partner_id.id)
            self.assertEqual(trace.consent_state, consent_state, context)
            if may_contact:
                self.assertEqual(trace.state, "done", context)
                allowed_by_kind[trace.kind].add(trace.partner_id.id)
            else:
                self.assertEqual(trace.state, "skipped", context)
                self.assertEqual(trace.skip_reason, "consent", context)

        steps = {step.kind: step for step in campaign.step_ids}
        # A step that contacted nobody has no mailing, and searching on an
        # empty mailing_id would find every mail sent outside campaigns.
        if "email" in steps:
            mails = self.env["mail.mail"]
            if steps["email"].mailing_id:
                mails = mails.search(
                    [("mailing_id", "=", steps["email"].mailing_id.id)]
                )
            self.assertEqual(
                sorted(mails.recipient_ids.ids), sorted(allowed_by_kind["email"])
            )
        if "sms" in steps:
            sms_records = self.env["sms.sms"]
            if steps["sms"].mailing_id:
                sms_records = sms_records.search(
                    [("mailing_id", "=", steps["sms"].mailing_id.id)]
                )
            self.assertEqual(
                sorted(sms_records.partner_id.ids), sorted(allowed_by_kind["sms"])
            )
        if "call" in steps:
            activities = self.env["mail.activity"].search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("summary", "=", steps["call"].name),
                ]
            )
            self.assertEqual(
                sorted(activities.mapped("res_id")), sorted(allowed_by_kind["call"])
            )
        if "postal" in steps:
            letters = traces.filtered(lambda trace: trace.letter_html)
            self.assertEqual(
                sorted(letters.partner_id.ids), sorted(allowed_by_kind["postal"])
            )
