namespace ReadStates.Api;

/// <summary>What a caller may do. API keys list theirs; JWTs carry them as scopes or roles.</summary>
[Flags]
public enum Permission
{
    None = 0,
    Read = 1,
    Write = 2,
}

/// <summary>
/// The permission an RPC needs, declared on the service method that implements it:
/// <c>[RequiresPermission(Permission.Write)] public override Task&lt;AckResponse&gt; Ack(…)</c>. This is the one
/// place an RPC's permission is stated; the binder copies it into the endpoint's metadata, where the
/// authorization gate reads it. A method without it is denied to every caller (PERMISSION_DENIED), so
/// a new RPC cannot be served by accident before someone has decided who may call it.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class RequiresPermissionAttribute : Attribute
{
    public RequiresPermissionAttribute(Permission permission)
    {
        if (permission == Permission.None) throw new ArgumentException("Declare Read or Write; an open endpoint is OpenAccess.", nameof(permission));
        Permission = permission;
    }

    public Permission Permission { get; }

    /// <summary>
    /// The call carries operations that need different permissions (the Stream RPC): <see cref="Permission"/> is
    /// what opening it needs, and the gate hands the caller's permissions to the handler
    /// (<see cref="CallerPermissions"/>), which checks each operation.
    /// </summary>
    public bool PerOperation { get; init; }
}

/// <summary>
/// What the authorization gate found the caller may do, for handlers that check per operation. Stored in
/// <c>HttpContext.Items</c> only for such calls (so unary calls allocate nothing for it). Absent means none:
/// a handler that finds no grant refuses, rather than guessing.
/// </summary>
public static class CallerPermissions
{
    private static readonly object Key = new();
    private static readonly object[] Boxed = [Permission.None, Permission.Read, Permission.Write, Permission.Read | Permission.Write];

    public static void Set(Microsoft.AspNetCore.Http.HttpContext context, Permission permissions) =>
        context.Items[Key] = Boxed[(int)(permissions & (Permission.Read | Permission.Write))];

    public static Permission Of(Grpc.Core.ServerCallContext context)
    {
        var items = Grpc.Core.ServerCallContextExtensions.GetHttpContext(context).Items;
        return items.TryGetValue(Key, out var value) && value is Permission granted ? granted : Permission.None;
    }
}

/// <summary>Endpoint metadata: any caller, with or without credentials (gRPC health; reflection and metrics when so configured).</summary>
public sealed class OpenAccess
{
    public static readonly OpenAccess Instance = new();

    private OpenAccess() { }
}
