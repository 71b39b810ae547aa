using System.ComponentModel;
using System.Globalization;

namespace ReadStates.Hosting;

/// <summary>
/// Teaches the configuration binder the <see cref="Duration"/> syntax for every <see cref="TimeSpan"/>
/// option, so the options classes (Core's included) keep plain TimeSpan properties and know nothing of
/// configuration. The binder asks <see cref="TypeDescriptor"/> for the converter, so registration is
/// process-wide: Kestrel's and the host's own TimeSpan settings read the same syntax (their usual
/// <c>hh:mm:ss</c> values still work; a bare number is refused there too).
/// </summary>
internal sealed class DurationConverter : TypeConverter
{
    private static int s_registered;

    /// <summary>Idempotent; the host calls it before anything binds.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
            TypeDescriptor.AddAttributes(typeof(TimeSpan), new TypeConverterAttribute(typeof(DurationConverter)));
    }

    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string s
            ? Duration.TryParse(s, out var duration, out string error) ? duration : throw new FormatException(error)
            : base.ConvertFrom(context, culture, value);

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType) =>
        destinationType == typeof(string) && value is TimeSpan t ? Duration.Format(t) : base.ConvertTo(context, culture, value, destinationType);
}
