import Foundation

/// The times of a bucket listing (S3's LastModified, GCS's `updated`): RFC 3339 in UTC.
package enum ListingTime {
    /// `2026-11-29T19:01:27.123Z` (fractional seconds optional; an offset such as `+01:00` in
    /// place of `Z`), read by hand: a listing has a time per key, and a date formatter per key cost
    /// most of a listing's CPU. Nothing else is accepted: Foundation's ISO 8601 formatter, which
    /// read the other forms, divided by zero on a fraction of a hundred digits (found by the
    /// `s3-listing` fuzz target).
    package static func parse(_ s: String) -> Double? {
        var text = s
        return text.withUTF8 { b -> Double? in
            // An offset: `±HH:MM` after the seconds (and fraction), the time then being local.
            if b.count >= 25, b[b.count - 3] == UInt8(ascii: ":"), b[b.count - 6] == UInt8(ascii: "+") || b[b.count - 6] == UInt8(ascii: "-") {
                let sign = b[b.count - 6] == UInt8(ascii: "+") ? 1.0 : -1.0
                func two(_ at: Int) -> Int? {
                    let (h, l) = (b[at], b[at + 1])
                    guard h >= 48 && h <= 57 && l >= 48 && l <= 57 else { return nil }
                    return Int(h - 48) * 10 + Int(l - 48)
                }
                guard let hours = two(b.count - 5), let minutes = two(b.count - 2), hours < 24, minutes < 60 else { return nil }
                // The same text with `Z` where the offset was.
                var utc = Array(b[0..<(b.count - 6)])
                utc.append(UInt8(ascii: "Z"))
                guard let local = utc.withUnsafeBufferPointer({ parseUTC($0) }) else { return nil }
                return local - sign * Double(hours * 3600 + minutes * 60)
            }
            return parseUTC(b)
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, else nil.
    package static func parseUTC(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[b.count - 1] == UInt8(ascii: "Z")
        else { return nil }
        func digits(_ at: Int, _ n: Int) -> Int? {
            var v = 0
            for i in at..<(at + n) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
            let minute = digits(14, 2), let second = digits(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24,
            minute < 60, second < 60
        else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), b.count > 21, b.count <= 31 else { return nil }
            var scale = 0.1
            for i in 20..<(b.count - 1) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                fraction += Double(c - 48) * scale
                scale /= 10
            }
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= monthDays[month - 1] else { return nil }
        // Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + hour * 3600 + minute * 60 + second) + fraction
    }
}
