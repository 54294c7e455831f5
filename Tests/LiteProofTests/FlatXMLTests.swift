import Foundation
import Testing

@testable import LiteProofStoreAnswers

/// The scanner of S3's XML answers: what S3 sends is read, the rest refused (never a trap).
@Suite struct FlatXMLTests {
    func parse(_ text: String, record: String? = "Contents") -> FlatXML { FlatXML.parse(Data(text.utf8), record: record) }

    @Test func readsWhatS3Sends() {
        let xml = parse(
            """
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment --><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><IsTruncated>false</IsTruncated><Prefix/>
              <Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#x263A; &#65;</Key><Size>10</Size>
                <ETag>&quot;x&quot;</ETag><Owner><ID>me</ID></Owner></Contents>
              <Contents><Key><![CDATA[x<y]]></Key><Size>2</Size></Contents>
            </ListBucketResult>
            """)
        #expect(xml.ok, "\(xml.problem ?? "")")
        #expect(xml.root == "ListBucketResult")
        #expect(xml.top["Name"] == "bucket" && xml.top["IsTruncated"] == "false" && xml.top["Prefix"] == "")
        #expect(xml.records.count == 2)
        #expect(xml.records.first?["Key"] == "a&b <c> \"d\" 'e' ☺ A")
        #expect(xml.records.first?["ETag"] == "\"x\"")
        #expect(xml.records.last?["Key"] == "x<y")
    }

    @Test func refusesWhatS3NeverSends() {
        let refused = [
            "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><Error><Code>&a;</Code></Error>",
            "<Error><Code>&unknown;</Code></Error>",
            "<Error><Code>a & b</Code></Error>",
            "<Error><Code>x</Message></Error>",
            "<Error><Code>x</Code></Error><Error/>",
            "<Error><Code>x</Code></Error>trailing",
            "<Error><Code>x</Code>",
            "<Error><?pi?><Code>x</Code></Error>",
            "<?e0ncoding?><Error><Code>x</Code></Error>",
            "<Error><Code>\u{1}</Code></Error>",
            "<Error><Code>&#1;</Code></Error>",
            "<a><b><c><d><e><f><g>deep</g></f></e></d></c></b></a>",
            "",
            "plain text",
        ]
        for text in refused {
            let xml = parse(text, record: nil)
            #expect(!xml.ok, "accepted: \(text)")
            #expect(xml.problem != nil, "no reason for: \(text)")
        }
        #expect(!FlatXML.parse(Data([0x3C, 0x61, 0xFF, 0x3E, 0x3C, 0x2F, 0x61, 0x3E]), record: nil).ok, "not UTF-8")
    }
}
