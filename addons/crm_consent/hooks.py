def post_init_hook(env):
    """Record the refusals implied by blacklist entries that predate the addon.

    Without this, an address blacklisted before installation would have no
    refusal in the ledger, and the ledger could not explain why it is not
    contacted.
    """
    env["mail.blacklist"].search([])._crm_consent_sync("refused")
    env["phone.blacklist"].search([])._crm_consent_sync("refused")
