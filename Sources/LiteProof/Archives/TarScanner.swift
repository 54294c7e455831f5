import Foundation

/// Reads tar headers (ustar, pax, GNU) and refuses whatever LiteProof will not open: names that
/// leave the replica (absolute, `..`), links, devices and FIFOs, bad checksums, sizes past the
/// limits or the archive, NUL bytes in names, duplicate names, and truncation.
struct TarScanner {
    let archive: String
    let limits: ArchiveLimits

    /// Extended headers allowed in a row before a member.
    static let maxExtendedHeadersInARow = 8
    /// Longest member name, and longest name component (Linux `PATH_MAX`, `NAME_MAX`).
    static let maxNameBytes = 4095, maxComponentBytes = 255

    private struct Pending {
        var path: [UInt8]?
        var longName: [UInt8]?
        var size: Int64?
        var mtime: TarTime?
        var isEmpty: Bool { path == nil && longName == nil && size == nil && mtime == nil }
    }

    /// Calls `body` for each regular-file member, in archive order, with the source positioned at
    /// the member's data; whatever of the data `body` leaves unread is skipped.
    func scan(_ source: TarSource, _ body: (TarEntry) throws -> Void) throws {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
        defer { block.deallocate() }
        var pending = Pending()
        var extendedInARow = 0
        var memberCount = 0
        var fileNames = Set<String>()
        var folderNames = Set<String>()

        while true {
            let at = source.position
            let n = try source.readFully(block)
            if n == 0 {
                throw refuse(
                    pending.isEmpty
                        ? "is truncated: it ends without the end-of-archive marker" : "is truncated: it ends after an extended header, before its member",
                    at: at)
            }
            if n < 512 { throw refuse("is truncated: it ends inside a header", at: at) }
            if block.allSatisfy({ $0 == 0 }) {
                if !pending.isEmpty { throw refuse("has an extended header followed by the end-of-archive marker", at: at) }
                let m = try source.readFully(block)
                if block[0..<m].contains(where: { $0 != 0 }) {
                    throw refuse("has a header after a lone zero block (tar tools stop at it; LiteProof will not guess)", at: at + 512)
                }
                return
            }

            let header: TarHeader
            do { header = try TarHeader(UnsafeRawBufferPointer(block), at: at) } catch { throw refuse("has a malformed header: \(error.message)", at: at) }
            let ustarName = header.path
            guard header.checksumMatches else {
                throw refuse("has a bad header checksum (not a tar archive, or a damaged one)", member: display(ustarName), at: at)
            }
            let type = header.type
            let isExtended = [UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K")].contains(type)
            let name = isExtended ? ustarName : (pending.path ?? pending.longName ?? ustarName)
            var size: Int64
            if !isExtended, let s = pending.size {
                size = s
            } else {
                guard let s = header.size, s >= 0 else {
                    throw refuse("has an unreadable size field", member: display(name), at: at)
                }
                size = s
            }
            if size > limits.maxMemberSize {
                throw refuse("claims \(size) bytes, more than the \(Units.bytes(limits.maxMemberSize)) a member may have", member: display(name), at: at)
            }
            if let total = source.knownSize, size > total - (at + 512) {
                throw refuse(
                    "claims \(size) bytes, larger than the \(max(0, total - at - 512)) bytes left in the archive (truncated or forged)",
                    member: display(name), at: at)
            }

            if isExtended {
                extendedInARow += 1
                if extendedInARow > Self.maxExtendedHeadersInARow {
                    throw refuse("has more than \(Self.maxExtendedHeadersInARow) extended headers in a row", at: at)
                }
                if size > Int64(limits.maxMetadataSize) {
                    throw refuse("has an extended header of \(size) bytes, more than the \(Units.bytes(Int64(limits.maxMetadataSize))) allowed", at: at)
                }
                var data = [UInt8](repeating: 0, count: Int(size))
                let got = try data.withUnsafeMutableBytes { try source.readFully($0) }
                if got < data.count { throw refuse("is truncated: it ends inside an extended header", at: at) }
                try skipPadding(source, size: size, at: at, member: nil)
                switch type {
                case UInt8(ascii: "x"): try applyPax(data, to: &pending, at: at)
                case UInt8(ascii: "g"): _ = try records(data, at: at)  // global: checked, not applied
                case UInt8(ascii: "L"):
                    var long = data
                    while long.last == 0 { long.removeLast() }
                    pending.longName = long
                default: break  // K: a long link target; the link itself is refused below
                }
                continue
            }
            extendedInARow = 0
            let mtime = pending.mtime ?? header.mtime.map { TarTime(seconds: $0, nanoseconds: 0) }
            pending = Pending()

            // The name: no NUL, UTF-8, relative, no `..`.
            if name.contains(0) { throw refuse("has a NUL byte in its name", member: display(name), at: at) }
            guard let text = String(bytes: name, encoding: .utf8) else {
                throw refuse("has a name that is not UTF-8", member: display(name), at: at)
            }
            let normalized = try normalize(text, at: at)

            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"), UInt8(ascii: "5"): break
            case UInt8(ascii: "1"): throw refuse("is a hard link (links are refused)", member: text, at: at)
            case UInt8(ascii: "2"): throw refuse("is a symbolic link (links are refused)", member: text, at: at)
            case UInt8(ascii: "3"): throw refuse("is a character device (device nodes are refused)", member: text, at: at)
            case UInt8(ascii: "4"): throw refuse("is a block device (device nodes are refused)", member: text, at: at)
            case UInt8(ascii: "6"): throw refuse("is a FIFO (named pipes are refused)", member: text, at: at)
            case UInt8(ascii: "S"): throw refuse("is a sparse file (not supported)", member: text, at: at)
            default:
                let shown = (32..<127).contains(type) ? "'\(Character(UnicodeScalar(type)))'" : "\(type)"
                throw refuse("has the unsupported member type \(shown)", member: text, at: at)
            }
            memberCount += 1
            if memberCount > limits.maxMembers {
                throw refuse("holds more than \(limits.maxMembers) members", at: at)
            }
            guard let mtime else { throw refuse("has an unreadable mtime field", member: text, at: at) }

            // A regular entry whose name ends with `/` is a folder in old (V7) tars.
            if type == UInt8(ascii: "5") || text.hasSuffix("/") {
                if let normalized {  // nil: the archive's root, `./`
                    if fileNames.contains(normalized) {
                        throw refuse("is a folder with the name of a file member (duplicate member names)", member: text, at: at)
                    }
                    try addParents(of: normalized, including: true, files: fileNames, folders: &folderNames, member: text, at: at)
                }
            } else {
                guard let normalized else { throw refuse("is a file with an empty name", member: text, at: at) }
                if fileNames.contains(normalized) {
                    throw refuse("appears twice (duplicate member names)", member: text, at: at)
                }
                if folderNames.contains(normalized) {
                    throw refuse("is a file with the name of a folder (duplicate member names)", member: text, at: at)
                }
                try addParents(of: normalized, including: false, files: fileNames, folders: &folderNames, member: text, at: at)
                fileNames.insert(normalized)
                try body(TarEntry(name: normalized, size: size, mtime: mtime, headerOffset: at, dataOffset: at + 512))
            }
            let dataEnd = at + 512 + size
            if source.position < dataEnd {
                let want = dataEnd - source.position
                if try source.skip(want) < want {
                    throw refuse("is truncated: the archive ends inside this member's \(size) bytes", member: text, at: at)
                }
            }
            try skipPadding(source, size: size, at: at, member: text)
        }
    }

