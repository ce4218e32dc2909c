/// The shape of one simulated run; ``init(seed:)`` derives it from the seed alone.
public struct SimulationOptions: Sendable, Hashable {
    public var seed: UInt64
    public var replicas: Int
    public var coordinators: Int
    public var clients: Int
    /// Every replica starts EMPTY and the cluster initializes itself through STARTING.
    public var autoInitialize: Bool
    /// Simulated time during which faults happen and clients write, in milliseconds.
    public var faultMilliseconds: Int64
    /// Simulated time allowed for convergence once faults stop, in milliseconds.
    public var livenessMilliseconds: Int64 = 90_000
    /// Mean time between faults, in milliseconds.
    public var meanFaultInterval: Int64
    /// Mean time between client operations (per client), in milliseconds.
    public var meanOperationInterval: Int64
    /// Keep a trace of every event (slow; used when replaying a failing seed).
    public var trace = false

    public init(seed: UInt64, faultMilliseconds: Int64 = 4_000) {
        var random = SimRandom(seed: seed)
        self.seed = seed
        self.replicas = random.chance(0.6) ? 3 : 5
        self.coordinators = 1 + random.below(3)
        self.clients = 1 + random.below(3)
        self.autoInitialize = random.chance(0.25)
        self.faultMilliseconds = faultMilliseconds
        self.meanFaultInterval = 150 + Int64(random.below(400))
        self.meanOperationInterval = 20 + Int64(random.below(60))
    }

    public var description: String {
        "seed \(seed): \(replicas) replicas, \(coordinators) coordinators, \(clients) clients"
            + (autoInitialize ? ", auto-initialize" : "")
    }
}

/// The simulator's own seeded generator: xoshiro256** seeded through SplitMix64.
public struct SimRandom: RandomNumberGenerator, Sendable {
    var s0: UInt64
    var s1: UInt64
    var s2: UInt64
    var s3: UInt64

    public init(seed: UInt64) {
        var mix = seed
        func splitmix() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix()
        s1 = splitmix()
        s2 = splitmix()
        s3 = splitmix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform integer in `0 ..< bound`.
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(max(1, bound)))
    }

    /// A uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    public mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// An exponentially distributed delay with the given mean (at least 1).
    public mutating func exponential(mean: Int64) -> Int64 {
        let u = max(1e-12, Double(next() >> 11) / Double(1 << 53))
        return max(1, Int64(-Double(mean) * _log(u)))
    }
}

/// Natural logarithm by a short series, so the kit needs no Foundation.
func _log(_ x: Double) -> Double {
    // ln(x) = 2 * atanh((x - 1) / (x + 1)), after scaling x into [0.5, 1].
    var value = x
    var exponent = 0.0
    while value < 0.5 {
        value *= 2
        exponent -= 1
    }
    while value > 1 {
        value /= 2
        exponent += 1
    }
    let y = (value - 1) / (value + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var n = 1.0
    for _ in 0..<30 {
        sum += term / n
        term *= y2
        n += 2
    }
    return 2 * sum + exponent * 0.693_147_180_559_945_3
}
