extension EtcdFlags {
    /// The `--help` text, in the layout of etcd's own (`etcdmain/help.go`), listing kv-peer's defaults.
    public static let usage: String = {
        var text = """
            Usage:

              kv-peer [flags]
                Start a kv-peer member (an etcd v2 API server).

              kv-peer --version
                Show the version of kv-peer.

              kv-peer -h | --help
                Show the help information about kv-peer.

            Flags take one or two dashes: -name x, --name x, --name=x. Boolean flags take no value or =true/=false.
            Each flag --foo-bar may instead be set through the environment variable ETCD_FOO_BAR;
            the command line wins over the environment.

            """
        for section in EtcdFlagDefinition.Section.allCases {
            let flags = definitions.filter { $0.section == section }
            guard !flags.isEmpty else { continue }
            text += "\n\(section.rawValue):\n"
            for flag in flags {
                text += "  --\(flag.name) '\(flag.defaultText)'\n    \(flag.usage)\n"
            }
        }
        text += """

            etcd 0.4 flags:
              -addr, -bind-addr, -peer-addr, -peer-bind-addr (ip:port) are mapped onto --advertise-client-urls,
              --listen-client-urls, --initial-advertise-peer-urls and --listen-peer-urls, as etcd 2 maps them.
              -peers and -peers-file are refused. These are accepted and ignored:
              \(ignoredFlagNames.map { "-" + $0 }.joined(separator: " "))

            etcd 3 flags for the v3 backend (--quota-backend-bytes, --auto-compaction-*, --grpc-*, --experimental-*, ...)
            are accepted, checked and ignored with a warning.

            """
        return text
    }()
}
