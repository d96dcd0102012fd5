import Testing

/// Every integration test of the proxy runs real servers and real load; one at a time, so that the rest of the
/// package's tests, many of them timing-sensitive (leases, TTLs, restart limits), keep their share of the CPU.
@Suite(.serialized)
enum DiscoveryProxyIntegrationTests {}
