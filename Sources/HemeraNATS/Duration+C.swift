extension Duration {
    /// The duration in whole nanoseconds, clamped at zero.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration in whole milliseconds as cnats wants it, at least 1 for any positive duration.
    var cMilliseconds: Int64 {
        let ns = self.nanoseconds
        if ns == 0 { return 0 }
        return Int64(max(1, (ns + 999_999) / 1_000_000))
    }
}
