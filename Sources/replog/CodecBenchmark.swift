import ArgumentParser
import NIOCore
import ReplogWire

/// `replog bench codec`: encode and decode throughput of append frames, on one core.
struct CodecBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Measure wire encode/decode throughput for 100-byte and 1 MiB append messages."
    )

    @Option(help: "Seconds to spend on each measurement.")
    var seconds: Double = 2

    func run() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        print("replog codec benchmark (one core, \(seconds) s per measurement)")
        print("case                                   messages/s        MB/s")
        for size in [100, 1 << 20] {
            let label = size == 100 ? "100 B" : "1 MiB"
            let envelope = Envelope.request(
                .appendRequest(
                    AppendRequest(
                        token: AppendToken(client: 1, sequence: 1),
                        entries: [ByteBuffer(repeating: 0x5A, count: size)]
                    )
                ),
                id: 1
            )
            let frames = manyFrames(envelope)
            report("encode \(label) append", measure(bytesPer: size) { encode(envelope, count: $0) })
            report("decode \(label) append (in memory)", measure(bytesPer: size) { decode(frames, count: $0) })
            report("decode \(label) append (64 KiB reads)", measure(bytesPer: size) { decodeStream(frames, count: $0) })
        }
        let block = ByteBuffer(repeating: 1, count: 1 << 20)
        report("memcpy 1 MiB (reference)", measure(bytesPer: 1 << 20) { copy(block, count: $0) })
    }

    struct Result {
        var messagesPerSecond: Double
        var megabytesPerSecond: Double
    }

    func report(_ name: String, _ result: Result) {
        let padded = name + String(repeating: " ", count: max(0, 36 - name.count))
        print(
            "\(padded) \(format(result.messagesPerSecond, width: 12)) \(format(result.megabytesPerSecond, width: 11))"
        )
    }

    func format(_ value: Double, width: Int) -> String {
        let text = String(Int(value.rounded()))
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// Runs `body(batch)` in growing batches until `seconds` have passed; `body` returns a
    /// checksum so that the optimizer cannot drop the work.
    func measure(bytesPer entrySize: Int, _ body: (Int) -> Int) -> Result {
        let clock = ContinuousClock()
        var batch = entrySize >= (1 << 20) ? 16 : 10_000
        var total = 0
        var checksum = 0
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        let start = clock.now
        while clock.now - start < budget {
            checksum &+= body(batch)
            total += batch
            batch = min(batch * 2, entrySize >= (1 << 20) ? 256 : 1_000_000)
        }
        let elapsed = clock.now - start
        let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if checksum == Int.min { print("") }
        let rate = Double(total) / secondsElapsed
        return Result(messagesPerSecond: rate, megabytesPerSecond: rate * Double(entrySize) / 1_000_000)
    }

    func encode(_ envelope: Envelope, count: Int) -> Int {
        var buffer = ByteBuffer()
        var checksum = 0
        for _ in 0..<count {
            buffer.clear()
            checksum &+= buffer.writeEnvelope(envelope)
        }
        return checksum
    }

    /// About 12 MiB of back-to-back frames, built once before measuring.
    ///
    /// It stays below 16 MiB on purpose: NIO copies a slice that starts more than 16 MiB into its
    /// storage, and a real receive buffer never grows that far past its reader index.
    func manyFrames(_ envelope: Envelope) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeEnvelope(envelope)
        var many = ByteBuffer()
        for _ in 0..<max(8, (12 << 20) / frame.readableBytes) { many.writeImmutableBuffer(frame) }
        return many
    }

    func decode(_ many: ByteBuffer, count: Int) -> Int {
        var checksum = 0
        var done = 0
        while done < count {
            var buffer = many
            while done < count, let decoded = try! FrameDecoder.decodeFrame(from: &buffer) {
                guard case .appendRequest(let request) = try! Message(frame: decoded) else { fatalError() }
                checksum &+= request.entries[0].readableBytes
                done += 1
            }
        }
        return checksum
    }

    func decodeStream(_ many: ByteBuffer, count: Int) -> Int {
        // Bytes arrive in 64 KiB reads and are appended to a cumulation buffer, as NIO's
        // ByteToMessageHandler does: this is the one copy a hop costs.
        var checksum = 0
        var done = 0
        var cumulation = ByteBuffer()
        cumulation.reserveCapacity(4 << 20)
        while done < count {
            var source = many
            while done < count, source.readableBytes > 0 {
                var chunk = source.readSlice(length: min(65536, source.readableBytes))!
                cumulation.writeBuffer(&chunk)
                while done < count, let decoded = try! FrameDecoder.decodeFrame(from: &cumulation) {
                    guard case .appendRequest(let request) = try! Message(frame: decoded) else { fatalError() }
                    checksum &+= request.entries[0].readableBytes
                    done += 1
                }
                cumulation.discardReadBytes()
            }
        }
        return checksum
    }

    func copy(_ block: ByteBuffer, count: Int) -> Int {
        var target = ByteBuffer()
        target.reserveCapacity(block.readableBytes)
        var checksum = 0
        for _ in 0..<count {
            target.clear()
            target.writeImmutableBuffer(block)
            checksum &+= Int(target.getInteger(at: target.writerIndex - 1, as: UInt8.self)!)
        }
        return checksum
    }
}
