public import ArgumentParser
public import HTTPServer
public import ProxyCore
public import ServiceKit

/// `discovery-proxy`'s flags: the common service flags plus where to listen for traffic and how to route it.
public struct ProxyOptions: ParsableArguments, Sendable {
    @OptionGroup public var common: CommonOptions

    @Option(name: .customLong("http-listen"), help: "Address for client traffic: HTTP/1.1 and h2c on one port (port 0 picks one).")
    public var httpListen: String = "0.0.0.0:80"

    @Option(name: .customLong("https-listen"), help: "Address for TLS client traffic (HTTP/2 or HTTP/1.1 by ALPN); needs --tls-cert-file and --tls-key-file.")
    public var httpsListen: String?

    @Option(name: .customLong("tls-cert-file"), help: "PEM certificate chain served to clients that ask for no name we have a certificate for.")
    public var tlsCertFile: String?

    @Option(name: .customLong("tls-key-file"), help: "PEM private key of --tls-cert-file.")
    public var tlsKeyFile: String?

    @Option(name: .customLong("tls-sni"), help: "A certificate for one server name: NAME=CERT_FILE,KEY_FILE (NAME may be *.example.com). Repeatable.")
    public var tlsSNI: [String] = []

    @Option(name: .customLong("route"), help: "A static route, e.g. host=app.example.com,path=/api,service=api,policy=least-connections. Repeatable; routes in <proxy-prefix>/routes/ are added to these.")
    public var routes: [String] = []

    @Option(name: .customLong("services-prefix"), help: "Directory where instances announce themselves as <prefix>/<service>/<instance>.")
    public var servicesPrefix: String = "/services"

    @Option(name: .customLong("proxy-prefix"), help: "Directory of the proxy's own configuration: <prefix>/routes/<name> and <prefix>/tcp/<name>.")
    public var proxyPrefix: String = "/proxy"

    @Option(name: .customLong("access-log"), help: "Access log in the Common Log Format: a file to append to, or - for stdout. Off when not given.")
    public var accessLog: String?

    @Option(name: .customLong("drain-timeout"), help: "How long requests and TCP sessions on a deregistered instance (or on shutdown) may take to finish.")
    public var drainTimeout: String = "30s"

    @Option(name: .customLong("resync-interval"), help: "Full re-read of the keys besides the watch, to report and repair a silent stall.")
    public var resyncInterval: String = "30s"

    @Option(name: .customLong("client-idle-timeout"), help: "Idle keep-alive client connections are closed after this long.")
    public var clientIdleTimeout: String = "75s"

    @Option(name: .customLong("max-connections"), help: "Client connections served at once; more wait in the accept queue.")
    public var maxConnections: Int = 10_000

    public init() {}

    public func validate() throws {
        _ = try configuration(environment: [:])
    }

    public func configuration(environment: [String: String]) throws -> ProxyConfiguration {
        func duration(_ text: String, flag: String) throws -> Duration {
            guard let value = ProxyDuration.parse(text), value > .zero else {
                throw ValidationError("--\(flag): \"\(text)\" is not a duration (e.g. 500ms, 30s, 2m)")
            }
            return value
        }
        func listen(_ text: String, flag: String) throws -> ListenAddress {
            do { return try ListenAddress(parsing: text) } catch { throw ValidationError("--\(flag): \(error)") }
        }
        var staticRoutes: [RouteSpec] = []
        for text in routes {
            // The core's message already names the flag and its value.
            do { staticRoutes.append(try RouteSpec.parse(flag: text)) } catch { throw ValidationError("\(error)") }
        }
        var tls: TLSOptions?
        let https = try httpsListen.map { try listen($0, flag: "https-listen") }
        let named = try tlsSNI.map(Self.parseNamedCertificate)
        switch (tlsCertFile, tlsKeyFile) {
        case (let cert?, let key?):
            tls = TLSOptions(certificateChainPath: cert, privateKeyPath: key, namedCertificates: named)
        case (nil, nil):
            if https != nil { throw ValidationError("--https-listen needs --tls-cert-file and --tls-key-file") }
            if !tlsSNI.isEmpty { throw ValidationError("--tls-sni needs --tls-cert-file and --tls-key-file for clients that ask for another name") }
        default:
            throw ValidationError("--tls-cert-file and --tls-key-file go together")
        }
        if tls != nil, https == nil { throw ValidationError("--tls-cert-file is given but --https-listen is not") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        for (flag, prefix) in [("services-prefix", servicesPrefix), ("proxy-prefix", proxyPrefix)] where !prefix.hasPrefix("/") || prefix.count < 2 {
            throw ValidationError("--\(flag) must be a directory like /services, got \"\(prefix)\"")
        }
        return ProxyConfiguration(
            endpoints: try common.resolvedEndpoints(environment: environment).urls,
            admin: try listen(common.listen, flag: "listen"),
            http: try listen(httpListen, flag: "http-listen"),
            https: https,
            tls: tls,
            staticRoutes: staticRoutes,
            servicesPrefix: servicesPrefix,
            proxyPrefix: proxyPrefix,
            accessLog: accessLog,
            drainTimeout: try duration(drainTimeout, flag: "drain-timeout"),
            resyncInterval: try duration(resyncInterval, flag: "resync-interval"),
            clientIdleTimeout: try duration(clientIdleTimeout, flag: "client-idle-timeout"),
            maxConnections: maxConnections
        )
    }

    static func parseNamedCertificate(_ text: String) throws -> NamedCertificate {
        guard let equals = text.firstIndex(of: "=") else {
            throw ValidationError("--tls-sni \(text): expected NAME=CERT_FILE,KEY_FILE")
        }
        let name = String(text[..<equals])
        let files = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
        guard !name.isEmpty, files.count == 2, !files[0].isEmpty, !files[1].isEmpty else {
            throw ValidationError("--tls-sni \(text): expected NAME=CERT_FILE,KEY_FILE")
        }
        return NamedCertificate(serverName: name, certificateChainPath: String(files[0]), privateKeyPath: String(files[1]))
    }
}

/// Everything the proxy runs with, validated.
public struct ProxyConfiguration: Sendable {
    public var endpoints: [String]
    public var admin: ListenAddress
    public var http: ListenAddress
    public var https: ListenAddress?
    public var tls: TLSOptions?
    public var staticRoutes: [RouteSpec]
    public var servicesPrefix: String
    public var proxyPrefix: String
    public var accessLog: String?
    public var drainTimeout: Duration
    public var resyncInterval: Duration
    public var clientIdleTimeout: Duration
    public var maxConnections: Int

    public init(
        endpoints: [String], admin: ListenAddress, http: ListenAddress, https: ListenAddress? = nil, tls: TLSOptions? = nil,
        staticRoutes: [RouteSpec] = [], servicesPrefix: String = "/services", proxyPrefix: String = "/proxy", accessLog: String? = nil,
        drainTimeout: Duration = .seconds(30), resyncInterval: Duration = .seconds(30), clientIdleTimeout: Duration = .seconds(75),
        maxConnections: Int = 10_000
    ) {
        self.endpoints = endpoints
        self.admin = admin
        self.http = http
        self.https = https
        self.tls = tls
        self.staticRoutes = staticRoutes
        self.servicesPrefix = servicesPrefix
        self.proxyPrefix = proxyPrefix
        self.accessLog = accessLog
        self.drainTimeout = drainTimeout
        self.resyncInterval = resyncInterval
        self.clientIdleTimeout = clientIdleTimeout
        self.maxConnections = maxConnections
    }
}
