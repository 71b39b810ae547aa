namespace ReadStates.Cql;

/// <summary>
/// A statement prepared through a <see cref="CqlSession"/>. Prepared ids are per node and vanish when a
/// node restarts, so the id can change: the session re-prepares on UNPREPARED and swaps the result in.
/// </summary>
public sealed class PreparedStatement
{
    private PreparedResult _result;

    internal PreparedStatement(string query, PreparedResult result)
    {
        Query = query;
        _result = result;
    }

    public string Query { get; }
    public byte[] Id => Volatile.Read(ref _result).Id;
    internal PreparedResult Result => Volatile.Read(ref _result);
    public int[] PartitionKeyIndexes => Result.PartitionKeyIndexes;
    public CqlColumn[] Variables => Result.Variables;

    internal void Update(PreparedResult result) => Volatile.Write(ref _result, result);
}
