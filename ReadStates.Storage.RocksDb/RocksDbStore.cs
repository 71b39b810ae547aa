using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Core;
using RocksDbSharp;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.RocksDb;

/// <summary>
/// The embedded store. Key = user_id big-endian ‖ channel_id big-endian, so a user's states are
/// contiguous and sorted by channel: one prefix scan loads a user. Channel 0 (never a real channel)
/// holds the user's meta row: the user's version, which survives even when every state is deleted.
/// After an I/O error (disk full, a failing device) the database is reopened once the cause clears
/// (<see cref="RecoveringDatabase"/>), so the engine's retried writes land without a restart.
/// Loads and writes may run concurrently, also with such a reopen.
/// </summary>
public sealed class RocksDbStore : IReadStateStore
{
    private const int KeyLength = 16;
    private const byte MetaFormatV1 = 1;

    private readonly DbOptions _dbOptions;
    private readonly RecoveringDatabase _db;
    private readonly WriteOptions _writeOptions;
    private readonly ILogger _logger;
    private readonly string _path;
    private int _disposed;

    [ThreadStatic]
    private static LoadContext? t_loadContext;

    public RocksDbStore(RocksDbStoreOptions options, ILogger<RocksDbStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(" ", errors), nameof(options));
        _logger = logger ?? NullLogger<RocksDbStore>.Instance;
        _path = System.IO.Path.GetFullPath(options.Path);
        Directory.CreateDirectory(_path);

