using Microsoft.Extensions.Logging;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.RocksDb;

internal static partial class RocksDbStoreLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "RocksDB store opened at {Path} (sync writes: {Sync})")]
    public static partial void Opened(ILogger logger, string path, bool sync);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "RocksDB store at {Path} closed")]
    public static partial void Closed(ILogger logger, string path);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Unreadable read state of user {UserId} channel {ChannelId} in RocksDB")]
    public static partial void CorruptValue(ILogger logger, ulong userId, ulong channelId, Exception exception);
}
