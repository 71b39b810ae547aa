using System.Diagnostics;

namespace ReadStates.Core;

/// <summary>
/// The engine's spans (ActivitySource <c>ReadStates</c>): only the slow paths make one, an engine miss
/// (<c>engine.miss</c>) and each store call under it (<c>store.load</c>, and <c>store.write</c> for
/// write-behind). The resident hot path never starts an activity; with no listener
/// <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null without allocating.
/// </summary>
public static class EngineTracing
{
    public const string SourceName = "ReadStates";

    internal static readonly ActivitySource Source = new(SourceName);

    internal const string UserIdTag = "readstates.user_id";
    internal const string UsersTag = "readstates.users";
    internal const string StatesTag = "readstates.states";
    internal const string StoreTag = "readstates.store";

    internal static void Fail(Activity? activity, Exception ex)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, ex.Message);
        activity.SetTag("error.type", ex.GetType().FullName);
    }
}
