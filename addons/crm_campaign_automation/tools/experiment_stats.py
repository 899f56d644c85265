"""Statistics of campaign experiments, in plain Python (standard library only).

The decision rule is an always-valid sequential test: the mixture sequential
probability ratio test (mSPRT) with a normal mixing distribution of Johari,
Koomen, Pekelis and Walsh, "Peeking at A/B Tests: Why it matters, and what to
do about it" (KDD 2017), also in Johari, Pekelis and Walsh, "Always Valid
Inference: Continuous Monitoring of A/B Tests" (Operations Research 70,
2022). Its p-value may be read at every look without raising the false
positive rate above the significance level.

The displayed figures are Bayesian and frequentist. Conversion-type metrics
(open, click, reply, conversion) use a Beta-Binomial model. With a uniform
Beta(1, 1) prior, a variant with ``s`` successes out of ``n`` recipients has
the posterior Beta(s + 1, n - s + 1). The probability of being the best is
computed from these posteriors. Revenue per recipient uses a normal approximation of each
variant's mean. Intervals are frequentist 95 % intervals: Wilson score
intervals for rates, normal intervals for means, and Newcombe's hybrid score
interval (method 10 of Newcombe 1998) for a difference of two proportions.
"""

import math

# Two-sided 95 % quantile of the standard normal distribution.
Z_95 = 1.959963984540054

# Points of the Simpson rule used to integrate over one posterior density.
INTEGRATION_INTERVALS = 600

# Variance tau^2 of the normal mixing distribution of the mSPRT, as a share of
# the variance of one pair of observations (one per variant): tau^2 = 0.01 *
# (s1^2 + s2^2). The mixture then centres on effects of about a tenth of a
# standard deviation, e.g. a click rate of 10 % against 15 %. A larger share
# detects large effects sooner and small ones later.
MIXING_VARIANCE_RATIO = 0.01


