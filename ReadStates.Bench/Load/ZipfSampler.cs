namespace ReadStates.Bench.Load;

/// <summary>
/// Zipf-distributed ranks 1..N with exponent s, in O(1) per sample without tables: rejection-inversion
/// (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
/// distributions", 1996). Rank k is drawn with probability proportional to 1/k^s.
/// </summary>
internal sealed class ZipfSampler
{
    private readonly long _n;
    private readonly double _s;
    private readonly double _hIntegralX1;
    private readonly double _hIntegralN;
    private readonly double _threshold;

    public ZipfSampler(long n, double exponent)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        if (exponent <= 0) throw new ArgumentOutOfRangeException(nameof(exponent), "The Zipf exponent must be positive (use a tiny value for near-uniform).");
        _n = n;
        _s = exponent;
        _hIntegralX1 = HIntegral(1.5) - 1.0;
        _hIntegralN = HIntegral(n + 0.5);
        _threshold = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
    }

    public long Sample(Random rng)
    {
        while (true)
        {
            double u = _hIntegralN + rng.NextDouble() * (_hIntegralX1 - _hIntegralN);
            double x = HIntegralInverse(u);
            long k = (long)(x + 0.5);
            if (k < 1) k = 1;
            else if (k > _n) k = _n;
            if (k - x <= _threshold || u >= HIntegral(k + 0.5) - H(k)) return k;
        }
    }

    private double H(double x) => Math.Exp(-_s * Math.Log(x));

    /// <summary>∫ x^-s dx, written so it stays exact as s approaches 1.</summary>
    private double HIntegral(double x)
    {
        double logX = Math.Log(x);
        return ExpM1OverX((1.0 - _s) * logX) * logX;
    }

    private double HIntegralInverse(double x)
    {
        double t = x * (1.0 - _s);
        if (t < -1.0) t = -1.0; // rounding at the far end
        return Math.Exp(Log1POverX(t) * x);
    }

    private static double ExpM1OverX(double x) =>
        Math.Abs(x) > 1e-8 ? (Math.Exp(x) - 1.0) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));

    private static double Log1POverX(double x) =>
        Math.Abs(x) > 1e-8 ? Math.Log(1.0 + x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
