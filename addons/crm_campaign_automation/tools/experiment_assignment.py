"""Random, reproducible assignment of campaign participants to experiment groups."""

import hashlib

# Number of distinct values of an assignment fraction: 2**64.
FRACTION_SCALE = float(1 << 64)


def assignment_fraction(seed, campaign_id, partner_id, purpose):
    """Return a number in [0, 1) fixed by the arguments and uniform over partners.

    The first 8 bytes of SHA-256 over ``purpose:seed:campaign:partner``, so a
    partner gets the same fraction in every run and on every step, while the
    ``purpose`` (``holdout``, ``sample``, ``variant``) makes the fractions of
    one partner independent of each other.
    """
    key = f"{purpose}:{seed}:{campaign_id}:{partner_id}".encode()
    digest = hashlib.sha256(key).digest()
    return int.from_bytes(digest[:8], "big") / FRACTION_SCALE


def pick_weighted(fraction, weights):
    """Return the index whose share of the cumulative ``weights`` contains
    ``fraction``: with weights (1, 3), fractions below 0.25 pick index 0."""
    total = sum(weights)
    if total <= 0:
        raise ValueError(f"weights must have a positive sum, got {weights}")
    threshold = fraction * total
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if threshold < cumulative:
            return index
    return len(weights) - 1
