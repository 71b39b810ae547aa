using System.Globalization;
using System.Text;
using HdrHistogram;

namespace ReadStates.Bench.Load;

/// <summary>
/// A latency-by-percentile plot in the HdrHistogram style: the x axis is 1/(1-p) on a log scale, so
/// 90%, 99%, 99.9%, ... are evenly spaced and the tail gets the room; y is latency in ms (log scale).
/// </summary>
internal static class SvgPlot
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    public static string Render(string title, IReadOnlyList<(string Label, HistogramBase Histogram)> series)
    {
        int W = 960, Left = 80, Right = 300, Top = 50, Bottom = 60;
        int H = Math.Max(520, Top + 20 + series.Count * 20 + Bottom);
        int plotW = W - Left - Right, plotH = H - Top - Bottom;
        const double maxNines = 5; // up to 99.999%
        var curves = series.Select(s => (s.Label, Points: Points(s.Histogram, maxNines))).ToList();
        double yMax = curves.SelectMany(c => c.Points).Select(p => p.Ms).DefaultIfEmpty(1).Max();
        double yMin = curves.SelectMany(c => c.Points).Select(p => p.Ms).Where(v => v > 0).DefaultIfEmpty(0.01).Min();
        double logMin = Math.Floor(Math.Log10(Math.Max(yMin, 0.001)));
        double logMax = Math.Ceiling(Math.Log10(Math.Max(yMax, 0.001)) + 1e-9);
        if (logMax <= logMin) logMax = logMin + 1;

        double X(double nines) => Left + nines / maxNines * plotW;
        double Y(double ms) => Top + plotH - (Math.Log10(Math.Max(ms, Math.Pow(10, logMin))) - logMin) / (logMax - logMin) * plotH;
        static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{W / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{Escape(title)}</text>\n");
        // Grid and axes.
        for (int n = 0; n <= maxNines; n++)
        {
            string label = n == 0 ? "0%" : (100 - 100 / Math.Pow(10, n)).ToString("0.#####", CultureInfo.InvariantCulture) + "%";
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(X(n))}\" y1=\"{Top}\" x2=\"{F(X(n))}\" y2=\"{Top + plotH}\" stroke=\"#ddd\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(n))}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{label}</text>\n");
        }
        for (double d = logMin; d <= logMax + 1e-9; d++)
        {
            double ms = Math.Pow(10, d);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{F(Y(ms))}\" x2=\"{Left + plotW}\" y2=\"{F(Y(ms))}\" stroke=\"#ddd\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 8}\" y=\"{F(Y(ms) + 4)}\" text-anchor=\"end\">{ms.ToString("0.###", CultureInfo.InvariantCulture)}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#333\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + plotW / 2}\" y=\"{H - 15}\" text-anchor=\"middle\">percentile</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"20\" y=\"{Top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 20 {Top + plotH / 2})\">latency (ms, log)</text>\n");
        for (int i = 0; i < curves.Count; i++)
        {
            string color = Colors[i % Colors.Length];
            var pts = string.Join(" ", curves[i].Points.Select(p => $"{F(X(p.Nines))},{F(Y(p.Ms))}"));
            // Past ten series the colours repeat dashed.
            string dash = i >= Colors.Length ? " stroke-dasharray=\"6 3\"" : "";
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{pts}\"/>\n");
            int ly = Top + 10 + i * 20;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left + plotW + 12}\" y1=\"{ly}\" x2=\"{Left + plotW + 32}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"3\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + plotW + 38}\" y=\"{ly + 4}\">{Escape(curves[i].Label)}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static List<(double Nines, double Ms)> Points(HistogramBase h, double maxNines)
    {
        var list = new List<(double, double)>();
        if (h.TotalCount == 0) return list;
        // Dense enough for a smooth curve: 40 steps per decade of 1/(1-p).
        for (double n = 0; n <= maxNines + 1e-9; n += 0.025)
        {
            double p = 100.0 * (1 - Math.Pow(10, -n));
            if (n > 0 && 1.0 / (1 - p / 100) > h.TotalCount) // beyond what the sample can resolve
            {
                list.Add((n, h.GetMaxValue() / 1000.0));
                break;
            }
            list.Add((n, h.GetValueAtPercentile(p) / 1000.0));
        }
        return list;
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
