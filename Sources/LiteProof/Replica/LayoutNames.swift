import Foundation

// The folder names of Litestream's replica layouts, in one place: ``Replica/open(storage:location:)``
// (through ``V03Layout`` and ``LTXLayout``'s scans), ``FleetDiscovery`` and an archive's root
// detection recognise a layout by them, and the planner, `verify` and the replayer name a
// generation's or a level's folder with them.

extension V03Layout {
    /// The folder holding a 0.3 replica's generations.
    static let generationsFolder = "generations"
    /// A generation's folder of snapshots.
    static let snapshotsFolder = "snapshots"
    /// A generation's folder of WAL segments.
    static let walFolder = "wal"

    /// `generations/<16 hex>`: the two path components of a generation's folder.
    static func isGenerationFolder(_ parent: String, _ id: String) -> Bool {
        parent == generationsFolder && isHex(id, count: 16)
    }

    /// A generation's folder of files (`snapshots` or `wal`).
    static func isFileFolder(_ name: String) -> Bool {
        name == snapshotsFolder || name == walFolder
    }

    /// `generations/<id>`, relative to the replica root.
    static func folder(generation id: String) -> String { "\(generationsFolder)/\(id)" }
}

extension LTXLayout.Style {
    /// The folder holding the level folders, relative to the replica root (`ltx`; the root
    /// itself, "", on S3).
    public var levelsFolder: String {
        switch self {
        case .file: return "ltx"
        case .s3: return ""
        }
    }

    /// The folder of a level's files, relative to the replica root: `ltx/9`, or `0009` on S3.
    public func folder(level: Int) -> String {
        switch self {
        case .file: return "ltx/\(level)"
        case .s3: return String(format: "%04x", level)
        }
    }

    /// The style and level the path components of a level folder name (`["ltx", "9"]`, or
    /// `["0009"]` on S3), nil when they name none.
    static func level(of components: ArraySlice<String>) -> (LTXLayout.Style, Int)? {
        guard let first = components.first else { return nil }
        if components.count == 2, first == LTXLayout.Style.file.levelsFolder, let name = components.last, let l = Int(name), String(l) == name,
            (0...9).contains(l)
        {
            return (.file, l)
        }
        if components.count == 1, isHex(first, count: 4), let l = Int(first, radix: 16), (0...9).contains(l) {
            return (.s3, l)
        }
        return nil
    }
}
