using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace ReadStates.Api;

/// <summary>
/// Binds gRPC services as grpc-dotnet's own binder does (the generated <c>BindService</c>, handler methods
/// found on the service type, their attributes as endpoint metadata), with one difference: a request
/// body that does not decode answers <c>INVALID_ARGUMENT</c>, logged as one Debug line.
/// <para>
/// grpc-dotnet decodes the request before any interceptor runs, and a decoding exception becomes
/// <c>UNKNOWN</c> "Exception was thrown by handler" with an Error-level stack trace per call, so a client
/// sending garbage could fill the log. An <see cref="RpcException"/> from the deserializer is instead
/// answered with its own status and logged by grpc-dotnet at Information without a stack trace (the
/// <c>Grpc</c> log category is at Warning in appsettings.json, so even that is quiet).
/// </para>
/// </summary>
internal sealed class DecodingServiceMethodProvider<TService>(ILoggerFactory loggerFactory) : IServiceMethodProvider<TService>
    where TService : class
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ReadStates.Api.Decoding");

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = FindBindMethod(typeof(TService));
        if (bind is null) return; // not a generated service (e.g. bound from a ServerServiceDefinition)
        var baseType = bind.GetParameters()[1].ParameterType;
        bind.Invoke(null, [new Binder(context, baseType, _logger), null]);
    }

    private static MethodInfo? FindBindMethod(Type? type)
    {
        for (; type is not null; type = type.BaseType)
        {
            var attribute = type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false);
            if (attribute is null) continue;
            return attribute.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .FirstOrDefault(m => m.Name == attribute.BindMethodName && m.GetParameters() is [var binder, _] && binder.ParameterType == typeof(ServiceBinderBase));
        }
        return null;
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context, Type baseType, ILogger logger) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, [typeof(TRequest), typeof(ServerCallContext)]);
            context.AddUnaryMethod(Decoding(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name,
                [typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)]);
            context.AddServerStreamingMethod(Decoding(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name,
                [typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext)]);
            context.AddClientStreamingMethod(Decoding(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name,
                [typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)]);
            context.AddDuplexStreamingMethod(Decoding(method), metadata, invoker);
        }

        /// <summary>The same method with a request deserializer that turns a decoding failure into INVALID_ARGUMENT.</summary>
        private Method<TRequest, TResponse> Decoding<TRequest, TResponse>(Method<TRequest, TResponse> method)
            where TRequest : class where TResponse : class
        {
            var decode = method.RequestMarshaller.ContextualDeserializer;
            string name = method.FullName;
            var requests = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
            {
                try
                {
                    return decode(context);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    ApiLog.Undecodable(logger, name, FirstSentence(ex.Message));
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "The request message could not be decoded as " + typeof(TRequest).Name + "."));
                }
            });
            return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, requests, method.ResponseMarshaller);
        }

        // Protobuf's messages go on to speculate about causes; the first sentence says what was wrong.
        private static string FirstSentence(string message)
        {
            int end = message.IndexOf(". ", StringComparison.Ordinal);
            if (end > 0) message = message[..(end + 1)];
            return message.Length <= 120 ? message : message[..120];
        }

        private (TDelegate Invoker, List<object> Metadata) Model<TDelegate>(string name, Type[] parameters) where TDelegate : Delegate
        {
            var handler = FindHandler(name, parameters) ?? throw new InvalidOperationException($"Could not find '{name}' on {typeof(TService)}.");
            var metadata = new List<object>();
            // Type attributes first, method attributes last: the later wins when endpoint metadata is read.
            metadata.AddRange(typeof(TService).GetCustomAttributes(inherit: true));
            metadata.AddRange(handler.GetCustomAttributes(inherit: true));
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return ((TDelegate)Delegate.CreateDelegate(typeof(TDelegate), handler), metadata);
        }

        /// <summary>The public override of the generated base's virtual method (a method that only hides it does not count).</summary>
        private MethodInfo? FindHandler(string name, Type[] parameters)
        {
            for (Type? type = typeof(TService); type is not null; type = type.BaseType)
            {
                var candidate = type.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, binder: null, parameters, modifiers: null);
                if (candidate is null) return null;
                if (candidate.IsVirtual && candidate.GetBaseDefinition().DeclaringType == baseType) return candidate;
            }
            return null;
        }
    }
}

internal static class DecodingServiceMethodProvider
{
    /// <summary>Puts this provider in place of grpc-dotnet's reflection binder; false when that binder was not found.</summary>
    public static bool Replace(IServiceCollection services)
    {
        var builtIn = services.FirstOrDefault(d => d.ServiceType == typeof(IServiceMethodProvider<>)
            && d.ImplementationType is { IsGenericTypeDefinition: true, Name: "BinderServiceMethodProvider`1" });
        if (builtIn is null) return false;
        services.Remove(builtIn);
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(DecodingServiceMethodProvider<>)));
        return true;
    }
}
