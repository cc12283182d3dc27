// Key strategies' string transforms, with Foundation's JSONEncoder/JSONDecoder semantics.

enum _KeyConversion {
    /// `myURLProperty` → `my_url_property`, `oneTwo` → `one_two` (Foundation's algorithm).
    static func toSnakeCase(_ key: String) -> String {
        guard !key.isEmpty else { return key }
        var words: [Range<String.Index>] = []
        var wordStart = key.startIndex
        var searchRange = key.index(after: wordStart)..<key.endIndex
        while let upperCaseRange = key[searchRange].firstIndex(where: { $0.isUppercase }) {
            let untilUpperCase = wordStart..<upperCaseRange
            words.append(untilUpperCase)
            searchRange = upperCaseRange..<searchRange.upperBound
            guard let lowerCaseIndex = key[searchRange].firstIndex(where: { !$0.isUppercase }) else {
                wordStart = searchRange.lowerBound
                break
            }
            let nextCharacterAfterCapital = key.index(after: upperCaseRange)
            if lowerCaseIndex == nextCharacterAfterCapital {
                wordStart = upperCaseRange
            } else {
                let beforeLowerIndex = key.index(before: lowerCaseIndex)
                words.append(upperCaseRange..<beforeLowerIndex)
                wordStart = beforeLowerIndex
            }
            searchRange = lowerCaseIndex..<searchRange.upperBound
        }
        words.append(wordStart..<searchRange.upperBound)
        return words.map { key[$0].lowercased() }.joined(separator: "_")
    }

    /// `my_url_property` → `myUrlProperty`; leading and trailing underscores are kept (Foundation's algorithm).
    static func fromSnakeCase(_ key: String) -> String {
        guard !key.isEmpty else { return key }
        guard let firstNonUnderscore = key.firstIndex(where: { $0 != "_" }) else { return key }
        var lastNonUnderscore = key.index(before: key.endIndex)
        while lastNonUnderscore > firstNonUnderscore && key[lastNonUnderscore] == "_" {
            key.formIndex(before: &lastNonUnderscore)
        }
        let keyRange = firstNonUnderscore...lastNonUnderscore
        let leading = key[key.startIndex..<firstNonUnderscore]
        let trailing = key[key.index(after: lastNonUnderscore)..<key.endIndex]
        let components = key[keyRange].split(separator: "_")
        let joined: String
        if components.count == 1 {
            joined = String(key[keyRange])
        } else {
            joined = ([components[0].lowercased()] + components[1...].map { $0.capitalized }).joined()
        }
        return String(leading) + joined + String(trailing)
    }
}

extension Substring {
    fileprivate var capitalized: String {
        guard let first else { return "" }
        return first.uppercased() + self.dropFirst().lowercased()
    }
}
