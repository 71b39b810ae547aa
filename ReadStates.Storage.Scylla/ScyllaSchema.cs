using System.Globalization;
using Microsoft.Extensions.Logging;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

/// <summary>
/// The store's CQL: schema (DESIGN.md's, plus <c>sync_floor</c>) and the three statements it prepares.
/// A tombstone (a deleted state kept for sync reads) is a normal row whose <c>flags</c> carry
/// <see cref="TombstoneFlag"/> and whose <c>last_pin_timestamp</c> is the deletion time: no extra column, and
/// reviving the state rewrites both, so no null (no cell tombstone) is ever written. <c>sync_floor</c> is set
/// on the meta row only (channel 0) and unset everywhere else.
/// </summary>
internal static class ScyllaSchema
{
    public const string Table = "read_states";

    /// <summary>The <c>flags</c> bit of a tombstone row (the engine's internal Deleted flag).</summary>
    public const int TombstoneFlag = 8;

    /// <summary>Tablets off: ScyllaDB's tablets would make token-ring (and shard) routing wrong. Servers without
    /// tablets reject the option; the store then creates the keyspace without it.</summary>
    public static string CreateKeyspace(string keyspace, string datacenter, int replicationFactor, bool tablets = true)
        => string.Create(CultureInfo.InvariantCulture,
            $"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{'class': 'NetworkTopologyStrategy', '{datacenter.Replace("'", "''", StringComparison.Ordinal)}': {replicationFactor}}}")
            + (tablets ? " AND tablets = {'enabled': false}" : "");

    public static string CreateTable(string keyspace) =>
        $"CREATE TABLE IF NOT EXISTS {keyspace}.{Table} (user_id bigint, channel_id bigint, last_message_id bigint, mention_count int, " +
        "mention_ids blob, type tinyint, parent_id bigint, flags int, last_pin_timestamp timestamp, last_viewed int, version bigint, " +
        "sync_floor bigint, PRIMARY KEY ((user_id), channel_id))";

    /// <summary>For tables created before sync_floor existed; a server that has the column answers Invalid ("conflicts with an existing column").</summary>
    public static string AddSyncFloor(string keyspace) => $"ALTER TABLE {keyspace}.{Table} ADD sync_floor bigint";

    /// <summary>INSERT rather than UPDATE so a state row exists (row marker) even if its columns were all default.</summary>
    public static string Upsert(string keyspace) =>
        $"INSERT INTO {keyspace}.{Table} (user_id, channel_id, last_message_id, mention_count, mention_ids, type, parent_id, flags, " +
        "last_pin_timestamp, last_viewed, version, sync_floor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    public static string Delete(string keyspace) => $"DELETE FROM {keyspace}.{Table} WHERE user_id = ? AND channel_id = ?";

    public static string Select(string keyspace) =>
        "SELECT channel_id, last_message_id, mention_count, mention_ids, type, parent_id, flags, last_pin_timestamp, last_viewed, version, sync_floor " +
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

    [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Added column sync_floor to {Keyspace}.read_states")]
    public static partial void AddedSyncFloor(ILogger logger, string keyspace);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "ScyllaDB schema versions did not agree within 30 s after creating the schema")]
    public static partial void NoSchemaAgreement(ILogger logger);
}
