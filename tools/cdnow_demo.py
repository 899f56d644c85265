#!/usr/bin/env python3
"""Run the suite's end-to-end story on the CDNOW purchases of a running Odoo.

The script drives an Odoo 18.0 server where the five addons are installed,
over XML-RPC and HTTP only, as an integrator would:

1. ``data``: find the CDNOW file of the ``lifetimes`` package (the 69,659
   purchases of ``CDNOW_master.txt`` by default, ``--file sample`` for the
   2,357 customers of ``CDNOW_sample.txt``).
2. ``shop``: build a legacy shop's SQLite database from it with
   ``tools/cdnow_shop.py``: invented Spanish-speaking customers and consent
   histories. Dates are shifted by whole weeks so that the latest purchase
   falls in the week before the first run. The shift is stored in the Odoo
   database and reused by later runs.
3. ``setup``: a company of its own, "Discos Compás", whose customers are
   ranked apart from the rest of the database; US dollars as in the file;
   an RFM window of ``--rfm-window-days``; value tiers by top share of
   lifetime value; campaigns allowed at any hour of any day, because the
   simulated days below pass in minutes.
4. ``import``: a ``crm.legacy.source`` of kind ``sql`` on that SQLite file,
   run with ``action_run()``.
5. ``profiles``: ``res.partner.profile_refresh()``: profiles, RFM, tiers.
6. ``segments``: champions, at risk, hibernating, and the one-to-one tier.
7. ``campaigns``: a re-activation campaign for the at-risk segment (e-mail,
   then a reminder to those who did not open it after 3 days; goal:
   purchase; an A/B test of the first e-mail and a holdout group when the
   campaign addon provides them), and a personal call for the one-to-one
   tier, both launched with ``action_launch()``.
8. ``simulate``: ``--simulate-days`` days pass. The executor runs due steps
   when ``scheduled_at`` is in the past, so each simulated day moves the
   ``scheduled_at`` of the steps due by then back to now and runs the
   executor and the mail queue through their scheduled actions
   (``ir.cron.method_direct_trigger``). Opens and clicks are GET requests on
   the tracking pixel and tracked links found in the e-mails received by the
   SMTP catcher; purchases are confirmed ``sale.order``. Every decision is
   drawn from ``random.Random(f"{seed}:{kind}:{record id}")`` with the
   probabilities of ``PROBABILITIES``, so a re-run repeats it.
9. ``reports``: the campaign's PDF and XLSX written to ``--output``.
10. ``figures``: the headline figures, each compared with the same figure
    computed in plain Python from the source file (``tools/cdnow_figures.py``)
    or from the simulation's own decisions. Any mismatch exits with status 1.

Running it again on the same database creates nothing new: the company,
source, segments and campaigns are found by name, the import finds its
customers and transactions by their keys, orders by their reference, and
only the days not yet simulated are simulated.

The import of the master file is one XML-RPC call of several minutes, so
the Odoo server needs ``--limit-time-real`` well above its default of 120 s
(``tools/run_demo.py`` and docker-compose.yml set 3600); past the limit,
Odoo's threaded server stops.

Example: ``python3 tools/cdnow_demo.py --url http://127.0.0.1:8069
--database crm_demo --file sample``.
"""

import argparse
import base64
import datetime
import http.client
import http.cookiejar
import json
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cdnow_data
import cdnow_shop
from cdnow_checks import Stage, stage_figures
from cdnow_figures import PROBABILITIES, draw

COMPANY_NAME = "Discos Compás"
SOURCE_NAME = "Tienda Discos Compás (SQLite)"
PARAM_PREFIX = "crm_cdnow_demo."
ORDER_REF_PREFIX = "CDNOW-DEMO-"
COMPANY_TZ = "Europe/Madrid"

SEGMENTS = {
    "champions": ("Campeones (CDNOW)", ["champions"]),
    "at_risk": ("En riesgo (CDNOW)", ["at_risk"]),
    "hibernating": ("Hibernando (CDNOW)", ["hibernating"]),
}
ONE_TO_ONE_SEGMENT = "Clientes uno a uno (CDNOW)"
REACTIVATION_NAME = "Reactivación de clientes en riesgo (CDNOW)"
ONE_TO_ONE_NAME = "Atención personal uno a uno (CDNOW)"
REMINDER_DELAY_DAYS = 3

# A simulated order: 1 to 3 CDs at this unit price, in the company currency.
CD_PRICE = 12.99

# The offer links point at the Odoo server itself (``{base_url}``), which
# shows a "page not found": Odoo's link tracker fetches every tracked page to
# read its title, and the demo must not reach any other host.
MAIL_BODY_FIRST = """
<p>Hola {{ object.name }}:</p>
<p>Hace tiempo que no te vemos por Discos Compás y queremos recuperarte: esta
semana tienes un 15 % de descuento en todo el catálogo.</p>
<p><a href="{base_url}/ofertas?c=reactivacion">Ver las ofertas</a></p>
<p>Un saludo,<br/>El equipo de Discos Compás</p>
"""
MAIL_BODY_REMINDER = """
<p>Hola {{ object.name }}:</p>
<p>Tu descuento del 15 % en Discos Compás termina pronto.</p>
<p><a href="{base_url}/ofertas?c=recordatorio">Aprovechar el descuento</a></p>
<p>Un saludo,<br/>El equipo de Discos Compás</p>
"""