        var table = new BlockBasedTableOptions()
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false))
            // Filter on the user prefix: loading a user who has never been stored skips every file.
            .SetWholeKeyFiltering(false)
            .SetFormatVersion(5);
        if (options.BlockCacheMb > 0) table.SetBlockCache(Cache.CreateLru((ulong)options.BlockCacheMb << 20));
        else table.SetNoBlockCache(true);

        _dbOptions = new DbOptions()
            .SetCreateIfMissing(true)
            .IncreaseParallelism(Math.Max(2, Environment.ProcessorCount))
            .SetPrefixExtractor(SliceTransform.CreateFixedPrefix(8))
            .SetMemtablePrefixBloomSizeRatio(0.1)
            .SetBlockBasedTableFactory(table)
            .SetCompression(Compression.Lz4)
            .SetKeepLogFileNum(4)
            .SetMaxLogFileSize(16 << 20);
        // The table options and block cache stay referenced by _dbOptions, which every reopen uses again.
        _db = new RecoveringDatabase(_path, () => RocksDbSharp.RocksDb.Open(_dbOptions, _path), _logger);
        _writeOptions = new WriteOptions().SetSync(options.Sync);
        RocksDbStoreLog.Opened(_logger, _path, options.Sync);
    }

    public string Name => "rocksdb";

    /// <summary>The absolute data directory.</summary>
    public string Path => _path;

    /// <summary>The database and its recovery (tests reach its seams through it).</summary>
    internal RecoveringDatabase Database => _db;

    public Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(into);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        var context = t_loadContext ??= new LoadContext();
        context.SetUser(userId);
        var handle = _db.Enter();
        try
        {
            Load(handle.Db, userId, context, into);
        }
        finally
        {
            handle.Exit();
        }
        return Task.CompletedTask;
    }

    private void Load(RocksDbSharp.RocksDb db, ulong userId, LoadContext context, StateBatch into)
    {
        into.BeginUser(userId, 0);
        ulong metaVersion = 0;
        using (var it = db.NewIterator(readOptions: context.ReadOptions))
        {
            for (it.Seek(context.Lower); it.Valid(); it.Next())
            {
                var key = it.GetKeySpan();
                if (key.Length != KeyLength || BinaryPrimitives.ReadUInt64BigEndian(key) != userId) break;
                ulong channelId = BinaryPrimitives.ReadUInt64BigEndian(key[8..]);
                var value = it.GetValueSpan();
                if (channelId == 0)
                {
                    metaVersion = DecodeMeta(value);
                    continue;
                }
                try
                {
                    ReadStateCodec.Decode(value, channelId, out var state, out int overflowCount, out ulong overflowMaxId, ref context.Mentions, out int mentionIds);
                    into.AddState(state, overflowCount, overflowMaxId, context.Mentions.AsSpan(0, mentionIds));
                }
                catch (InvalidDataException e)
                {
                    RocksDbStoreLog.CorruptValue(_logger, userId, channelId, e);
                    throw;
                }
            }
            // Valid() is also false when the scan failed (a read error): that must not pass for the end of the user.
            Native.Instance.rocksdb_iter_get_error(it.Handle);
        }
        into.RaiseVersion(metaVersion);
    }

    public Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        int maxMentions = 0;
        foreach (ref readonly var s in batch.States)
            maxMentions = Math.Max(maxMentions, s.MentionLength);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(ReadStateCodec.MaxEncodedLength(maxMentions), 16));
        Span<byte> key = stackalloc byte[KeyLength];
        Span<byte> meta = stackalloc byte[11];
        try
        {
            using var writeBatch = new WriteBatch();
            foreach (ref readonly var user in batch.Users)
            {
                foreach (ref readonly var stored in batch.StatesOf(user))
                {
                    WriteKey(key, user.UserId, stored.State.ChannelId);
                    if (stored.IsDeleted)
                    {
                        writeBatch.Delete(key);
                        continue;
                    }
                    int length = ReadStateCodec.Encode(stored, batch.MentionsOf(stored), buffer);
                    writeBatch.Put(key, buffer.AsSpan(0, length));
                }
                WriteKey(key, user.UserId, 0);
                writeBatch.Put(key, meta[..EncodeMeta(meta, user.Version)]);
            }
            WriteOrRecover(writeBatch);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Writes on the current database; after an I/O error, recovers it (when the cause may have cleared)
    /// and writes once more on the new one. A write batch is all or nothing, so the retry is safe.
    /// </summary>
    private void WriteOrRecover(WriteBatch writeBatch)
    {
        for (int attempt = 0; ; attempt++)
        {
            var handle = _db.Enter();
            Exception error;
            try
            {
                if (handle.InjectedWriteError is { } injected) throw new RocksDbSharpException(injected);
                handle.Db.Write(writeBatch, _writeOptions);
                return;
            }
            catch (RocksDbSharpException ex) when (RocksDbErrors.IsIoError(ex))
            {
                error = ex;
            }
            finally
            {
                handle.Exit(); // before recovery, which waits for every operation inside the handle
            }
            if (attempt > 0 || !_db.TryRecover(handle, error)) throw _db.Refused(error);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _db.Dispose();
            RocksDbStoreLog.Closed(_logger, _path);
        }
        return ValueTask.CompletedTask;
    }

    internal static void WriteKey(Span<byte> key, ulong userId, ulong channelId)
    {
        BinaryPrimitives.WriteUInt64BigEndian(key, userId);
        BinaryPrimitives.WriteUInt64BigEndian(key[8..], channelId);
    }

    /// <summary>
    /// Per-thread iterator settings, so a load allocates nothing. The bounds live in pinned arrays because
    /// RocksDB keeps pointers to them for as long as the read options are used.
    /// </summary>
    private sealed unsafe class LoadContext
    {
        // user ‖ channel 0 … user ‖ FF×8 ‖ 00: the exclusive upper bound is longer than every key of the
        // user, so even user ulong.MaxValue needs no special case.
        public readonly byte[] Lower = GC.AllocateArray<byte>(KeyLength, pinned: true);
        private readonly byte[] _upper = GC.AllocateArray<byte>(KeyLength + 1, pinned: true);
        public readonly ReadOptions ReadOptions;
        public ulong[] Mentions = new ulong[64];

        public LoadContext()
        {
            _upper.AsSpan(8, 8).Fill(0xFF);
            ReadOptions = new ReadOptions().SetPrefixSameAsStart(true);
            fixed (byte* lower = Lower) ReadOptions.SetIterateLowerBound(lower, KeyLength);
            fixed (byte* upper = _upper) ReadOptions.SetIterateUpperBound(upper, KeyLength + 1);
        }

        public void SetUser(ulong userId)
        {
            WriteKey(Lower, userId, 0);
            BinaryPrimitives.WriteUInt64BigEndian(_upper, userId);
        }
    }

    private static int EncodeMeta(Span<byte> destination, ulong version)
    {
        destination[0] = MetaFormatV1;
        int i = 1;
        while (version >= 0x80)
        {
            destination[i++] = (byte)(version | 0x80);
            version >>= 7;
        }
        destination[i++] = (byte)version;
        return i;
    }

    private static ulong DecodeMeta(ReadOnlySpan<byte> value)
    {
        if (value.Length < 2 || value[0] != MetaFormatV1) throw new InvalidDataException("Corrupt user meta row.");
        ulong result = 0;
        for (int i = 1, shift = 0; i < value.Length && shift < 64; i++, shift += 7)
        {
            result |= (ulong)(value[i] & 0x7F) << shift;
            if (value[i] < 0x80) return result;
        }
        throw new InvalidDataException("Corrupt user meta row.");
    }
}
