#if canImport(Glibc)
import Glibc
#if canImport(SwiftOverlayShims)
// Glibc's timespec is re-declared there when Foundation is in the module graph (release builds).
import SwiftOverlayShims
#endif
#elseif canImport(Darwin)
import Darwin
#endif
public import KeysStore

extension Timestamp {
    /// The wall clock, for shells; the store core takes time as input.
    @Sendable public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}
