/// A parse error: the finding code it is reported under, where it happened and what was
/// expected there. The one error every parser of outside bytes throws (LTX, WAL, LZ4 frame,
/// database header, tar, digest); it becomes a ``Finding`` where findings are collected.
public struct FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: FindingCode
    /// The file, relative to the replica root, once a caller that knows it has said so.
    public var file: String?
    /// Byte offset of the problem: absolute in the file (or in the decompressed stream, for data
    /// inside an LZ4 frame) when the parser was given its base, else from the parsed unit's start.
    public var offset: Int64
    /// What was found and what was expected.
    public var message: String

    public init(_ code: FindingCode, file: String? = nil, offset: Int64, _ message: String) {
        self.code = code
        self.file = file
        self.offset = offset
        self.message = message
    }

    /// The same error, attributed to `file` (kept when already attributed).
    public func located(in file: String) -> FormatError {
        var e = self
        if e.file == nil { e.file = file }
        return e
    }

    /// The error as a finding (severity error; same code, file, offset and message).
    public var finding: Finding { .error(code, file: file ?? "", offset: offset, message) }

    public var description: String { finding.description }
}