def normal_cdf(x):
    """Return the standard normal cumulative distribution at ``x``."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_pdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def log_beta(a, b):
    """Return the natural logarithm of the Beta function B(a, b)."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_continued_fraction(x, a, b):
    """Evaluate the continued fraction of the incomplete Beta function by the
    modified Lentz method."""
    tiny = 1e-300
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def beta_cdf(x, a, b):
    """Return the regularized incomplete Beta function I_x(a, b), the
    cumulative distribution of Beta(a, b) at ``x``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - log_beta(a, b)
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2);
    # beyond it, the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) is used.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def beta_pdf(x, a, b):
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return math.exp(
        (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - log_beta(a, b)
    )


def prob_b_beats_a(alpha_a, beta_a, alpha_b, beta_b):
    """Return P(p_B > p_A) for p_A ~ Beta(alpha_a, beta_a) and p_B ~
    Beta(alpha_b, beta_b), with ``alpha_b`` a positive integer.

    Closed form of Evan Miller, "Formulas for Bayesian A/B Testing":
    the sum over i from 0 to alpha_b - 1 of
    B(alpha_a + i, beta_a + beta_b) / ((beta_b + i) B(1 + i, beta_b)
    B(alpha_a, beta_a)), computed in log space.
    """
    if alpha_b != int(alpha_b) or alpha_b < 1:
        raise ValueError(f"alpha_b must be a positive integer, got {alpha_b}")
    total = 0.0
    for i in range(int(alpha_b)):
        total += math.exp(
            log_beta(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - log_beta(1 + i, beta_b)
            - log_beta(alpha_a, beta_a)
        )
    return total


def _simpson(function, low, high, intervals=INTEGRATION_INTERVALS):
    if high <= low:
        return 0.0
    step = (high - low) / intervals
    total = function(low) + function(high)
    for index in range(1, intervals):
        total += (4 if index % 2 else 2) * function(low + index * step)
    return total * step / 3.0


def beta_prob_best(params):
    """Return, for each (alpha, beta) in ``params``, the probability that its
    Beta distribution has the highest value of all.

    Two distributions use Evan Miller's closed form. More are integrated
    numerically: P(i best) is the integral of f_i(x) times the product of the
    other cumulative distributions, over the range where f_i has its mass
    (the mean plus or minus 12 standard deviations, within [0, 1]).
    """
    if not params:
        return []
    if len(params) == 1:
        return [1.0]
    if len(params) == 2 and all(float(a).is_integer() for a, _b in params):
        (alpha_a, beta_a), (alpha_b, beta_b) = params
        prob_b = prob_b_beats_a(alpha_a, beta_a, alpha_b, beta_b)
        return [1.0 - prob_b, prob_b]
    probabilities = []
    for index, (alpha, beta) in enumerate(params):
        mean = alpha / (alpha + beta)
        spread = math.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1)))
        low = max(0.0, mean - 12 * spread)
        high = min(1.0, mean + 12 * spread)
        others = [param for other, param in enumerate(params) if other != index]

        def integrand(x, alpha=alpha, beta=beta, others=others):
            density = beta_pdf(x, alpha, beta)
            if not density:
                return 0.0
            for other_alpha, other_beta in others:
                density *= beta_cdf(x, other_alpha, other_beta)
            return density

        probabilities.append(_simpson(integrand, low, high))
    return _normalize(probabilities)


def normal_prob_best(means, std_errors):
    """Return, for each normal distribution N(mean, std_error²), the
    probability that it has the highest value of all.

    A zero standard error is a point mass at the mean. Two continuous
    distributions use the closed form Phi((m_i - m_j) / sqrt(s_i² + s_j²));
    more are integrated numerically over mean plus or minus 12 standard errors.
    """
    count = len(means)
    if not count:
        return []
    if count == 1:
        return [1.0]
    if count == 2 and all(std_errors):
        spread = math.sqrt(std_errors[0] ** 2 + std_errors[1] ** 2)
        prob_first = normal_cdf((means[0] - means[1]) / spread)
        return [prob_first, 1.0 - prob_first]

    def cdf(x, mean, std_error):
        if std_error:
            return normal_cdf((x - mean) / std_error)
        if x == mean:
            return 0.5
        return 1.0 if x > mean else 0.0

    probabilities = []
    for index in range(count):
        others = [
            (means[other], std_errors[other])
            for other in range(count)
            if other != index
        ]
        mean, std_error = means[index], std_errors[index]
        if not std_error:
            probability = 1.0
            for other_mean, other_error in others:
                probability *= cdf(mean, other_mean, other_error)
            probabilities.append(probability)
            continue

        def integrand(x, mean=mean, std_error=std_error, others=others):
            density = normal_pdf((x - mean) / std_error) / std_error
            for other_mean, other_error in others:
                density *= cdf(x, other_mean, other_error)
            return density

        probabilities.append(
            _simpson(integrand, mean - 12 * std_error, mean + 12 * std_error)
        )
    return _normalize(probabilities)


def _normalize(probabilities):
    total = sum(probabilities)
    if total <= 0:
        return [1.0 / len(probabilities)] * len(probabilities)
    return [probability / total for probability in probabilities]


def wilson_interval(successes, trials, z=Z_95):
    """Return the Wilson score interval (low, high) of a binomial proportion;
    (0.0, 1.0) without trials."""
    if trials <= 0:
        return 0.0, 1.0
    proportion = successes / trials
    denominator = 1.0 + z * z / trials
    centre = proportion + z * z / (2.0 * trials)
    margin = z * math.sqrt(
        proportion * (1.0 - proportion) / trials + z * z / (4.0 * trials * trials)
    )
    low = (centre - margin) / denominator
    high = (centre + margin) / denominator
    return max(0.0, low), min(1.0, high)


def newcombe_difference_interval(successes_1, trials_1, successes_2, trials_2, z=Z_95):
    """Return (difference, low, high) for p1 - p2 with Newcombe's hybrid score
    interval, method 10 of Newcombe, "Interval estimation for the difference
    between independent proportions", Statistics in Medicine 17 (1998)."""
    if trials_1 <= 0 or trials_2 <= 0:
        return 0.0, -1.0, 1.0
    p1 = successes_1 / trials_1
    p2 = successes_2 / trials_2
    low_1, high_1 = wilson_interval(successes_1, trials_1, z)
    low_2, high_2 = wilson_interval(successes_2, trials_2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - low_1) ** 2 + (high_2 - p2) ** 2)
    high = difference + math.sqrt((high_1 - p1) ** 2 + (p2 - low_2) ** 2)
    return difference, low, high


