import Foundation

@testable import LiteProof
@testable import LiteProofStoreAnswers

/// A page of the GCS JSON API's objects list: GCSListPage.parse, then the listing reader's
/// invariants (the page taken twice, so a token or a name repeated across pages is met too).
let gcsListingTarget = FuzzTarget(name: "gcs-listing", summary: "a GCS objects list page (JSON): GCSListPage.parse, ListingReader") { bytes in
    let data = Data(bytes)
    expectCleanError {
        let page = try GCSListPage.parse(data, context: "gs://bucket/db/")
        var reader = ListingReader(context: "gs://bucket/db/", maxKeys: 1_000_000)
        if try reader.accept(objects: page.objects, truncated: page.nextToken != nil, nextToken: page.nextToken) != nil {
            _ = try reader.accept(objects: page.objects, truncated: page.nextToken != nil, nextToken: page.nextToken)
        }
    }
}
