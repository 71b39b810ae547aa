using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>
/// The gate in front of every gRPC endpoint, after routing (so the endpoint, and the permission its method
/// declares, are known) and before the request body is read: a refused call is never decoded, reaches no
/// interceptor or handler, and changes nothing. Refusals are gRPC trailers-only responses
/// (HTTP 200, <c>grpc-status</c> in the headers): UNAUTHENTICATED without valid credentials,
/// PERMISSION_DENIED without the permission, or for a method that declares none.
/// </summary>
internal sealed class RpcAuthorizationMiddleware(RequestDelegate next, CallerAuthenticator authenticator, ILogger<RpcAuthorizationMiddleware> logger)
{
    private const string Unauthenticated = "16";
    private const string PermissionDenied = "7";

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null || endpoint.Metadata.GetMetadata<OpenAccess>() is not null) return next(context);

        var pending = authenticator.AuthenticateAsync(context);
        // WARNING: the hot path. An API-key call completes synchronously: keep it free of allocations and awaits.
        return pending.IsCompletedSuccessfully ? Decide(context, endpoint, pending.Result) : DecideAsync(context, endpoint, pending);
    }

    private async Task DecideAsync(HttpContext context, Endpoint endpoint, ValueTask<AuthResult> pending) =>
        await Decide(context, endpoint, await pending.ConfigureAwait(false)).ConfigureAwait(false);

    private Task Decide(HttpContext context, Endpoint endpoint, AuthResult caller)
    {
        if (!caller.Authenticated) return Reject(context, Unauthenticated, caller.Message);
        var rpc = endpoint.Metadata.GetMetadata<GrpcMethodMetadata>();
        // Not a method of ours (grpc-dotnet's UNIMPLEMENTED endpoints): an authenticated caller may learn that.
        if (rpc is null) return next(context);
        var required = endpoint.Metadata.GetMetadata<RequiresPermissionAttribute>();
        if (required is null) return Reject(context, PermissionDenied, UndeclaredMessage);
        if (!caller.Has(required.Permission))
            return Reject(context, PermissionDenied, required.Permission == Permission.Write ? LacksWrite : LacksRead);
        if (required.PerOperation) CallerPermissions.Set(context, caller.Permissions);
        return next(context);
    }

    private const string UndeclaredMessage = "This method declares no permission, so it is denied to every caller.";
    private const string LacksWrite = "The caller lacks the write permission.";
    private const string LacksRead = "The caller lacks the read permission.";

    private Task Reject(HttpContext context, string status, string message)
    {
        AuthLog.Denied(logger, context.Request.Path.Value ?? "", status == Unauthenticated ? nameof(StatusCode.Unauthenticated) : nameof(StatusCode.PermissionDenied), message);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        // Our messages are plain ASCII without '%', so they need no percent-encoding.
        response.Headers["grpc-status"] = status;
        response.Headers["grpc-message"] = message;
        return Task.CompletedTask;
    }
}
