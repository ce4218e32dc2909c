extension NodeID {
    /// The id as processes write it in hellos, certificates and flags.
    public var wireName: String { String(rawValue) }

    /// Parses the decimal form of ``wireName``.
    public init?(wireName: String) {
        guard let value = UInt32(wireName) else { return nil }
        self.init(value)
    }
}
