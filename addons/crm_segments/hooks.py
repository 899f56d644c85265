import logging

_logger = logging.getLogger(__name__)

# Source documents fed into the ledger per call at installation.
BACKFILL_BATCH_SIZE = 1000


def post_init_hook(env):
    """Feed the orders and invoices that predate the addon into the ledger,
    then compute the profiles, so installing on a live database starts with
    complete customer profiles.
    """
    orders = env["sale.order"].search([("state", "=", "sale")], order="id")
    for start in range(0, len(orders), BACKFILL_BATCH_SIZE):
        orders[start : start + BACKFILL_BATCH_SIZE]._feed_customer_ledger()
    moves = env["account.move"].search(
        [("move_type", "in", ("out_invoice", "out_refund")), ("state", "=", "posted")],
        order="id",
    )
    for start in range(0, len(moves), BACKFILL_BATCH_SIZE):
        moves[start : start + BACKFILL_BATCH_SIZE]._feed_customer_ledger()
    _logger.info(
        "Customer ledger backfilled from %s sale orders and %s invoices",
        len(orders),
        len(moves),
    )
    env["res.partner"].browse().profile_refresh()
