"""Statistics of campaign experiments against published and hand-worked values."""

from odoo.tests import tagged
from odoo.tests.common import BaseCase

from ..tools import experiment_stats as stats
from ..tools.experiment_assignment import assignment_fraction, pick_weighted


@tagged("post_install", "-at_install", "crm_campaign_automation")
class TestExperimentStats(BaseCase):
    def test_wilson_matches_newcombe_table_one(self):
        # Newcombe, "Two-sided confidence intervals for the single proportion:
        # comparison of seven methods", Statistics in Medicine 17 (1998)
        # 857-872, Table I, method 3 (score interval without continuity
        # correction), 95 % intervals to four decimals.
        cases = [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ]
        for successes, trials, low, high in cases:
            with self.subTest(successes=successes, trials=trials):
                got_low, got_high = stats.wilson_interval(successes, trials)
                self.assertAlmostEqual(got_low, low, places=4)
                self.assertAlmostEqual(got_high, high, places=4)

    def test_newcombe_difference_table_two(self):
        # Newcombe, "Interval estimation for the difference between
        # independent proportions: comparison of eleven methods", Statistics
        # in Medicine 17 (1998) 873-890, Table II, method 10 (hybrid score
        # interval), examples (a) 56/70 - 48/80 and (b) 9/10 - 3/10.
        cases = [
            (56, 70, 48, 80, 0.0524, 0.3339),
            (9, 10, 3, 10, 0.1705, 0.8090),
        ]
        for s1, n1, s2, n2, low, high in cases:
            with self.subTest(first=f"{s1}/{n1}", second=f"{s2}/{n2}"):
                difference, got_low, got_high = stats.newcombe_difference_interval(
                    s1, n1, s2, n2
                )
                self.assertAlmostEqual(difference, s1 / n1 - s2 / n2)
                self.assertAlmostEqual(got_low, low, places=4)
                self.assertAlmostEqual(got_high, high, places=4)

    def test_prob_b_beats_a_small_cases_by_hand(self):
        # A ~ Beta(1, 1), B ~ Beta(2, 1): P(B > A) = integral of 2x * x over
        # [0, 1] = 2/3.
        self.assertAlmostEqual(stats.prob_b_beats_a(1, 1, 2, 1), 2 / 3, places=12)
        # A ~ Beta(1, 2), B ~ Beta(2, 1): P(B > A) = integral of 2(1 - a)(1 - a²)
        # over [0, 1] = 2 (1 - 1/2 - 1/3 + 1/4) = 5/6.
        self.assertAlmostEqual(stats.prob_b_beats_a(1, 2, 2, 1), 5 / 6, places=12)
        # Identical posteriors: 1/2 by symmetry.
        self.assertAlmostEqual(stats.prob_b_beats_a(31, 71, 31, 71), 0.5, places=9)

    def test_prob_best_three_variants_by_hand(self):
        # X1 ~ Beta(2, 1), X2 and X3 ~ Beta(1, 1): P(X1 is max) = integral of
        # 2x * x * x over [0, 1] = 1/2, and the other two share 1/2 equally.
        probabilities = stats.beta_prob_best([(2.0, 1.0), (1.0, 1.0), (1.0, 1.0)])
        self.assertAlmostEqual(probabilities[0], 0.5, places=6)
        self.assertAlmostEqual(probabilities[1], 0.25, places=6)
        self.assertAlmostEqual(probabilities[2], 0.25, places=6)

    def test_numeric_integration_agrees_with_closed_form(self):
        # A third variant that is almost never best leaves the other two with
        # the probabilities of Evan Miller's closed form for two variants.
        closed_b = stats.prob_b_beats_a(121, 81, 101, 101)
        numeric = stats.beta_prob_best([(121.0, 81.0), (101.0, 101.0), (1.0, 1000.0)])
        self.assertAlmostEqual(numeric[1], closed_b, places=5)
        self.assertAlmostEqual(numeric[0], 1 - closed_b, places=5)
        self.assertLess(numeric[2], 1e-9)

    def test_normal_prob_best_standard_quantile(self):
        # Means 19.8 and 10 with standard errors 4 and 3: the difference has
        # standard error 5, z = 9.8 / 5 = 1.96 and Phi(1.96) = 0.9750 (table
        # of the standard normal distribution).
        first, second = stats.normal_prob_best([19.8, 10.0], [4.0, 3.0])
        self.assertAlmostEqual(first, 0.9750, places=4)
        self.assertAlmostEqual(second, 0.0250, places=4)
        # The numeric path for three equal distributions gives 1/3 each.
        for probability in stats.normal_prob_best([5.0] * 3, [1.0] * 3):
            self.assertAlmostEqual(probability, 1 / 3, places=6)

    def test_mean_difference_interval_by_hand(self):
        # Values 0, 10, 20 (mean 10, variance 100) against 0, 0, 0, 0 (mean 0,
        # variance 0): standard error sqrt(100 / 3), margin 1.96 * 5.7735.
        mean, variance = stats.mean_and_variance(30.0, 500.0, 3)
        self.assertAlmostEqual(mean, 10.0)
        self.assertAlmostEqual(variance, 100.0)
        difference, low, high = stats.mean_difference_interval(
            mean, variance, 3, 0.0, 0.0, 4
        )
        self.assertAlmostEqual(difference, 10.0)
        self.assertAlmostEqual(low, 10.0 - 1.959964 * 5.773503, places=4)
        self.assertAlmostEqual(high, 10.0 + 1.959964 * 5.773503, places=4)

    def test_decide_winner_rule(self):
        # Below the minimum sample of one variant: undecided whatever the odds.
        self.assertIsNone(stats.decide_winner([0.99, 0.01], [99, 500], 100, 0.95))
        # Enough recipients but below the threshold: undecided.
        self.assertIsNone(stats.decide_winner([0.94, 0.06], [100, 100], 100, 0.95))
        # Enough recipients and at the threshold: the best wins.
        self.assertEqual(stats.decide_winner([0.05, 0.95], [100, 100], 100, 0.95), 1)

    def test_pick_weighted_boundaries(self):
        # Weights 1 and 3: [0, 0.25) picks the first, [0.25, 1) the second.
        self.assertEqual(pick_weighted(0.0, [1, 3]), 0)
        self.assertEqual(pick_weighted(0.2499, [1, 3]), 0)
        self.assertEqual(pick_weighted(0.25, [1, 3]), 1)
        self.assertEqual(pick_weighted(0.9999, [1, 3]), 1)
        with self.assertRaises(ValueError):
            pick_weighted(0.5, [0, 0])

    def test_assignment_fraction_is_reproducible(self):
        first = assignment_fraction(7, 1, 42, "variant")
        self.assertEqual(first, assignment_fraction(7, 1, 42, "variant"))
        self.assertNotEqual(first, assignment_fraction(8, 1, 42, "variant"))
        self.assertNotEqual(first, assignment_fraction(7, 1, 42, "sample"))
        self.assertGreaterEqual(first, 0.0)
        self.assertLess(first, 1.0)
