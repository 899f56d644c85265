import hashlib
import hmac
import re
import secrets
import time

from odoo import api, models
from odoo.tools import consteq

SECRET_PARAM = "crm_consent.link_secret"
SIGNATURE_LENGTH = 40
# ``<expiry>.<signature>``, spelled the one way _sign() spells it. Anything
# else is rejected before parsing, because str.isdigit() also accepts digits
# such as "²" that int() rejects, compare_digest() raises on non-ASCII text
# and int() raises past 4,300 digits. A leading zero or an upper-case
# signature would let a second spelling of a link work. Twelve digits of
# seconds reach the year 33658.
TOKEN_PATTERN = re.compile(rf"([1-9][0-9]{{0,11}})\.([0-9a-f]{{{SIGNATURE_LENGTH}}})")


class CrmConsentToken(models.AbstractModel):
    """Signed tokens for the public consent links, which need no login.

    A token is ``<expiry>.<signature>``: the signature is an HMAC-SHA256 over
    the link's scope, the ids it acts on and the expiry, keyed by a secret
    kept in ``ir.config_parameter``. Rotating the secret invalidates every
    link sent before, without touching the database secret of Odoo itself.
    """

    _name = "crm.consent.token"
    _description = "Consent Link Token"

    @api.model
    def _get_secret(self):
        parameters = self.env["ir.config_parameter"].sudo()
        secret = parameters.get_param(SECRET_PARAM)
        if not secret:
            secret = secrets.token_hex(32)
            parameters.set_param(SECRET_PARAM, secret)
        return secret

    @api.model
    def _rotate_secret(self):
        self.env["ir.config_parameter"].sudo().set_param(
            SECRET_PARAM, secrets.token_hex(32)
        )

    @api.model
    def _signature(self, scope, parts, expiry):
        message = ":".join([scope, *(str(part) for part in parts), str(expiry)])
        return hmac.new(
            self._get_secret().encode(), message.encode(), hashlib.sha256
        ).hexdigest()[:SIGNATURE_LENGTH]

    @api.model
    def _sign(self, scope, parts, validity_days):
        """Return a token for ``scope`` and ``parts`` valid for ``validity_days``."""
        expiry = int(time.time()) + int(validity_days) * 86400
        return f"{expiry}.{self._signature(scope, parts, expiry)}"

    @api.model
    def _verify(self, token, scope, parts):
        """Return whether ``token`` signs ``scope`` and ``parts`` and has not expired.

        The signature is compared in constant time, and a malformed token is
        simply invalid, so callers can respond to every failure the same way.
        """
        match = isinstance(token, str) and TOKEN_PATTERN.fullmatch(token)
        if not match:
            return False
        expiry_text, signature = match.groups()
        if int(expiry_text) < time.time():
            return False
        expected = self._signature(scope, parts, int(expiry_text))
        return consteq(expected.encode(), signature.encode())
