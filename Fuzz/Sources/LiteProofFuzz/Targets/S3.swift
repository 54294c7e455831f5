import Foundation

@testable import LiteProof
@testable import LiteProofStoreAnswers

// Targets for what an object store answers: a ListObjectsV2 page and an error body.

/// A ListObjectsV2 page: ListBucketResult.parse, then the listing reader's invariants (the page
/// taken twice, so a token or a key repeated across pages is met too).
let s3ListingTarget = FuzzTarget(name: "s3-listing", summary: "a ListObjectsV2 page: ListBucketResult.parse, ListingReader") { bytes in
    let data = Data(bytes)
    expectCleanError {
        let page = try ListBucketResult.parse(data, context: "s3://bucket/db/")
        var reader = ListingReader(context: "s3://bucket/db/", maxKeys: 1_000_000)
        if try reader.accept(page) != nil { _ = try reader.accept(page) }
    }
}

/// An S3 error answer: S3ErrorBody.parse (nil for anything else).
let s3ErrorTarget = FuzzTarget(name: "s3-error", summary: "an S3 error answer: S3ErrorBody.parse") { bytes in
    _ = S3ErrorBody.parse(Data(bytes))
}