# Fault code of odoo.exceptions.UserError in Odoo's XML-RPC responses.
USER_ERROR_FAULT_CODE = 2


class DemoError(Exception):
    """Raised when a stage cannot go on; the message names what to fix.

    ``detail`` keeps the server's traceback of a failed XML-RPC call.
    """

    def __init__(self, message, detail="", fault_code=None):
        super().__init__(message)
        self.detail = detail
        self.fault_code = fault_code


# ----------------------------------------------------------------------
# Odoo access
# ----------------------------------------------------------------------


class OdooRpc:
    """XML-RPC access to one database, with a context added to every call."""

    def __init__(self, url, database, login, password):
        self.url = url.rstrip("/")
        self.database = database
        self.password = password
        common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
        try:
            self.uid = common.authenticate(database, login, password, {})
        except (OSError, xmlrpc.client.Fault) as error:
            raise DemoError(
                f"cannot reach Odoo at {self.url} ({error}); start it or pass --url."
            ) from error
        if not self.uid:
            raise DemoError(
                f"login {login!r} was rejected by {self.url} on database {database!r}."
            )
        self.models = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/object", allow_none=True
        )
        self.context = {}

    def call(self, model, method, *args, **kwargs):
        kwargs["context"] = {**self.context, **kwargs.get("context", {})}
        try:
            return self.models.execute_kw(
                self.database,
                self.uid,
                self.password,
                model,
                method,
                list(args),
                kwargs,
            )
        except xmlrpc.client.Fault as fault:
            message = fault.faultString.strip().splitlines()[-1]
            raise DemoError(
                f"{model}.{method} failed: {message}",
                fault.faultString,
                fault.faultCode,
            ) from fault
        except (
            OSError,
            http.client.HTTPException,
            xmlrpc.client.ProtocolError,
        ) as error:
            raise DemoError(
                f"{model}.{method} failed: the connection to Odoo broke ({error}). "
                "If the server stopped, the call ran past its --limit-time-real "
                "(120 s by default): restart Odoo with --limit-time-real=3600."
            ) from error

    def ref(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.call(
            "ir.model.data",
            "search_read",
            [("module", "=", module), ("name", "=", name)],
            fields=["res_id"],
        )
        if not rows:
            raise DemoError(f"record {xmlid} is missing; is its addon installed?")
        return rows[0]["res_id"]

    def has_fields(self, model, names):
        found = self.call("ir.model.fields", "search_count", [
            ("model", "=", model), ("name", "in", list(names))
        ])  # fmt: skip
        return found == len(names)

    def run_cron(self, xmlid, attempts=30):
        """Run a scheduled action now, waiting while a cron worker runs it."""
        cron_id = self.ref(xmlid)
        for _attempt in range(attempts):
            try:
                return self.call("ir.cron", "method_direct_trigger", [cron_id])
            except DemoError as error:
                # ir.cron._try_lock raises a UserError, which XML-RPC returns
                # with fault code 2 and a translated message only, while a
                # cron worker runs the job.
                if error.fault_code != USER_ERROR_FAULT_CODE:
                    raise
                time.sleep(2)
        raise DemoError(f"scheduled action {xmlid} stayed busy; try again later.")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keep redirects unfollowed: tracked links lead to outside sites."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class OdooHttp:
    """HTTP session on the Odoo server, bound to one database by a cookie."""

    user_agent = "Mozilla/5.0 (X11; Linux x86_64) CDNOW demo"

    def __init__(self, url, database):
        self.url = url.rstrip("/")
        self.base = urllib.parse.urlsplit(self.url)
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )
        # On a server with several databases, the db parameter selects one
        # and stores it in the session cookie.
        self.get(f"/web/login?db={urllib.parse.quote(database)}")

    def local_url(self, url):
        """Return ``url`` pointed at this server, whatever host it names."""
        parts = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit(
            (self.base.scheme, self.base.netloc, parts.path, parts.query, "")
        )

    def get(self, url, data=None, content_type=None, follow_local=False):
        """Return the status and body of ``url``. Redirects are not followed,
        except, with ``follow_local``, those to another path of this server,
        such as the language prefix Odoo adds when several are installed."""
        if url.startswith("/"):
            url = self.url + url
        request = urllib.request.Request(self.local_url(url), data=data)
        request.add_header("User-Agent", self.user_agent)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with self.opener.open(request, timeout=300) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            if 300 <= error.code < 400:
                location = error.headers.get("Location", "")
                if follow_local and location.startswith("/"):
                    return self.get(location, follow_local=False)
                return error.code, b""
            raise DemoError(f"GET {url} failed with HTTP {error.code}.") from error

    def authenticate(self, database, login, password):
        payload = {
            "jsonrpc": "2.0",
            "params": {"db": database, "login": login, "password": password},
        }
        _status, body = self.get(
            "/web/session/authenticate",
            data=json.dumps(payload).encode(),
            content_type="application/json",
        )
        if "error" in json.loads(body or b"{}"):
            raise DemoError(f"HTTP login of {login!r} failed.")


