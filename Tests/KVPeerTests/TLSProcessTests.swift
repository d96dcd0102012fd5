import Foundation
import TestSupport
import Testing

/// kv-peer's client TLS flags, end to end: etcd's `--cert-file`/`--key-file` with an https listen URL.
@Suite struct TLSProcessTests {
    @Test("with --cert-file/--key-file and an https listen URL, kv-peer serves the keys API over TLS (HTTP/1.1 and h2)")
    func servesOverTLS() async throws {
        try await SelfSignedCertificate.with { certificate in
            let arguments = [
                "--listen-client-urls", "https://127.0.0.1:0", "--advertise-client-urls", "https://127.0.0.1:0",
                "--cert-file", certificate.certificatePath, "--key-file", certificate.privateKeyPath,
            ]
            try await KVPeerProcess.with(arguments: arguments) { peer in
                let url = try peer.clientURL
                #expect(url.hasPrefix("https://127.0.0.1:"), "ready line: \(url)")
                let set = try await Curl.run(["-sk", "--http1.1", "-X", "PUT", "\(url)/v2/keys/secure", "-d", "value=yes"])
                #expect(set.stdout.contains(#""value":"yes""#), "\(set)")
                let get = try await Curl.run(["-sk", "--http2", "-w", " %{http_version}", "\(url)/v2/keys/secure"])
                #expect(get.stdout.contains(#""value":"yes""#) && get.stdout.hasSuffix(" 2"), "\(get)")
                let plain = try await Curl.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url.replacingOccurrences(of: "https", with: "http") + "/version"])
                #expect(plain.stdout != "200", "plain HTTP must not be served on the TLS port")
            }
        }
    }
}
