import NIOCore
import NIOTestUtils
import ReplogModel
import ReplogWire
import Testing

/// Feeds a stream of bytes through the decoder the way a connection does, until it stops.
/// Every failure must be a ``WireError``; anything else (or a crash) fails the test.
func drain(_ bytes: ByteBuffer) throws -> (frames: Int, messages: Int) {
    var buffer = bytes
    var frames = 0
    var messages = 0
    do {
        while let frame = try FrameDecoder.decodeFrame(from: &buffer, maxFrameSize: 1 << 16) {
            frames += 1
            do {
                _ = try Message(frame: frame)
                messages += 1
            } catch {
                // A bad message inside a good frame: the connection would answer and go on.
            }
        }
    } catch {
        // A frame-level error: the connection would answer and close.
    }
    return (frames, messages)
}

@Suite struct PropertyTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomValidEnvelopesRoundTrip(seed: UInt64) async throws {
        var random = RandomMessages(rng: SplitMix64(seed: seed))
        for round in 0..<2_000 {
            if round % 200 == 0 { await Task.yield() }
            let envelope = random.envelope()
            var buffer = ByteBuffer()
            let size = buffer.writeEnvelope(envelope)
            #expect(size == buffer.readableBytes)
            let frame = try #require(try FrameDecoder.decodeFrame(from: &buffer))
            #expect(buffer.readableBytes == 0)
            let decoded = Envelope(
                requestID: frame.header.requestID,
                flags: frame.header.flags,
                message: try Message(frame: frame)
            )
            #expect(decoded == envelope, "seed \(seed): \(envelope.message.type) did not round-trip")
        }
    }

    @Test func randomByteStringsNeverCrashTheDecoder() async throws {
        var rng = SplitMix64(seed: 0x5EED)
        for round in 0..<20_000 {
            if round % 500 == 0 { await Task.yield() }
            let length = Int(rng.next() % 128)
            _ = try drain(ByteBuffer(bytes: (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        }
    }

    @Test func randomPayloadsBehindValidHeadersNeverCrashTheDecoder() async throws {
        // Pure noise rarely gets past the magic; this puts noise behind a good header of every type.
        var rng = SplitMix64(seed: 0xFACE)
        var decodedSome = 0
        for round in 0..<20_000 {
            if round % 500 == 0 { await Task.yield() }
            let type =
                rng.next() % 3 == 0
                ? UInt8(truncatingIfNeeded: rng.next())
                : MessageType.allCases[Int(rng.next() % UInt64(MessageType.allCases.count))].rawValue
            let payload = (0..<Int(rng.next() % 96)).map { _ in
                UInt8(truncatingIfNeeded: rng.next() % 4 == 0 ? 0 : rng.next())
            }
            decodedSome += try drain(rawFrame(type: type, payload: payload)).messages
        }
        #expect(decodedSome > 0)
    }

    @Test func mutatedValidFramesNeverCrashTheDecoder() async throws {
        var rng = SplitMix64(seed: 0xB17F11B)
        var random = RandomMessages(rng: SplitMix64(seed: 99))
        for round in 0..<10_000 {
            if round % 500 == 0 { await Task.yield() }
            var buffer = ByteBuffer()
            buffer.writeEnvelope(random.envelope())
            var bytes = Array(buffer.readableBytesView)
            switch rng.next() % 3 {
            case 0:
                // Flip a few bits anywhere, including the header's length field.
                for _ in 0...(rng.next() % 3) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= 1 << (rng.next() % 8) }
            case 1:
                bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
            default:
                bytes += (0...(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            _ = try drain(ByteBuffer(bytes: bytes))
        }
    }

    @Test func decoderVerifierOneByteAtATimeAndManyFramesPerBuffer() throws {
        var random = RandomMessages(rng: SplitMix64(seed: 7))
        var pairs: [(ByteBuffer, [Frame])] = []
        for _ in 0..<30 {
            var input = ByteBuffer()
            var frames: [Frame] = []
            for _ in 0...(random.rng.next() % 4) {
                let start = input.writerIndex
                input.writeEnvelope(random.envelope())
                var copy = input.getSlice(at: start, length: input.writerIndex - start)!
                frames.append(try #require(try FrameDecoder.decodeFrame(from: &copy)))
            }
            pairs.append((input, frames))
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func largeEntriesAreSlicesOfTheFrameNotCopies() throws {
        let entry = ByteBuffer(repeating: 0xAB, count: 1 << 20)
        var buffer = ByteBuffer()
        buffer.writeEnvelope(.request(.appendRequest(AppendRequest(entries: [entry, entry])), id: 1))
        let frame = try #require(try FrameDecoder.decodeFrame(from: &buffer))
        guard case .appendRequest(let request) = try Message(frame: frame) else {
            Issue.record("not an append")
            return
        }
        let payloadRange = frame.payload.withUnsafeReadableBytes { raw in
            UInt(bitPattern: raw.baseAddress!)..<UInt(bitPattern: raw.baseAddress!) + UInt(raw.count)
        }
        for decoded in request.entries {
            #expect(decoded == entry)
            let start = decoded.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
            #expect(payloadRange.contains(start), "a decoded entry was copied out of the frame")
        }
    }
}
