"""Statistics of campaign experiments against published and hand-worked values."""

import math
import random

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

    def test_msprt_rates_by_hand(self):
        # No published worked example of the mSPRT with verifiable numbers was
        # found, so the expected values are worked out here from the formula
        # of Johari, Koomen, Pekelis and Walsh (KDD 2017) for n pairs, as the R
        # package mixtureSPRT documents it (function mSPRT, Bernoulli case):
        # Lambda = sqrt(V / (V + n tau^2))
        #          * exp(n^2 tau^2 d^2 / (2 V (V + n tau^2))),
        # V = p1 (1 - p1) + p2 (1 - p2), tau^2 = 0.01 V (the module default).
        #
        # 60/200 against 40/200: p1 = 0.3, p2 = 0.2, d = 0.1,
        # V = 0.21 + 0.16 = 0.37, tau^2 = 0.0037, n tau^2 = 0.74,
        # V + n tau^2 = 1.11, so sqrt(V / (V + n tau^2)) = sqrt(1/3) and
        # the exponent is 40000 * 0.0037 * 0.01 / (2 * 0.37 * 1.11)
        # = 1.48 / 0.8214 = 200/111.
        log_ratio = stats.rate_difference_log_likelihood_ratio(60, 200, 40, 200)
        self.assertAlmostEqual(log_ratio, 0.5 * math.log(1 / 3) + 200 / 111)
        # Lambda = exp(1.801802) / 1.732051 = 6.060558 / 1.732051 = 3.4991;
        # p = 1 / Lambda = 0.2858.
        self.assertAlmostEqual(math.exp(log_ratio), 3.4991, places=4)
        self.assertAlmostEqual(stats.msprt_p_value(log_ratio), 0.2858, places=4)
        # 150/1000 against 100/1000: d = 0.05, V = 0.1275 + 0.09 = 0.2175,
        # n tau^2 = 10 V, so sqrt(V / (V + n tau^2)) = sqrt(1/11) and the
        # exponent is 10^6 * 0.002175 * 0.0025 / (2 * 0.2175 * 2.3925)
        # = 5.4375 / 1.040738 = 5.2246604, and sqrt(1/11) has the logarithm
        # -1.1989476, so log Lambda = 4.0257128.
        log_ratio = stats.rate_difference_log_likelihood_ratio(150, 1000, 100, 1000)
        self.assertAlmostEqual(log_ratio, 4.025713, places=6)
        # p = exp(-4.0257128) = 0.01785: significant at 0.05.
        self.assertAlmostEqual(stats.msprt_p_value(log_ratio), 0.01785, places=5)
        # The statistic is symmetric in the two variants.
        self.assertAlmostEqual(
            stats.rate_difference_log_likelihood_ratio(100, 1000, 150, 1000),
            log_ratio,
        )

    def test_msprt_means_unequal_groups_by_hand(self):
        # Means 12 and 10, sample variances 16 and 9, 100 and 50 values:
        # v = 16/100 + 9/50 = 0.34 (variance of d), tau^2 = 0.01 * 25 = 0.25,
        # log Lambda = 0.5 ln(0.34 / 0.59) + 0.25 * 4 / (2 * 0.34 * 0.59)
        # = -0.275588 + 2.492522 = 2.216934.
        log_ratio = stats.mean_difference_log_likelihood_ratio(
            12.0, 16.0, 100, 10.0, 9.0, 50
        )
        self.assertAlmostEqual(log_ratio, 2.216934, places=6)
        # With equal groups it is the per-pair formula: n = 100, V = 25,
        # tau^2 = 0.25, n tau^2 = 25: sqrt(25 / 50) and the exponent
        # 10^4 * 0.25 * 4 / (2 * 25 * 50) = 4.
        self.assertAlmostEqual(
            stats.mean_difference_log_likelihood_ratio(12.0, 16.0, 100, 10.0, 9.0, 100),
            0.5 * math.log(0.5) + 4.0,
        )

    def test_msprt_p_value_running_minimum(self):
        # p_n = min(p_(n-1), 1 / Lambda_n): a weaker look keeps the old value.
        self.assertAlmostEqual(stats.msprt_p_value(math.log(2.0), 0.3), 0.3)
        self.assertAlmostEqual(stats.msprt_p_value(math.log(10.0), 0.3), 0.1)
        # Lambda below 1 gives no evidence: the p-value stays at most 1.
        self.assertEqual(stats.msprt_p_value(math.log(0.5)), 1.0)
        # Constant groups: equal ones give no evidence, different ones a
        # certain difference.
        self.assertEqual(stats.rate_difference_log_likelihood_ratio(0, 50, 0, 50), 0.0)
        self.assertEqual(
            stats.rate_difference_log_likelihood_ratio(50, 50, 0, 50), math.inf
        )
        self.assertEqual(stats.msprt_p_value(math.inf), 0.0)
        # No recipients yet: no evidence.
        self.assertEqual(stats.rate_difference_log_likelihood_ratio(0, 0, 3, 10), 0.0)

    def test_sequential_winner_bonferroni(self):
        rates = [0.2, 0.1, 0.1]
        counts = [100, 100, 100]
        # Three variants, three pairs: each p-value is multiplied by 3.
        pairs = {(0, 1): 0.01, (0, 2): 0.02, (1, 2): 0.5}
        # 3 * 0.02 = 0.06 > 0.05: variant 0 has not beaten variant 2 yet.
        self.assertIsNone(
            stats.decide_sequential_winner(rates, counts, pairs, 100, 0.05)
        )
        self.assertEqual(stats.variant_p_values(rates, pairs), [0.06, 0.03, 0.06])
        pairs[(0, 2)] = 0.015
        # 3 * 0.015 = 0.045 <= 0.05 and 3 * 0.01 = 0.03 <= 0.05: variant 0 wins.
        self.assertEqual(
            stats.decide_sequential_winner(rates, counts, pairs, 100, 0.05), 0
        )
        # One variant below the minimum sample: undecided whatever the tests.
        self.assertIsNone(
            stats.decide_sequential_winner(rates, [100, 99, 100], pairs, 100, 0.05)
        )
        # The rejecting tests must be in the variant's favour.
        self.assertIsNone(
            stats.decide_sequential_winner([0.1, 0.2, 0.1], counts, pairs, 100, 0.05)
        )
        # Two variants: no correction.
        self.assertEqual(
            stats.decide_sequential_winner(
                [0.1, 0.2], [50, 50], {(0, 1): 0.05}, 50, 0.05
            ),
            1,
        )

    def simulate(self, rate_a, rate_b, runs, seed):
        """Simulate ``runs`` two-variant tests with a look after every 50
        recipients per variant up to 2,000, and return the shares decided by
        the mSPRT rule at alpha 0.05 for A, for B, and by the previous naive
        rule (probability of being the best of at least 0.95 at any look)."""
        rng = random.Random(seed)
        msprt_for_a = msprt_for_b = naive = 0
        for _run in range(runs):
            successes_a = successes_b = recipients = 0
            p_value = 1.0
            msprt_winner = None
            naive_decided = False
            while recipients < 2000:
                successes_a += sum(rng.random() < rate_a for _ in range(50))
                successes_b += sum(rng.random() < rate_b for _ in range(50))
                recipients += 50
                if msprt_winner is None:
                    p_value = stats.msprt_p_value(
                        stats.rate_difference_log_likelihood_ratio(
                            successes_a, recipients, successes_b, recipients
                        ),
                        p_value,
                    )
                    msprt_winner = stats.decide_sequential_winner(
                        [successes_a / recipients, successes_b / recipients],
                        [recipients, recipients],
                        {(0, 1): p_value},
                        50,
                        0.05,
                    )
                if not naive_decided:
                    probabilities = stats.beta_prob_best(
                        [
                            (successes_a + 1, recipients - successes_a + 1),
                            (successes_b + 1, recipients - successes_b + 1),
                        ]
                    )
                    naive_decided = max(probabilities) >= 0.95
                if msprt_winner is not None and naive_decided:
                    break
            msprt_for_a += msprt_winner == 0
            msprt_for_b += msprt_winner == 1
            naive += naive_decided
        return msprt_for_a / runs, msprt_for_b / runs, naive / runs

    def test_equal_variants_watched_forty_times(self):
        # 400 A/A tests at a rate of 0.1, each looked at 40 times. The
        # Monte-Carlo standard error of a share near alpha = 0.05 is
        # sqrt(0.05 * 0.95 / 400) = 0.0109, so a rule that keeps its false
        # positive rate at alpha stays below 0.05 + 2.33 * 0.0109 = 0.0754
        # with 99 % probability.
        bound = 0.05 + 2.33 * math.sqrt(0.05 * 0.95 / 400)
        for_a, for_b, naive = self.simulate(0.1, 0.1, 400, seed=20260505)
        self.assertLessEqual(for_a + for_b, bound)
        # The previous rule, a probability of being the best of 0.95 checked
        # at every look, declares a winner far more often than alpha.
        self.assertGreater(naive, bound)

    def test_real_difference_detected(self):
        # 0.10 against 0.15 with up to 2,000 recipients per variant: the
        # fixed-sample z statistic at 2,000 is 0.05 / sqrt(0.2175 / 2000)
        # = 4.8, far beyond the mSPRT boundary (about 3.1 at that size).
        for_a, for_b, _naive = self.simulate(0.10, 0.15, 200, seed=20260506)
        self.assertGreaterEqual(for_b, 0.8)
        self.assertLessEqual(for_a, 0.05)

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
