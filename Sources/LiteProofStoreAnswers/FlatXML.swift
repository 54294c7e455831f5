import Foundation

/// Reads the two-level XML that S3 answers with: the root's child elements (`top`), and the
/// children of each repeated `record` element. `ok` only for a document read to its end whose
/// root element closed, nested no deeper than ``maxDepth`` (S3 nests three levels).
///
/// The bytes are read by the object stores' bounded scanner, ``XMLScan``, which reads the XML S3
/// sends and refuses the rest, naming the byte offset.
struct FlatXML: XMLReader {
    var root: String?
    var top: [String: String] = [:]
    var records: [[String: String]] = []
    var ok = false
    /// Why `ok` is false, when known.
    var problem: String?
    static let maxDepth = 6
    static let rules = XMLRules(maxDepth: maxDepth, foreignAtTop: "markup S3 never sends", foreignInside: "markup S3 never sends")

    private var record: String?
    private var current: [String: String]?

    static func parse(_ data: Data, record: String?) -> FlatXML {
        var xml = FlatXML()
        xml.record = record
        do {
            try XMLScan.read(data, rules: rules, into: &xml)
            xml.ok = true
        } catch let e as XMLRefusal {
            xml.problem = e.why
        } catch {
            xml.problem = "\(error)"
        }
        return xml
    }

    mutating func open(_ path: [String], raw: String) -> String? {
        if path.count == 1 { root = raw }
        if path.count == 2 && raw == record { current = [:] }
        return nil
    }

    mutating func close(_ path: [String], text: String) {
        guard let name = path.last else { return }
        if path.count == 2 {
            if name == record, let c = current {
                records.append(c)
                current = nil
            } else {
                top[name] = text
            }
        } else if path.count == 3 && current != nil {
            current?[name] = text
        }
    }
}
