/// etcd's key normalisation: `path.Clean(path.Join("/", key))` from Go.
public enum KeyPath {
    /// `//a/./b/../c/` becomes `/a/c`; the empty key is the root `/`.
    public static func clean(_ key: String) -> String {
        if isClean(key) { return key }
        var parts: [Substring] = []
        for part in key.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Fast path: absolute, and no empty, `.` or `..` segment (which also rules out a trailing slash).
    private static func isClean(_ key: String) -> Bool {
        guard key.utf8.first == UInt8(ascii: "/") else { return false }
        if key.utf8.count == 1 { return true }
        for segment in key.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if segment.isEmpty || segment.elementsEqual([UInt8(ascii: ".")]) || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                return false
            }
        }
        return true
    }

    /// The components below the root: `/a/b` gives `["a", "b"]`.
    public static func components(_ cleanPath: String) -> [Substring] {
        cleanPath.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// A node is hidden when its own name starts with `_`.
    public static func isHiddenName<S: StringProtocol>(_ name: S) -> Bool { name.utf8.first == UInt8(ascii: "_") }

    /// etcd `isHidden(watchPath, keyPath)`: whether `keyPath` sits under a `_` component *below* `watchPath`.
    public static func isHidden(watchPath: String, keyPath: String) -> Bool {
        guard watchPath.utf8.count <= keyPath.utf8.count else { return false }
        let after = keyPath.utf8.dropFirst(watchPath.utf8.count)
        let afterPath = clean("/" + String(decoding: after, as: UTF8.self))
        return afterPath.contains("/_")
    }

    /// Joins a clean parent path and a child name.
    static func join(_ parent: String, _ name: Substring) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }
}
