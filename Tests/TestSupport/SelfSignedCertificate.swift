import Foundation

/// A throwaway certificate for 127.0.0.1/localhost, made with the `openssl` CLI in a fresh temp directory.
public struct SelfSignedCertificate: Sendable {
    public let directory: String
    public var certificatePath: String { directory + "/cert.pem" }
    public var privateKeyPath: String { directory + "/key.pem" }

    /// `commonName` also goes into the subject alternative names, beside 127.0.0.1.
    public static func generate(commonName: String = "localhost") async throws -> SelfSignedCertificate {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flotilla-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = SelfSignedCertificate(directory: directory)
        do {
            try await Command.run("openssl", [
                "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", certificate.privateKeyPath, "-out", certificate.certificatePath, "-days", "2",
                "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=IP:127.0.0.1,DNS:\(commonName)",
            ])
        } catch {
            certificate.remove()
            throw error
        }
        return certificate
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` with a fresh certificate and removes it afterwards.
    public static func with<T>(_ body: (SelfSignedCertificate) async throws -> T) async throws -> T {
        let certificate = try await generate()
        defer { certificate.remove() }
        return try await body(certificate)
    }
}

/// A scratch file with the given bytes, for request bodies sent with `curl --data-binary @path`.
public struct ScratchFile: Sendable {
    public let path: String

    public init(bytes: [UInt8]) throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("flotilla-body-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    public static func with<T>(bytes: [UInt8], _ body: (ScratchFile) async throws -> T) async throws -> T {
        let file = try ScratchFile(bytes: bytes)
        defer { file.remove() }
        return try await body(file)
    }
}