    private func refuse(_ reason: String, member: String? = nil, at offset: Int64) -> LiteProofError {
        tarRefusal(archive, reason, member: member, at: offset)
    }

    private func skipPadding(_ source: TarSource, size: Int64, at: Int64, member: String?) throws {
        let padding = (512 - size % 512) % 512
        if padding > 0, try source.skip(padding) < padding {
            throw refuse("is truncated: the archive ends inside the padding after this member", member: member, at: at)
        }
    }

    /// Records every parent folder of `name` (and `name` itself when `including`), refusing one
    /// that is a file member.
    private func addParents(
        of name: String, including: Bool, files: Set<String>, folders: inout Set<String>, member: String, at: Int64
    ) throws {
        var prefix = ""
        let parts = name.split(separator: "/")
        for (i, part) in parts.enumerated() where including || i < parts.count - 1 {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if files.contains(prefix) {
                throw refuse("lies inside \"\(prefix)\", which is a file member", member: member, at: at)
            }
            folders.insert(prefix)
        }
    }

    /// `name` without `./` and empty components; nil for the root itself. Refuses absolute paths,
    /// `..` components and over-long names.
    private func normalize(_ name: String, at: Int64) throws -> String? {
        if name.hasPrefix("/") { throw refuse("has an absolute path (members must be relative)", member: name, at: at) }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.contains("..") { throw refuse("has a \"..\" component (members must stay inside the archive's folder)", member: name, at: at) }
        if name.utf8.count > Self.maxNameBytes || parts.contains(where: { $0.utf8.count > Self.maxComponentBytes }) {
            throw refuse("has a name longer than the system allows", member: String(name.prefix(200)) + "…", at: at)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    private func applyPax(_ data: [UInt8], to pending: inout Pending, at: Int64) throws {
        for (key, value) in try records(data, at: at) {
            switch key {
            case "path":
                pending.path = value
            case "size":
                guard let text = String(bytes: value, encoding: .utf8), !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let s = Int64(text) else {
                    throw refuse("has a pax size record that is not a number", at: at)
                }
                pending.size = s
            case "mtime":
                guard let text = String(bytes: value, encoding: .utf8), let t = TarTime(pax: text) else {
                    throw refuse("has a pax mtime record that is not a time", at: at)
                }
                pending.mtime = t
            default:
                if key.hasPrefix("GNU.sparse.") { throw refuse("has a sparse member (GNU.sparse pax records; not supported)", at: at) }
            }
        }
    }

    /// The pax records of the extended header at `at`, or the refusal naming what is wrong.
    private func records(_ data: [UInt8], at: Int64) throws -> [(key: String, value: [UInt8])] {
        do { return try paxRecords(data, base: at + 512) } catch let error as FormatError {
            throw refuse("has a malformed pax extended header: \(error.message) (byte \(error.offset))", at: at)
        }
    }

    private func display(_ name: [UInt8]) -> String {
        String(decoding: name.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