# ----------------------------------------------------------------------
# The demo
# ----------------------------------------------------------------------


class CdnowDemo:
    def __init__(self, options):
        self.options = options
        self.rpc = OdooRpc(
            options.url, options.database, options.login, options.password
        )
        self.seed = options.seed
        self.tz = COMPANY_TZ
        self.results = {}
        self.checks = []

    # Parameters stored in the database, so that a re-run reuses them.
    def get_param(self, key):
        return self.rpc.call(
            "ir.config_parameter", "get_param", PARAM_PREFIX + key
        )  # fmt: skip

    def set_param(self, key, value):
        self.rpc.call(
            "ir.config_parameter", "set_param", PARAM_PREFIX + key, str(value)
        )

    def find_or_create(self, model, domain, values):
        ids = self.rpc.call(model, "search", domain, limit=1)
        if ids:
            return ids[0], False
        return self.rpc.call(model, "create", values), True

    # -- 1, 2: data and shop ---------------------------------------------

    def stage_data(self):
        with Stage("data") as stage:
            name = {
                "master": cdnow_data.MASTER_FILE,
                "sample": cdnow_data.SAMPLE_FILE,
            }.get(self.options.file)
            path = (
                Path(self.options.file)
                if name is None
                else cdnow_data.find_cdnow_file(name, self.options.workdir)
            )
            self.purchases = cdnow_shop.read_purchases(path)
            self.source_path = path
            stage.counts = {
                "file": path.name,
                "purchases": len(self.purchases),
                "customers": len({row.customer_no for row in self.purchases}),
            }

    def stage_shop(self):
        with Stage("shop") as stage:
            stored_shift = self.get_param("shift_days")
            if stored_shift:
                shift = int(stored_shift)
            else:
                shift = cdnow_shop.compute_shift_days(
                    self.purchases, datetime.date.today()
                )
                self.set_param("shift_days", shift)
            self.shift_days = shift
            self.shop_path = Path(self.options.workdir).resolve() / (
                f"shop-{self.source_path.stem.lower()}-{self.seed}.sqlite"
            )
            info = cdnow_shop.read_shop_info(self.shop_path)
            expected = {
                "format_version": cdnow_shop.FORMAT_VERSION,
                "seed": str(self.seed),
                "shift_days": str(shift),
                "purchases": str(len(self.purchases)),
            }
            if info != expected:
                counts = cdnow_shop.build_shop_database(
                    self.shop_path, self.purchases, self.seed, shift
                )
                stage.counts = {"built": self.shop_path.name, **counts}
            else:
                stage.counts = {"reused": self.shop_path.name}
            stage.counts["date shift (days)"] = shift
            self.histories = cdnow_shop.read_consent_histories(self.shop_path)

    # -- 3: company and settings --------------------------------------------

    def stage_setup(self):
        with Stage("setup") as stage:
            rpc = self.rpc
            usd = rpc.call(
                "res.currency",
                "search",
                [("name", "=", "USD"), ("active", "in", [True, False])],
            )
            rpc.call("res.currency", "write", usd, {"active": True})
            # No country: Odoo would install that country's accounting
            # localisation (l10n_es for Spain) when the company is created.
            # No e-mail or website either, and partner_autocomplete marked as
            # done: it would look the company's domain up on Odoo's servers.
            values = {"name": COMPANY_NAME, "currency_id": usd[0]}
            if rpc.has_fields("res.company", ["iap_enrich_auto_done"]):
                values["iap_enrich_auto_done"] = True
            company_id, created = self.find_or_create(
                "res.company", [("name", "=", COMPANY_NAME)], values
            )
            self.company_id = company_id
            rpc.call(
                "res.users",
                "write",
                [rpc.uid],
                {"company_ids": [(4, company_id)], "tz": COMPANY_TZ},
            )
            if rpc.call("res.lang", "search_count", [("code", "=", "es_ES")]):
                rpc.call("res.users", "write", [rpc.uid], {"lang": "es_ES"})
            rpc.context = {
                "allowed_company_ids": [company_id],
                "tz": COMPANY_TZ,
                "tracking_disable": True,
            }
            rpc.call(
                "res.company",
                "write",
                [company_id],
                {
                    "rfm_window_days": self.options.rfm_window_days,
                    "tier_one_to_one_rule": "top_percent",
                    "tier_one_to_one_percent": self.options.one_to_one_percent,
                    "tier_database_rule": "top_percent",
                    "tier_database_percent": self.options.database_percent,
                    "campaign_hour_from": 0.0,
                    "campaign_hour_to": 24.0,
                    **{f"campaign_weekday_{day}": True for day in range(7)},
                },
            )
            # Tracking pixels and links in the e-mails point at this URL.
            rpc.call(
                "ir.config_parameter", "set_param", "web.base.url", self.options.url
            )
            self.product_id, _new = self.find_or_create(
                "product.product",
                [("default_code", "=", "CDNOW-CD")],
                {
                    "name": "CD (demo CDNOW)",
                    "default_code": "CDNOW-CD",
                    "type": "service",
                    "list_price": CD_PRICE,
                    "taxes_id": [(5, 0, 0)],
                    "company_id": False,
                },
            )
            stage.counts = {"company": COMPANY_NAME, "created": created}

    # -- 4: import -------------------------------------------------------

    def stage_import(self):
        with Stage("import") as stage:
            rpc = self.rpc
            values = {
                "name": SOURCE_NAME,
                "kind": "sql",
                "company_id": self.company_id,
                "dsn": f"sqlite:///{self.shop_path}",
                "query": cdnow_shop.IMPORT_QUERY,
                "country_id": rpc.call("res.country", "search", [("code", "=", "ES")])[
                    0
                ],
                "date_format": "%Y-%m-%d",
                "decimal_separator": ".",
                "thousands_separator": False,
                "batch_size": 5000,
                # The SQLite reader's deadline runs until the last row is
                # fetched, so it bounds the whole import, not only the query.
                "timeout": 3600,
            }
            source_ids = rpc.call(
                "crm.legacy.source",
                "search",
                [("name", "=", SOURCE_NAME), ("company_id", "=", self.company_id)],
            )
            if source_ids:
                rpc.call("crm.legacy.source", "write", source_ids, values)
                source_id = source_ids[0]
            else:
                values["mapping_ids"] = [
                    (0, 0, {"column": column, "target": target})
                    for column, target in cdnow_shop.IMPORT_MAPPING.items()
                ]
                source_id = rpc.call("crm.legacy.source", "create", values)
            self.source_id = source_id
            run_id = rpc.call("crm.legacy.source", "action_run", [source_id])
            [run] = rpc.call(
                "crm.legacy.run",
                "read",
                [run_id],
                [
                    "state",
                    "rows_read",
                    "partners_created",
                    "partners_matched",
                    "transactions_created",
                    "consents_recorded",
                    "rows_rejected",
                    "rows_to_review",
                    "message",
                ],
            )
            if run["state"] != "done":
                raise DemoError(f"the import failed: {run['message']}")
            self.results["import"] = run
            stage.counts = {
                "rows": run["rows_read"],
                "customers created": run["partners_created"],
                "matched": run["partners_matched"],
                "transactions created": run["transactions_created"],
                "consent events": run["consents_recorded"],
                "rejected": run["rows_rejected"],
                "to review": run["rows_to_review"],
            }
            self.load_customer_keys()

    def load_customer_keys(self):
        links = self.rpc.call(
            "crm.legacy.partner.link",
            "search_read",
            [("source_id", "=", self.source_id)],
            ["external_key", "partner_id"],
        )
        self.partner_by_customer = {
            link["external_key"]: link["partner_id"][0] for link in links
        }
        self.customer_by_partner = {
            partner: key for key, partner in self.partner_by_customer.items()
        }

    # -- 5, 6: profiles and segments ------------------------------------

    def stage_profiles(self):
        with Stage("profiles") as stage:
            self.rpc.call("res.partner", "profile_refresh", [])
            segments = self.count_by("rfm_segment")
            tiers = self.count_by("value_tier")
            stage.counts = {
                "customers": sum(segments.values()),
                "segments": dict(sorted(segments.items())),
                "tiers": dict(sorted(tiers.items())),
            }

    def count_by(self, field):
        groups = self.rpc.call(
            "res.partner",
            "read_group",
            [("profile_company_id", "=", self.company_id), ("purchase_count", ">", 0)],
            [field],
            [field],
            lazy=False,
        )
        return {group[field] or "none": group["__count"] for group in groups}

    def stage_segments(self):
        with Stage("segments") as stage:
            rpc = self.rpc
            rules = {
                rule["code"]: rule["id"]
                for rule in rpc.call(
                    "crm.rfm.segment", "search_read", [], ["code"], context={}
                )
            }
            self.segment_ids = {}
            domain = repr([("profile_company_id", "=", self.company_id)])
            definitions = [
                (key, name, {"rfm_segment_ids": [(6, 0, [rules[c] for c in codes])]})
                for key, (name, codes) in SEGMENTS.items()
            ] + [("one_to_one", ONE_TO_ONE_SEGMENT, {"tier_one_to_one": True})]
            for key, name, criteria in definitions:
                segment_id, created = self.find_or_create(
                    "crm.segment",
                    [("name", "=", name), ("company_id", "=", self.company_id)],
                    {
                        "name": name,
                        "company_id": self.company_id,
                        "domain": domain,
                        # Refreshed by this script only, so that the campaigns'
                        # audience stays the one they were launched with.
                        "auto_refresh": False,
                        **criteria,
                    },
                )
                if created:
                    rpc.call("crm.segment", "action_refresh", [segment_id])
                self.segment_ids[key] = segment_id
            members = rpc.call(
                "crm.segment",
                "read",
                list(self.segment_ids.values()),
                ["name", "member_count", "refresh_date"],
            )
            self.segment_refresh_dates = {
                row["id"]: row["refresh_date"] for row in members
            }
            stage.counts = {row["name"]: row["member_count"] for row in members}

    # -- 7: campaigns ---------------------------------------------------

    def create_template(self, name, subject, body):
        template_id, _created = self.find_or_create(
            "mail.template",
            [("name", "=", name)],
            {
                "name": name,
                "model_id": self.rpc.call(
                    "ir.model", "search", [("model", "=", "res.partner")]
                )[0],
                "subject": subject,
                "body_html": body.replace("{base_url}", self.options.url.rstrip("/")),
                "email_from": f"{COMPANY_NAME} <ventas@discos-compas.example.com>",
                "lang": "{{ object.lang }}",
            },
        )
        return template_id

    def stage_campaigns(self):
        with Stage("campaigns") as stage:
            rpc = self.rpc
            self.has_experiments = rpc.has_fields(
                "crm.campaign.step",
                ["variant_ids", "test_sample_percent", "test_metric", "test_state"],
            ) and rpc.has_fields("crm.campaign", ["holdout_percent"])
            if not self.has_experiments:
                print(
                    "  note: this Odoo has no A/B variants or holdout groups on "
                    "campaigns; the re-activation campaign runs without them.",
                    flush=True,
                )
            first = self.create_template(
                "CDNOW: te echamos de menos",
                "Te echamos de menos: 15 % de descuento",
                MAIL_BODY_FIRST,
            )
            reminder = self.create_template(
                "CDNOW: recordatorio",
                "Último aviso: tu 15 % de descuento termina pronto",
                MAIL_BODY_REMINDER,
            )
            self.reactivation_id = self.ensure_reactivation(first, reminder)
            self.one_to_one_id = self.ensure_one_to_one()
            campaigns = rpc.call(
                "crm.campaign",
                "read",
                [self.reactivation_id, self.one_to_one_id],
                ["name", "state", "participant_count", "launch_date"],
            )
            for campaign in campaigns:
                if campaign["state"] == "draft":
                    rpc.call("crm.campaign", "action_launch", [campaign["id"]])
            campaigns = rpc.call(
                "crm.campaign",
                "read",
                [self.reactivation_id, self.one_to_one_id],
                ["name", "state", "participant_count", "launch_date"],
            )
            self.launch_date = datetime.datetime.fromisoformat(
                campaigns[0]["launch_date"]
            )
            stage.counts = {
                campaign["name"]: f"{campaign['participant_count']} participants"
                for campaign in campaigns
            }
            stage.counts["A/B test and holdout"] = self.has_experiments

    def ensure_reactivation(self, first_template, reminder_template):
        rpc = self.rpc
        ids = rpc.call(
            "crm.campaign",
            "search",
            [("name", "=", REACTIVATION_NAME), ("company_id", "=", self.company_id)],
        )
        if ids:
            return ids[0]
        values = {
            "name": REACTIVATION_NAME,
            "company_id": self.company_id,
            "segment_ids": [(6, 0, [self.segment_ids["at_risk"]])],
            "goal": "purchase",
            "tz": COMPANY_TZ,
        }
        if self.has_experiments:
            values["holdout_percent"] = self.options.holdout_percent
        campaign_id = rpc.call("crm.campaign", "create", values)
        first_values = {
            "campaign_id": campaign_id,
            "name": "Te echamos de menos",
            "kind": "email",
            "trigger": "begin",
            "mail_template_id": first_template,
            # One-to-one customers get a personal call instead.
            "tier_filter": "automated",
        }
        if self.has_experiments:
            first_values.update(self.experiment_values(first_template))
        first_step = rpc.call("crm.campaign.step", "create", first_values)
        rpc.call(
            "crm.campaign.step",
            "create",
            {
                "campaign_id": campaign_id,
                "name": "Recordatorio a quien no abrió",
                "kind": "email",
                "parent_id": first_step,
                "trigger": "not_opened",
                "interval_number": REMINDER_DELAY_DAYS,
                "interval_type": "days",
                "mail_template_id": reminder_template,
                "tier_filter": "automated",
            },
        )
        return campaign_id

    def experiment_values(self, template_id):
        return {
            "test_metric": "open",
            "test_sample_percent": self.options.test_sample_percent,
            # Simulated opens come seconds after the sending, which the
            # experiment would otherwise discard as opens by mail scanners.
            "test_exclude_machine_opens": False,
            "variant_ids": [
                (
                    0,
                    0,
                    {
                        "name": "A: descuento",
                        "weight": 50,
                        "subject": "Te echamos de menos: 15 % de descuento",
                        "mail_template_id": template_id,
                    },
                ),
                (
                    0,
                    0,
                    {
                        "name": "B: personal",
                        "weight": 50,
                        "subject": "{{ object.name }}, vuelve con un 15 % menos",
                        "mail_template_id": template_id,
                    },
                ),
            ],
        }

    def ensure_one_to_one(self):
        rpc = self.rpc
        ids = rpc.call(
            "crm.campaign",
            "search",
            [("name", "=", ONE_TO_ONE_NAME), ("company_id", "=", self.company_id)],
        )
        if ids:
            return ids[0]
        return rpc.call(
            "crm.campaign",
            "create",
            {
                "name": ONE_TO_ONE_NAME,
                "company_id": self.company_id,
                "segment_ids": [(6, 0, [self.segment_ids["one_to_one"]])],
                "tz": COMPANY_TZ,
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Llamada personal de agradecimiento",
                            "kind": "call",
                            "trigger": "begin",
                            "tier_filter": "one_to_one",
                            "activity_summary": "Llamar para agradecer la "
                            "fidelidad y ofrecer la preventa",
                            "activity_deadline_days": 2,
                        },
                    )
                ],
            },
        )

    # -- 8: simulation --------------------------------------------------

    def stage_simulate(self):
        done_days = self.get_param("simulated_days")
        first_day = int(done_days) + 1 if done_days else 0
        target = self.options.simulate_days
        self.sent_messages = {}
        self.handled_traces = set()
        campaign_ids = [self.reactivation_id, self.one_to_one_id]
        if first_day > target:
            print(f"[simulate] {done_days} days already simulated", flush=True)
            return
        for day in range(first_day, target + 1):
            with Stage(f"simulate day {day}") as stage:
                moved = self.advance_clock(campaign_ids, day)
                executed = self.run_executor(campaign_ids)
                sent = self.run_mail_queue()
                opened, clicked = self.simulate_responses()
                orders = self.simulate_purchases(day)
                stage.counts = {
                    "steps due": moved,
                    "steps run": executed,
                    "e-mails sent": sent,
                    "opened": opened,
                    "clicked": clicked,
                    "orders": orders,
                }
            if self.has_experiments and day == self.options.test_days:
                self.decide_winner()
            self.set_param("simulated_days", day)

    def advance_clock(self, campaign_ids, day):
        """Move back to now the steps due by the end of simulated ``day``."""
        virtual_now = self.launch_date + datetime.timedelta(days=day)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        due_ids = self.rpc.call(
            "crm.campaign.trace",
            "search",
            [
                ("campaign_id", "in", campaign_ids),
                ("state", "=", "scheduled"),
                ("scheduled_at", "<=", virtual_now.strftime("%Y-%m-%d %H:%M:%S")),
                ("scheduled_at", ">", now.strftime("%Y-%m-%d %H:%M:%S")),
            ],
        )
        if due_ids:
            self.rpc.call(
                "crm.campaign.trace",
                "write",
                due_ids,
                {"scheduled_at": now.strftime("%Y-%m-%d %H:%M:%S")},
            )
        return len(due_ids)

    def run_executor(self, campaign_ids):
        total = 0
        for _round in range(1000):
            now = datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
            due = self.rpc.call(
                "crm.campaign.trace",
                "search_count",
                [
                    ("campaign_id", "in", campaign_ids),
                    ("state", "=", "scheduled"),
                    ("scheduled_at", "<=", now),
                ],
            )
            if not due:
                break
            self.rpc.run_cron("crm_campaign_automation.ir_cron_campaign_execute")
            total += due
        return total

    def run_mail_queue(self):
        sent = 0
        for _round in range(100):
            outgoing = self.rpc.call(
                "mail.mail", "search_count", [("state", "=", "outgoing")]
            )
            if not outgoing:
                break
            self.rpc.run_cron("mail.ir_cron_mail_scheduler_action")
            left = self.rpc.call(
                "mail.mail", "search_count", [("state", "=", "outgoing")]
            )
            sent += outgoing - left
            if left >= outgoing:
                raise DemoError(
                    f"the mail queue does not progress ({left} e-mails waiting): is "
                    "the SMTP catcher running where Odoo sends its e-mails?"
                )
        return sent

    def fetch_messages(self):
        """Return ``{campaign trace id: message}`` of the catcher's e-mails."""
        api = self.options.mail_api.rstrip("/")
        found = {}
        start = 0
        while True:
            with urllib.request.urlopen(
                f"{api}/api/v1/messages?start={start}&limit=500", timeout=60
            ) as response:
                page = json.load(response)
            for message in page["messages"]:
                match = re.search(r"campaign-trace-(\d+)", message.get("MessageID", ""))
                if match:
                    found.setdefault(int(match.group(1)), message["ID"])
            start += len(page["messages"])
            if not page["messages"] or start >= page["total"]:
                return found

    def read_message(self, message_id):
        api = self.options.mail_api.rstrip("/")
        with urllib.request.urlopen(
            f"{api}/api/v1/message/{message_id}", timeout=60
        ) as response:
            return json.load(response)

    def open_probability(self, trace):
        if trace.get("variant"):
            return (
                PROBABILITIES["open_variant_a"]
                if trace["variant"].startswith("A")
                else PROBABILITIES["open_variant_b"]
            )
        if trace["parent_trace_id"]:
            return PROBABILITIES["open_reminder"]
        return PROBABILITIES["open_first"]

    def read_email_traces(self, domain):
        fields = ["partner_id", "participant_id", "parent_trace_id", "step_id"]
        fields += ["state", "skip_reason", "mailing_trace_id", "kind"]
        if self.has_experiments:
            fields += ["variant_id", "is_test_sample"]
        traces = self.rpc.call(
            "crm.campaign.trace",
            "search_read",
            [("campaign_id", "=", self.reactivation_id), *domain],
            fields,
        )
        for trace in traces:
            variant = trace.get("variant_id")
            trace["variant"] = variant[1] if variant else False
        return traces

    def simulate_responses(self):
        """Open and click the e-mails received, as their recipients would."""
        messages = self.fetch_messages()
        traces = self.read_email_traces(
            [("state", "=", "done"), ("kind", "=", "email")]
        )
        statuses = self.read_mailing_statuses(traces)
        http = OdooHttp(self.options.url, self.options.database)
        opened = clicked = 0
        for trace in traces:
            if trace["id"] in self.handled_traces or trace["id"] not in messages:
                continue
            if statuses.get(trace["id"]):
                # Opened by an earlier run of the demo.
                self.handled_traces.add(trace["id"])
                continue
            self.handled_traces.add(trace["id"])
            if not draw(self.seed, "open", trace["id"], self.open_probability(trace)):
                continue
            message = self.read_message(messages[trace["id"]])
            body = message.get("HTML") or ""
            links = re.findall(r'href="([^"]*/r/[^"]+/m/\d+)"', body)
            if links and draw(
                self.seed, "click", trace["id"], PROBABILITIES["click_after_open"]
            ):
                # A click on a tracked link records the open too.
                http.get(links[0])
                clicked += 1
            else:
                pixel = re.search(
                    r'src="([^"]*/mail/track/\d+/[^"]+/blank\.gif)"', body
                )
                if not pixel:
                    raise DemoError(
                        f"the e-mail of campaign trace {trace['id']} has no tracking "
                        "pixel."
                    )
                http.get(pixel.group(1))
            opened += 1
        return opened, clicked

    def read_mailing_statuses(self, traces):
        """Return ``{campaign trace id: 'click' | 'open' | None}`` as Odoo
        recorded the responses to their e-mails."""
        with_mail = [trace for trace in traces if trace["mailing_trace_id"]]
        mailing = {
            row["id"]: row
            for row in self.rpc.call(
                "mailing.trace",
                "read",
                [trace["mailing_trace_id"][0] for trace in with_mail],
                ["trace_status", "open_datetime", "links_click_datetime"],
            )
        }
        statuses = {}
        for trace in with_mail:
            row = mailing[trace["mailing_trace_id"][0]]
            if row["links_click_datetime"]:
                statuses[trace["id"]] = "click"
            elif row["open_datetime"] or row["trace_status"] in ("open", "reply"):
                statuses[trace["id"]] = "open"
            else:
                statuses[trace["id"]] = None
        return statuses

    def responses_by_participant(self):
        """Return ``{participant id: 'click' | 'open'}``, the best response of
        each participant to the campaign's e-mails."""
        traces = self.read_email_traces([("state", "=", "done")])
        statuses = self.read_mailing_statuses(traces)
        best = {}
        for trace in traces:
            participant = trace["participant_id"][0]
            status = statuses.get(trace["id"])
            if status == "click":
                best[participant] = "click"
            elif status == "open":
                best.setdefault(participant, "open")
        return best

    def purchase_decision(self, participant_id, response):
        probability = {
            "click": PROBABILITIES["buy_after_click"],
            "open": PROBABILITIES["buy_after_open"],
        }.get(response, PROBABILITIES["buy_baseline"])
        return draw(self.seed, "buy", participant_id, probability)

    def simulate_purchases(self, day):
        """Confirm the orders of the participants who buy on simulated ``day``.

        A participant who opened or clicked an e-mail gets its purchase draw
        on the first simulated day after Odoo recorded the response. The
        others get the baseline draw on a day drawn for them.
        """
        participants = self.rpc.call(
            "crm.campaign.participant",
            "search_read",
            [("campaign_id", "=", self.reactivation_id)],
            ["partner_id"],
        )
        existing = {
            order["client_order_ref"]
            for order in self.rpc.call(
                "sale.order",
                "search_read",
                [("client_order_ref", "=like", ORDER_REF_PREFIX + "%")],
                ["client_order_ref"],
            )
        }
        responses = self.responses_by_participant()
        days = max(self.options.simulate_days, 1)
        orders = []
        for participant in participants:
            reference = f"{ORDER_REF_PREFIX}{participant['id']}"
            if reference in existing:
                continue
            response = responses.get(participant["id"])
            buy_day = 1 + random.Random(
                f"{self.seed}:day:{participant['id']}"
            ).randrange(days)
            # The draw is one number per participant, compared with the
            # probability of its best response so far, so a better response
            # can only make it buy sooner. The order reference above keeps
            # it to one order.
            if response is None and day != buy_day:
                continue
            if not self.purchase_decision(participant["id"], response):
                continue
            quantity = 1 + random.Random(
                f"{self.seed}:cds:{participant['id']}"
            ).randrange(3)
            orders.append(
                {
                    "partner_id": participant["partner_id"][0],
                    "company_id": self.company_id,
                    "client_order_ref": reference,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": self.product_id,
                                "product_uom_qty": quantity,
                                "price_unit": CD_PRICE,
                                "tax_id": [(5, 0, 0)],
                            },
                        )
                    ],
                }
            )
        if orders:
            order_ids = self.rpc.call("sale.order", "create", orders)
            self.rpc.call("sale.order", "action_confirm", order_ids)
        return len(orders)

    def decide_winner(self):
        steps = self.rpc.call(
            "crm.campaign.step",
            "search_read",
            [("campaign_id", "=", self.reactivation_id), ("variant_ids", "!=", False)],
            ["test_state"],
        )
        for step in steps:
            if step["test_state"] not in ("decided", "done"):
                self.rpc.call("crm.campaign.step", "action_decide_winner", [step["id"]])

    # -- 9: reports -----------------------------------------------------

    stage_figures = stage_figures

    def stage_reports(self):
        with Stage("reports") as stage:
            output = Path(self.options.output)
            output.mkdir(parents=True, exist_ok=True)
            xlsx = base64.b64decode(
                self.rpc.call("crm.campaign", "report_xlsx", [self.reactivation_id])
            )
            xlsx_path = output / "reactivacion-cdnow.xlsx"
            xlsx_path.write_bytes(xlsx)
            http = OdooHttp(self.options.url, self.options.database)
            http.authenticate(
                self.options.database, self.options.login, self.options.password
            )
            _status, pdf = http.get(
                f"/report/pdf/crm_campaign_reports.report_campaign/{self.reactivation_id}",
                follow_local=True,
            )
            if not pdf.startswith(b"%PDF"):
                raise DemoError("the campaign PDF report was not rendered as a PDF.")
            pdf_path = output / "reactivacion-cdnow.pdf"
            pdf_path.write_bytes(pdf)
            self.results["reports"] = [str(xlsx_path), str(pdf_path)]
            stage.counts = {"folder": str(output), "XLSX bytes": len(xlsx)}
            stage.counts["PDF bytes"] = len(pdf)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Run the CDNOW end-to-end demo against a running Odoo."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8069", help="Odoo URL")
    parser.add_argument("--database", default="crm_demo", help="database name")
    parser.add_argument("--login", default="admin", help="Odoo login")
    parser.add_argument("--password", default="admin", help="Odoo password")
    parser.add_argument(
        "--file",
        default="master",
        help="'master' (23,570 customers), 'sample' (2,357 customers) or the "
        "path of a file in either layout (default: master)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=cdnow_shop.DEFAULT_SEED,
        help="seed of the invented customers and of the simulation (default: 1997)",
    )
    parser.add_argument(
        "--workdir",
        default=str(cdnow_data.DEFAULT_CACHE_DIR),
        help="folder of the lifetimes wheel and the shop's SQLite database; "
        "the Odoo server must be able to read it (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        default="cdnow-demo-reports",
        help="folder the campaign's PDF and XLSX reports are written to "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--simulate-days",
        type=int,
        default=30,
        help="days simulated after the launch of the campaigns (default: 30)",
    )
    parser.add_argument(
        "--test-days",
        type=int,
        default=2,
        help="simulated day on which the A/B test is decided (default: 2)",
    )
    parser.add_argument(
        "--mail-api",
        default="http://127.0.0.1:8025",
        help="web address of the SMTP catcher (tools/mail_catcher.py or Mailpit) "
        "where the e-mails Odoo sent are read (default: %(default)s)",
    )
    parser.add_argument(
        "--rfm-window-days",
        type=int,
        default=730,
        help="RFM window of the shop's company, in days; the default covers the "
        "18 months of CDNOW (default: 730)",
    )
    parser.add_argument(
        "--one-to-one-percent",
        type=float,
        default=1.0,
        help="share of customers, by lifetime value, in the one-to-one tier "
        "(default: 1)",
    )
    parser.add_argument(
        "--database-percent",
        type=float,
        default=20.0,
        help="share of customers, by lifetime value, in the one-to-one and "
        "database tiers together (default: 20)",
    )
    parser.add_argument(
        "--holdout-percent",
        type=float,
        default=10.0,
        help="share of the re-activation campaign's participants kept as a "
        "holdout group that gets no e-mail (default: 10)",
    )
    parser.add_argument(
        "--test-sample-percent",
        type=float,
        default=40.0,
        help="share of the first e-mail's recipients in the A/B test; the "
        "others get the winner (default: 40)",
    )
    options = parser.parse_args(argv)
    if options.simulate_days < 0:
        parser.error("--simulate-days must be 0 or more")
    return options


def run(options):
    """Run every stage; return the demo, whose ``checks`` list the
    comparisons and ``results`` the figures."""
    demo = CdnowDemo(options)
    demo.stage_data()
    demo.stage_shop()
    demo.stage_setup()
    demo.stage_import()
    demo.stage_profiles()
    demo.stage_segments()
    demo.stage_campaigns()
    demo.stage_simulate()
    demo.stage_reports()
    demo.stage_figures()
    return demo


def main(argv=None):
    options = parse_args(argv)
    try:
        demo = run(options)
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [check for check in demo.checks if not check["ok"]]
    if failed:
        print(f"{len(failed)} figures do not match the source file.", file=sys.stderr)
        return 1
    print(f"All {len(demo.checks)} figures match the source file.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