def mean_and_variance(total, total_squares, count):
    """Return the mean and the sample variance (n - 1 denominator) from the sum
    and the sum of squares of ``count`` values."""
    if count <= 0:
        return 0.0, 0.0
    mean = total / count
    if count < 2:
        return mean, 0.0
    variance = max(0.0, (total_squares - count * mean * mean) / (count - 1))
    return mean, variance


def mean_interval(mean, variance, count, z=Z_95):
    """Return the normal interval (low, high) of a mean."""
    if count <= 0:
        return 0.0, 0.0
    margin = z * math.sqrt(variance / count)
    return mean - margin, mean + margin


def mean_difference_interval(
    mean_1, variance_1, count_1, mean_2, variance_2, count_2, z=Z_95
):
    """Return (difference, low, high) for mean_1 - mean_2 with the normal
    interval of unequal variances (Welch's standard error, normal quantile)."""
    if count_1 <= 0 or count_2 <= 0:
        return 0.0, 0.0, 0.0
    difference = mean_1 - mean_2
    margin = z * math.sqrt(variance_1 / count_1 + variance_2 / count_2)
    return difference, difference - margin, difference + margin


# ----------------------------------------------------------------------
# Always-valid sequential test (mSPRT)
# ----------------------------------------------------------------------


def msprt_log_likelihood_ratio(difference, difference_variance, mixing_variance):
    """Return log Lambda, the mixture likelihood ratio of H0: theta = 0 against
    a normal mixture theta ~ N(0, tau^2), for an estimate ``difference`` of
    theta that is normal with variance ``difference_variance``.

    Johari et al. state it for n pairs of observations whose difference has
    the per-pair variance V_n (for rates, V_n = p1 (1 - p1) + p2 (1 - p2)),
    as the R package mixtureSPRT (function mSPRT) also documents it:
    Lambda_n = sqrt(V_n / (V_n + n tau^2))
               * exp(n^2 tau^2 d^2 / (2 V_n (V_n + n tau^2))).
    Dividing numerator and denominator by n gives the form used here, with
    v = V_n / n the variance of d:
    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 d^2 / (2 v (v + tau^2))).
    With unequal group sizes, v = s1^2 / n1 + s2^2 / n2.
    """
    if difference_variance <= 0.0:
        # Both groups are constant: no evidence if they are equal, a certain
        # difference otherwise.
        return 0.0 if difference == 0 else math.inf
    total = difference_variance + mixing_variance
    return 0.5 * math.log(difference_variance / total) + (
        mixing_variance * difference * difference / (2.0 * difference_variance * total)
    )


def msprt_p_value(log_likelihood_ratio, previous_p_value=1.0):
    """Return the always-valid p-value p_n = min(p_(n-1), 1 / Lambda_n), with
    p_0 = 1, from log Lambda_n and the p-value of the previous look."""
    if log_likelihood_ratio <= 0.0:
        return min(previous_p_value, 1.0)
    return min(previous_p_value, math.exp(-log_likelihood_ratio))


