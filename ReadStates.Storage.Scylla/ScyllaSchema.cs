using System.Globalization;
using Microsoft.Extensions.Logging;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

/// <summary>The store's CQL: schema (as in DESIGN.md) and the three statements it prepares.</summary>
internal static class ScyllaSchema
{
    public const string Table = "read_states";

    /// <summary>Tablets off: ScyllaDB's tablets would make token-ring (and shard) routing wrong. Servers without
    /// tablets reject the option; the store then creates the keyspace without it.</summary>
    public static string CreateKeyspace(string keyspace, string datacenter, int replicationFactor, bool tablets = true)
        => string.Create(CultureInfo.InvariantCulture,
            $"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{'class': 'NetworkTopologyStrategy', '{datacenter.Replace("'", "''", StringComparison.Ordinal)}': {replicationFactor}}}")
            + (tablets ? " AND tablets = {'enabled': false}" : "");

    public static string CreateTable(string keyspace) =>
        $"CREATE TABLE IF NOT EXISTS {keyspace}.{Table} (user_id bigint, channel_id bigint, last_message_id bigint, mention_count int, " +
        "mention_ids blob, type tinyint, parent_id bigint, flags int, last_pin_timestamp timestamp, last_viewed int, version bigint, " +
        "PRIMARY KEY ((user_id), channel_id))";

    /// <summary>INSERT rather than UPDATE so a state row exists (row marker) even if its columns were all default.</summary>
    public static string Upsert(string keyspace) =>
        $"INSERT INTO {keyspace}.{Table} (user_id, channel_id, last_message_id, mention_count, mention_ids, type, parent_id, flags, " +
        "last_pin_timestamp, last_viewed, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    public static string Delete(string keyspace) => $"DELETE FROM {keyspace}.{Table} WHERE user_id = ? AND channel_id = ?";

    public static string Select(string keyspace) =>
        "SELECT channel_id, last_message_id, mention_count, mention_ids, type, parent_id, flags, last_pin_timestamp, last_viewed, version " +
        $"FROM {keyspace}.{Table} WHERE user_id = ?";
}

internal static partial class ScyllaLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "ScyllaDB store ready: {Hosts} hosts in datacenter {Datacenter}, keyspace {Keyspace}")]
    public static partial void Ready(ILogger logger, int hosts, string? datacenter, string keyspace);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "ScyllaDB store cannot connect yet: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "The server has no tablets option (ScyllaDB before 6.0 or Cassandra); keyspace created without it")]
    public static partial void NoTablets(ILogger logger);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "ScyllaDB schema versions did not agree within 30 s after creating the schema")]
    public static partial void NoSchemaAgreement(ILogger logger);
}
