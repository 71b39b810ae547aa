using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>An authenticated caller of an API key: made once at start, shared by all its calls.</summary>
internal sealed class ApiKeyCaller(string name, Permission permissions, byte[] hash)
{
    public string Name { get; } = name;
    public Permission Permissions { get; } = permissions;
    public byte[] Hash { get; } = hash;
}

/// <summary>
/// The configured API keys, by hash. Presenting a key costs one SHA-256 of it (on the stack), one
/// lookup and one constant-time compare: no allocation, no per-call principal.
/// <para>
/// The lookup is keyed by the hash's first 8 bytes, so its timing can at most tell an attacker whether
/// the SHA-256 of <em>their own</em> guess shares a prefix with a stored hash, which says nothing about any
/// key; the full 32 bytes are then compared with <see cref="CryptographicOperations.FixedTimeEquals"/>.
/// </para>
/// </summary>
internal sealed class ApiKeyStore
{
    /// <summary>Longer keys are refused before hashing (real keys are ~44 characters of base64).</summary>
    public const int MaxKeyLength = 256;

    private readonly FrozenDictionary<ulong, ApiKeyCaller[]> _byPrefix;

    public ApiKeyStore(IEnumerable<ApiKeyOptions> keys)
    {
        var callers = new List<ApiKeyCaller>();
        foreach (var key in keys)
        {
            if (!ApiKeyOptions.TryParseHash(key.Sha256, out var hash) || !ApiKeyOptions.TryParsePermissions(key.Permissions, out var permissions, out _))
                throw new ArgumentException($"API key '{key.Name}' is invalid; the configuration check reports why."); // unreachable after the check
            callers.Add(new ApiKeyCaller(key.Name, permissions, hash));
        }
        _byPrefix = callers.GroupBy(c => Prefix(c.Hash)).ToFrozenDictionary(g => g.Key, g => g.ToArray());
        Count = callers.Count;
    }

    public int Count { get; }

    /// <summary>Hex SHA-256 of a key, as configuration stores it.</summary>
    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public ApiKeyCaller? Find(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || key.Length > MaxKeyLength) return null;
        Span<byte> utf8 = stackalloc byte[MaxKeyLength * 3];
        int length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        if (!_byPrefix.TryGetValue(Prefix(hash), out var candidates)) return null;
        foreach (var caller in candidates)
            if (CryptographicOperations.FixedTimeEquals(caller.Hash, hash)) return caller;
        return null;
    }

    private static ulong Prefix(ReadOnlySpan<byte> hash) => BinaryPrimitives.ReadUInt64LittleEndian(hash);
}