def _two_stream_log_likelihood_ratio(
    difference, variance_1, count_1, variance_2, count_2, mixing_ratio
):
    if count_1 <= 0 or count_2 <= 0:
        return 0.0
    difference_variance = variance_1 / count_1 + variance_2 / count_2
    mixing_variance = mixing_ratio * (variance_1 + variance_2)
    return msprt_log_likelihood_ratio(difference, difference_variance, mixing_variance)


def rate_difference_log_likelihood_ratio(
    successes_1, trials_1, successes_2, trials_2, mixing_ratio=MIXING_VARIANCE_RATIO
):
    """Return the mSPRT log Lambda for two rates under the normal approximation
    of Johari et al.: d = p1 - p2, per-observation variances p (1 - p) and
    tau^2 = ``mixing_ratio`` * (p1 (1 - p1) + p2 (1 - p2))."""
    if trials_1 <= 0 or trials_2 <= 0:
        return 0.0
    rate_1 = successes_1 / trials_1
    rate_2 = successes_2 / trials_2
    return _two_stream_log_likelihood_ratio(
        rate_1 - rate_2,
        rate_1 * (1.0 - rate_1),
        trials_1,
        rate_2 * (1.0 - rate_2),
        trials_2,
        mixing_ratio,
    )


def mean_difference_log_likelihood_ratio(
    mean_1,
    variance_1,
    count_1,
    mean_2,
    variance_2,
    count_2,
    mixing_ratio=MIXING_VARIANCE_RATIO,
):
    """Return the mSPRT log Lambda for two means with sample variances
    ``variance_1`` and ``variance_2`` (normal data, variances plugged in)."""
    return _two_stream_log_likelihood_ratio(
        mean_1 - mean_2, variance_1, count_1, variance_2, count_2, mixing_ratio
    )


def pair_count(variant_count):
    """Return the number of pairwise comparisons between ``variant_count``
    variants, the Bonferroni factor of the decision rule."""
    return variant_count * (variant_count - 1) // 2


def bonferroni_adjust(p_value, comparisons):
    """Return ``p_value`` times ``comparisons``, capped at 1."""
    return min(1.0, p_value * max(comparisons, 1))


def decide_sequential_winner(estimates, counts, pair_p_values, min_sample, alpha):
    """Return the index of the winning variant, or None while undecided.

    ``pair_p_values`` maps each pair of indexes ``(i, j)`` with i < j to the
    always-valid p-value of the test that both variants have the same mean.
    Every pair is tested, and Bonferroni's correction over the K (K - 1) / 2
    pairs keeps the chance of any false rejection at most ``alpha``. A
    variant wins when every variant has at least ``min_sample`` recipients,
    its estimate is above every other's, and each of its tests rejects
    equality at ``alpha`` after the correction.
    """
    count = len(estimates)
    if count < 2 or any(recipients < min_sample for recipients in counts):
        return None
    comparisons = pair_count(count)
    for index in range(count):
        wins = all(
            estimates[index] > estimates[other]
            and bonferroni_adjust(
                pair_p_values.get((min(index, other), max(index, other)), 1.0),
                comparisons,
            )
            <= alpha
            for other in range(count)
            if other != index
        )
        if wins:
            return index
    return None


def variant_p_values(estimates, pair_p_values):
    """Return one Bonferroni-adjusted always-valid p-value per variant.

    A variant gets the p-value of its test against the current best (the
    highest estimate, the first one on a tie). The best gets the largest of
    its p-values against the others, so it wins by the rule of
    ``decide_sequential_winner`` exactly when that value is at most alpha
    and the minimum sample is reached.
    """
    count = len(estimates)
    if count < 2:
        return [1.0] * count
    comparisons = pair_count(count)
    best = max(range(count), key=lambda index: estimates[index])

    def adjusted(index):
        pair = (min(index, best), max(index, best))
        return bonferroni_adjust(pair_p_values.get(pair, 1.0), comparisons)

    values = [adjusted(index) if index != best else 0.0 for index in range(count)]
    values[best] = max(values[index] for index in range(count) if index != best)
    return values
