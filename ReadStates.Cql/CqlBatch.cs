namespace ReadStates.Cql;

/// <summary>
/// A reusable batch of statements (prepared or text) with their values, encoded at send time so a
/// statement re-prepared after UNPREPARED is sent with its new id.
/// </summary>
public sealed class CqlBatch : IDisposable
{
    internal struct Entry
    {
        public PreparedStatement? Statement;
        public string? Query;
        public int FirstValue;
        public int ValueCount;
        public int ByteStart;
        public int ByteEnd;
    }

    private Entry[] _entries = new Entry[16];

    public CqlBatchType Type { get; set; } = CqlBatchType.Unlogged;
    public int Count { get; private set; }
    internal CqlValues Values { get; } = new(1024);
    /// <summary>Bytes of bound values so far: what a caller bounds to keep batches under the server's size warning.</summary>
    public int EncodedBytes => Values.Encoded.Length;
    internal ReadOnlySpan<Entry> Entries => _entries.AsSpan(0, Count);

    public void Clear()
    {
        Count = 0;
        Values.Clear();
    }

    public void Add(PreparedStatement statement, CqlValues values) => Add(statement, null, values);

    public void Add(string query, CqlValues? values = null) => Add(null, query, values);

    private void Add(PreparedStatement? statement, string? query, CqlValues? values)
    {
        if (Count == ushort.MaxValue) throw new InvalidOperationException("A batch holds at most 65535 statements.");
        if (Count == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        ref var e = ref _entries[Count++];
        e.Statement = statement;
        e.Query = query;
        e.FirstValue = Values.Count;
        e.ByteStart = Values.Encoded.Length;
        if (values is not null) Values.AddAll(values);
        e.ValueCount = Values.Count - e.FirstValue;
        e.ByteEnd = Values.Encoded.Length;
    }

    public void Dispose() => Values.Dispose();
}
