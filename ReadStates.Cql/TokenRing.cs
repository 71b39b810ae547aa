namespace ReadStates.Cql;

/// <summary>
/// The token ring of the local datacenter: sorted tokens and, for each, the distinct hosts met walking
/// clockwise from it (the owner first). Built once per topology read, so routing a request is a binary
/// search and allocates nothing.
/// </summary>
internal sealed class TokenRing
{
    private const int MaxPlanLength = 8;

    private readonly long[] _tokens;
    private readonly int[][] _plans;

    public TokenRing(IReadOnlyList<CqlHost> hosts)
    {
        Hosts = hosts;
        var pairs = new List<(long Token, int Host)>();
        for (int h = 0; h < hosts.Count; h++)
            foreach (long t in hosts[h].Tokens) pairs.Add((t, h));
        pairs.Sort((a, b) => a.Token.CompareTo(b.Token));
        _tokens = pairs.Select(p => p.Token).ToArray();
        int planLength = Math.Min(MaxPlanLength, hosts.Count);
        _plans = new int[_tokens.Length][];
        for (int i = 0; i < _tokens.Length; i++)
        {
            var plan = new List<int>(planLength);
            for (int j = 0; j < pairs.Count && plan.Count < planLength; j++)
            {
                int host = pairs[(i + j) % pairs.Count].Host;
                if (!plan.Contains(host)) plan.Add(host);
            }
            _plans[i] = [.. plan];
        }
        AllHosts = Enumerable.Range(0, hosts.Count).ToArray();
    }

    public IReadOnlyList<CqlHost> Hosts { get; }
    public int TokenCount => _tokens.Length;
    /// <summary>Every host index, for requests without a routing token.</summary>
    public int[] AllHosts { get; }

    /// <summary>Host indexes to try for a token: the owner of the first ring token ≥ it (wrapping), then the next distinct hosts.</summary>
    public int[] PlanFor(long token)
    {
        if (_tokens.Length == 0) return AllHosts;
        int i = Array.BinarySearch(_tokens, token);
        if (i < 0) i = ~i;
        if (i == _tokens.Length) i = 0;
        return _plans[i];
    }

    public CqlHost OwnerOf(long token) => Hosts[PlanFor(token)[0]];
}
