/// What the first bytes of a cleartext connection say about its protocol.
///
/// HTTP/1.1 and prior-knowledge HTTP/2 (h2c) share one port; the only way to tell them apart is the
/// 24-byte HTTP/2 connection preface. It may arrive split across any number of reads, so the verdict
/// is taken over everything buffered so far and `needMore` keeps the bytes until it is certain.
public enum PrefaceVerdict: Equatable, Sendable {
    case needMore
    case http1
    case http2
}

public enum PrefaceClassifier {
    public static let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Any byte that differs from the preface settles it as HTTP/1 (or garbage, which the HTTP/1
    /// parser answers with 400); a full match settles it as HTTP/2.
    public static func classify<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> PrefaceVerdict {
        var matched = 0
        for (byte, expected) in zip(bytes, http2Preface) {
            guard byte == expected else { return .http1 }
            matched += 1
        }
        return matched == http2Preface.count ? .http2 : .needMore
    }
}
