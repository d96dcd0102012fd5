/// Go's `path.Match`, which fleet uses for `Conflicts=` and `Replaces=` globs.
///
/// `*` matches any run of characters except `/`, `?` one character except `/`, `[...]` a class (`^`
/// negates, `lo-hi` ranges, `\` escapes; unlike the wildcards a class *can* match `/`), and `\` escapes.
/// A malformed pattern matches nothing, as fleet ignores Go's `ErrBadPattern`.
///
/// This is Go's algorithm, not a general glob matcher: the pattern is cut into chunks at each run of
/// stars and each chunk is matched at the leftmost position where it fits, without backtracking into an
/// earlier chunk. That gives different answers from a backtracking matcher in corner cases (`*[a/]*c`
/// does not match `a/c` in Go), and placement must agree with fleet's.
public enum GoPathMatch {
    public static func matches(pattern: String, name: String) -> Bool {
        (try? match(Array(pattern.unicodeScalars)[...], Array(name.unicodeScalars)[...])) ?? false
    }

    /// Whether `pattern` is well formed, for validation before it is stored. Go's `Match` checks the whole
    /// pattern whatever the name, so matching against the empty name reveals every syntax error.
    public static func isValid(pattern: String) -> Bool {
        (try? match(Array(pattern.unicodeScalars)[...], [])) != nil
    }

    struct BadPattern: Error {}

    typealias Scalars = ArraySlice<Unicode.Scalar>

    static func match(_ pattern: Scalars, _ name: Scalars) throws(BadPattern) -> Bool {
        var pattern = pattern
        var name = name
        nextChunk: while !pattern.isEmpty {
            let (star, chunk, rest) = scanChunk(pattern)
            pattern = rest
            if star && chunk.isEmpty {
                // A trailing star takes the rest of the name, unless that holds a `/`.
                return !name.contains("/")
            }
            // The last chunk must use up the name; any other may leave some for the next star.
            if let remainder = try matchChunk(chunk, name), remainder.isEmpty || !pattern.isEmpty {
                name = remainder
                continue
            }
            if star {
                var skip = name.startIndex
                while skip < name.endIndex && name[skip] != "/" {
                    skip += 1
                    if let remainder = try matchChunk(chunk, name[skip...]) {
                        if pattern.isEmpty && !remainder.isEmpty { continue }
                        name = remainder
                        continue nextChunk
                    }
                }
            }
            // No match, but a malformed tail must still be reported as such.
            while !pattern.isEmpty {
                let (_, chunk, rest) = scanChunk(pattern)
                pattern = rest
                _ = try matchChunk(chunk, [])
            }
            return false
        }
        return name.isEmpty
    }

    /// Leading stars, then everything up to the next star outside a class.
    private static func scanChunk(_ pattern: Scalars) -> (star: Bool, chunk: Scalars, rest: Scalars) {
        let afterStars = pattern.drop { $0 == "*" }
        let star = afterStars.startIndex != pattern.startIndex
        var inClass = false
        var index = afterStars.startIndex
        scan: while index < afterStars.endIndex {
            switch afterStars[index] {
            case "\\":
                if index + 1 < afterStars.endIndex { index += 1 }
            case "[":
                inClass = true
            case "]":
                inClass = false
            case "*":
                if !inClass { break scan }
            default:
                break
            }
            index += 1
        }
        return (star, afterStars[..<index], afterStars[index...])
    }

    /// Matches `chunk` (no stars) at the start of `name`: the rest of the name, or `nil`. Once the match has
    /// failed the chunk is still read to the end, so a malformed chunk always throws.
    private static func matchChunk(_ chunk: Scalars, _ name: Scalars) throws(BadPattern) -> Scalars? {
        var chunk = chunk
        var name = name
        var failed = false
        while let token = chunk.first {
            if !failed && name.isEmpty { failed = true }
            switch token {
            case "[":
                let candidate = failed ? nil : name.popFirst()
                chunk = chunk.dropFirst()
                var negated = false
                if chunk.first == "^" {
                    negated = true
                    chunk = chunk.dropFirst()
                }
                var matched = false
                var ranges = 0
                while true {
                    if chunk.first == "]" && ranges > 0 {
                        chunk = chunk.dropFirst()
                        break
                    }
                    let low = try classCharacter(&chunk)
                    var high = low
                    if chunk.first == "-" {
                        chunk = chunk.dropFirst()
                        high = try classCharacter(&chunk)
                    }
                    if let candidate, low <= candidate && candidate <= high { matched = true }
                    ranges += 1
                }
                if matched == negated { failed = true }
            case "?":
                if !failed {
                    if name.first == "/" { failed = true }
                    name = name.dropFirst()
                }
                chunk = chunk.dropFirst()
            default:
                var literal = token
                if token == "\\" {
                    chunk = chunk.dropFirst()
                    guard let escaped = chunk.first else { throw BadPattern() }
                    literal = escaped
                }
                if !failed {
                    if name.first != literal { failed = true }
                    name = name.dropFirst()
                }
                chunk = chunk.dropFirst()
            }
        }
        return failed ? nil : name
    }

    /// One end of a class range (Go's `getEsc`): `-` and `]` must be escaped, and the class must go on.
    private static func classCharacter(_ chunk: inout Scalars) throws(BadPattern) -> Unicode.Scalar {
        guard var scalar = chunk.first, scalar != "-", scalar != "]" else { throw BadPattern() }
        if scalar == "\\" {
            chunk = chunk.dropFirst()
            guard let escaped = chunk.first else { throw BadPattern() }
            scalar = escaped
        }
        chunk = chunk.dropFirst()
        guard !chunk.isEmpty else { throw BadPattern() }
        return scalar
    }
}
