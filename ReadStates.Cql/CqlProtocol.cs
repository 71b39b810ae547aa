namespace ReadStates.Cql;

/// <summary>Frame opcodes of CQL native protocol v4.</summary>
internal enum CqlOpcode : byte
{
    Error = 0x00,
    Startup = 0x01,
    Ready = 0x02,
    Authenticate = 0x03,
    Options = 0x05,
    Supported = 0x06,
    Query = 0x07,
    Result = 0x08,
    Prepare = 0x09,
    Execute = 0x0A,
    Register = 0x0B,
    Event = 0x0C,
    Batch = 0x0D,
    AuthChallenge = 0x0E,
    AuthResponse = 0x0F,
    AuthSuccess = 0x10,
}

[Flags]
internal enum CqlFrameFlags : byte
{
    None = 0,
    Compressed = 0x01,
    Tracing = 0x02,
    CustomPayload = 0x04,
    Warning = 0x08,
}

/// <summary>Consistency levels as sent on the wire.</summary>
public enum CqlConsistency : ushort
{
    Any = 0,
    One = 1,
    Two = 2,
    Three = 3,
    Quorum = 4,
    All = 5,
    LocalQuorum = 6,
    EachQuorum = 7,
    Serial = 8,
    LocalSerial = 9,
    LocalOne = 10,
}

[Flags]
internal enum QueryFlags : byte
{
    None = 0,
    Values = 0x01,
    SkipMetadata = 0x02,
    PageSize = 0x04,
    PagingState = 0x08,
    SerialConsistency = 0x10,
    DefaultTimestamp = 0x20,
    NamedValues = 0x40,
}

public enum CqlBatchType : byte
{
    Logged = 0,
    Unlogged = 1,
    Counter = 2,
}

internal enum CqlResultKind
{
    Void = 1,
    Rows = 2,
    SetKeyspace = 3,
    Prepared = 4,
    SchemaChange = 5,
}

[Flags]
internal enum RowsFlags
{
    None = 0,
    GlobalTablesSpec = 0x01,
    HasMorePages = 0x02,
    NoMetadata = 0x04,
}

/// <summary>Server error codes (ERROR body).</summary>
public enum CqlErrorCode
{
    ServerError = 0x0000,
    ProtocolError = 0x000A,
    AuthenticationError = 0x0100,
    Unavailable = 0x1000,
    Overloaded = 0x1001,
    IsBootstrapping = 0x1002,
    TruncateError = 0x1003,
    WriteTimeout = 0x1100,
    ReadTimeout = 0x1200,
    ReadFailure = 0x1300,
    FunctionFailure = 0x1400,
    WriteFailure = 0x1500,
    SyntaxError = 0x2000,
    Unauthorized = 0x2100,
    Invalid = 0x2200,
    ConfigError = 0x2300,
    AlreadyExists = 0x2400,
    Unprepared = 0x2500,
}

/// <summary>Column type ids of the [option] type encoding.</summary>
public enum CqlTypeCode : ushort
{
    Custom = 0x00,
    Ascii = 0x01,
    Bigint = 0x02,
    Blob = 0x03,
    Boolean = 0x04,
    Counter = 0x05,
    Decimal = 0x06,
    Double = 0x07,
    Float = 0x08,
    Int = 0x09,
    Timestamp = 0x0B,
    Uuid = 0x0C,
    Varchar = 0x0D,
    Varint = 0x0E,
    Timeuuid = 0x0F,
    Inet = 0x10,
    Date = 0x11,
    Time = 0x12,
    Smallint = 0x13,
    Tinyint = 0x14,
    List = 0x20,
    Map = 0x21,
    Set = 0x22,
    Udt = 0x30,
    Tuple = 0x31,
}
