from odoo import api, fields, models
from odoo.exceptions import ValidationError

RFM_SEGMENTS = [
    ("champions", "Champions"),
    ("loyal", "Loyal"),
    ("potential_loyalists", "Potential Loyalists"),
    ("new", "New Customers"),
    ("promising", "Promising"),
    ("need_attention", "Need Attention"),
    ("about_to_sleep", "About to Sleep"),
    ("at_risk", "At Risk"),
    ("cannot_lose", "Cannot Lose Them"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
]


class CrmRfmSegment(models.Model):
    """Rule that maps RFM scores to a named segment.

    A customer gets the segment of the first active rule, by sequence, whose
    recency, frequency and monetary ranges contain its scores. Customers with
    purchases but none in the RFM window are ``lost`` regardless of the rules.
    """

    _name = "crm.rfm.segment"
    _description = "RFM Segment Rule"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Selection(RFM_SEGMENTS, required=True, index=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    recency_min = fields.Integer(default=1)
    recency_max = fields.Integer(default=5)
    frequency_min = fields.Integer(default=1)
    frequency_max = fields.Integer(default=5)
    monetary_min = fields.Integer(default=1)
    monetary_max = fields.Integer(default=5)

    @api.constrains(
        "recency_min",
        "recency_max",
        "frequency_min",
        "frequency_max",
        "monetary_min",
        "monetary_max",
    )
    def _check_score_ranges(self):
        for rule in self:
            for score in ("recency", "frequency", "monetary"):
                low = rule[f"{score}_min"]
                high = rule[f"{score}_max"]
                if not 1 <= low <= high <= 5:
                    raise ValidationError(
                        self.env._(
                            "Invalid %(score)s range %(low)s-%(high)s on RFM rule "
                            "%(rule)s: scores go from 1 to 5 and the minimum "
                            "cannot exceed the maximum.",
                            score=score,
                            low=low,
                            high=high,
                            rule=rule.name,
                        )
                    )
