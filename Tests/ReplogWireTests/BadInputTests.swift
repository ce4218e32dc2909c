import NIOCore
import NIOEmbedded
import ReplogModel
import ReplogWire
import Testing

/// Raw frame bytes with every header field under the test's control.
func rawFrame(
    magic: UInt32 = WireLimits.magic,
    version: UInt8 = 1,
    type: UInt8,
    flags: UInt16 = 0,
    requestID: UInt64 = 1,
    length: UInt32? = nil,
    payload: [UInt8]
) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeMultipleIntegers(magic, version, type, flags, requestID, length ?? UInt32(payload.count))
    buffer.writeBytes(payload)
    return buffer
}

func encoded(_ envelope: Envelope) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeEnvelope(envelope)
    return buffer
}

/// Decodes one frame and its message, as a connection would.
func decodeOne(_ bytes: ByteBuffer, maxFrameSize: UInt32 = WireLimits.maxFrameSize) throws(WireError) -> Message? {
    var bytes = bytes
    guard let frame = try FrameDecoder.decodeFrame(from: &bytes, maxFrameSize: maxFrameSize) else { return nil }
    return try Message(frame: frame)
}

func expectWireError(
    _ expected: WireError,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected \(expected) but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as WireError {
        #expect(error == expected, sourceLocation: sourceLocation)
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(expected) but \(error) was thrown", sourceLocation: sourceLocation)
    }
}

@Suite struct FrameBadInputTests {
    @Test func wrongMagicIsRefusedFromItsFirstFourBytes() throws {
        // A plaintext HTTP client, or a TLS ClientHello, must be refused at once, not waited on.
        var http = ByteBuffer(string: "GET ")
        #expect(throws: WireError.badMagic(found: 0x4745_5420)) { try FrameDecoder.decodeFrame(from: &http) }
        var tls = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00])
        #expect(throws: WireError.badMagic(found: 0x1603_0102)) { try FrameDecoder.decodeFrame(from: &tls) }
        expectWireError(.badMagic(found: 0x5250_4C48)) {
            _ = try decodeOne(rawFrame(magic: 0x5250_4C48, type: 0x04, payload: Array(repeating: 0, count: 8)))
        }
    }

    @Test func unknownVersionIsRefused() {
        expectWireError(.unsupportedVersion(found: 2, supported: 1...1)) {
            _ = try decodeOne(rawFrame(version: 2, type: 0x04, payload: Array(repeating: 0, count: 8)))
        }
        expectWireError(.unsupportedVersion(found: 0, supported: 1...1)) {
            _ = try decodeOne(rawFrame(version: 0, type: 0x04, payload: Array(repeating: 0, count: 8)))
        }
    }

    @Test func unknownFlagsAreRefused() {
        expectWireError(.unknownFlags(0x8001)) {
            _ = try decodeOne(rawFrame(type: 0x04, flags: 0x8001, payload: Array(repeating: 0, count: 8)))
        }
    }

    @Test func oversizedFrameIsRefusedBeforeItsBodyIsBuffered() throws {
        // Only the 20 header bytes are present: the decoder must not wait for 1 GiB to arrive.
        var header = rawFrame(type: 0x30, length: 1 << 30, payload: [])
        #expect(header.readableBytes == WireLimits.headerSize)
        #expect(throws: WireError.frameTooLarge(length: 1 << 30, limit: WireLimits.maxFrameSize)) {
            try FrameDecoder.decodeFrame(from: &header)
        }
        var small = rawFrame(type: 0x04, payload: Array(repeating: 0, count: 8))
        #expect(throws: WireError.frameTooLarge(length: 8, limit: 4)) {
            try FrameDecoder.decodeFrame(from: &small, maxFrameSize: 4)
        }
    }

    @Test func partialFramesWaitAndConsumeNothing() throws {
        let whole = encoded(.request(.ping(Ping(nonce: 9)), id: 3))
        for cut in 0..<whole.readableBytes {
            var partial = whole.getSlice(at: 0, length: cut)!
            #expect(try FrameDecoder.decodeFrame(from: &partial) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test func connectionClosedMidFrameIsATruncatedFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var bytes = encoded(.request(.ping(Ping(nonce: 9)), id: 3))
        let partial = bytes.readSlice(length: 25)!
        try channel.writeInbound(partial)
        #expect(try channel.readInbound(as: Frame.self) == nil)
        #expect(throws: WireError.truncatedFrame(available: 25, needed: 28)) { try channel.finish() }
    }

    @Test func connectionClosedMidHeaderIsATruncatedFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try channel.writeInbound(encoded(.request(.ping(Ping(nonce: 9)), id: 3)).getSlice(at: 0, length: 6)!)
        #expect(throws: WireError.truncatedFrame(available: 6, needed: 20)) { try channel.finish() }
    }

    @Test func frameErrorsEndTheConnectionButMessageErrorsDoNot() {
        #expect(WireError.badMagic(found: 0).isFatalToConnection)
        #expect(WireError.frameTooLarge(length: 1, limit: 0).isFatalToConnection)
        #expect(!WireError.unknownMessageType(0x7f).isFatalToConnection)
        #expect(!WireError.trailingBytes(type: .ping, offset: 8, count: 1).isFatalToConnection)
    }
}

@Suite struct MessageBadInputTests {
    @Test func unknownMessageTypeGetsATypedError() throws {
        var bytes = rawFrame(type: 0x7F, payload: [1, 2, 3])
        // The frame itself is fine: the connection survives and answers with a typed error.
        let frame = try #require(try FrameDecoder.decodeFrame(from: &bytes))
        #expect(throws: WireError.unknownMessageType(0x7F)) { try Message(frame: frame) }
        let reply = ErrorReply(WireError.unknownMessageType(0x7F))
        #expect(reply.code == .unknownMessageType)
        #expect(reply.text.contains("0x7f"))
    }

    @Test func lengthThatLiesAboutAnEntryIsATruncatedPayload() {
        // AppendRequest: client, sequence, one entry that claims 1000 bytes but carries 3.
        var payload: [UInt8] = Array(repeating: 0, count: 16) + [0, 0, 0, 1]
        payload += [0, 0, 0x03, 0xE8, 0x61, 0x62, 0x63]
        expectWireError(
            .truncatedPayload(type: .appendRequest, field: "entries", offset: 24, needed: 1000, available: 3)
        ) {
            _ = try decodeOne(rawFrame(type: 0x30, payload: payload))
        }
    }

    @Test func countThatLiesIsRefusedBeforeAnythingIsAllocated() {
        // Learned with 0xFFFFFFFF actions in a 4-byte payload.
        expectWireError(
            .truncatedPayload(
                type: .learned,
                field: "actions",
                offset: 4,
                needed: UInt64(0xFFFF_FFFF) * 18,
                available: 0
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x14, payload: [0xFF, 0xFF, 0xFF, 0xFF]))
        }
    }

    @Test func payloadEndingInsideAFixedFieldIsATruncatedPayload() {
        expectWireError(.truncatedPayload(type: .ping, field: "nonce", offset: 0, needed: 8, available: 5)) {
            _ = try decodeOne(rawFrame(type: 0x04, payload: [0, 0, 0, 0, 1]))
        }
    }

    @Test func trailingBytesAreRefused() {
        expectWireError(.trailingBytes(type: .ping, offset: 8, count: 2)) {
            _ = try decodeOne(rawFrame(type: 0x04, payload: Array(repeating: 0, count: 10)))
        }
        expectWireError(.trailingBytes(type: .statusRequest, offset: 0, count: 1)) {
            _ = try decodeOne(rawFrame(type: 0x3A, payload: [0]))
        }
    }

    @Test func entryAboveTheLimitIsRefusedWithoutReadingIt() {
        let size = WireLimits.maxEntrySize + 1
        var payload: [UInt8] = Array(repeating: 0, count: 16) + [0, 0, 0, 1]
        withUnsafeBytes(of: size.bigEndian) { payload += $0 }
        expectWireError(.entryTooLarge(type: .appendRequest, offset: 20, size: size, limit: WireLimits.maxEntrySize)) {
            _ = try decodeOne(rawFrame(type: 0x30, payload: payload))
        }
    }

    @Test func booleansOtherThanZeroOrOneAreRefused() {
        // PromiseRequest with hasPosition = 2.
        expectWireError(
            .invalidField(
                type: .promiseRequest,
                field: "hasPosition",
                offset: 8,
                reason: "a boolean must be 0 or 1, found 2"
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x10, payload: Array(repeating: 0, count: 8) + [2]))
        }
    }

    @Test func enumerationsOutOfRangeAreRefused() {
        expectWireError(
            .invalidField(type: .recoverResponse, field: "status", offset: 0, reason: "9 is not a valid ReplicaStatus")
        ) {
            _ = try decodeOne(rawFrame(type: 0x17, payload: [9, 0]))
        }
        expectWireError(
            .invalidField(type: .writeResponse, field: "result", offset: 0, reason: "0 is not a valid PaxosResult")
        ) {
            _ = try decodeOne(rawFrame(type: 0x13, payload: Array(repeating: 0, count: 21)))
        }
    }

    @Test func invalidUTF8IsRefused() {
        // LeaderResponse whose leaderID is the invalid sequence C3 28.
        expectWireError(
            .invalidField(type: .leaderResponse, field: "leaderID", offset: 0, reason: "string is not valid UTF-8")
        ) {
            _ = try decodeOne(rawFrame(type: 0x39, payload: [0, 2, 0xC3, 0x28, 0, 0] + Array(repeating: 0, count: 8)))
        }
    }

    @Test func overlongIdentifiersAreRefused() {
        let payload: [UInt8] =
            [1, 1] + Array(repeating: 0, count: 16) + [1, 0x01, 0x00] + Array(repeating: 0x61, count: 256)
        expectWireError(
            .invalidField(
                type: .hello,
                field: "nodeID",
                offset: 19,
                reason: "string of 256 bytes is longer than the limit of 255"
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x01, payload: payload + [0, 0, 0, 0]))
        }
    }

    @Test func inconsistentActionsAreRefused() {
        // A learned action without a performed proposal or value.
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1))
        payload.writeMultipleIntegers(UInt64(3), UInt64(2), UInt8(0b10), UInt8(0))
        expectWireError(
            .invalidField(
                type: .learned,
                field: "actions",
                offset: 4,
                reason: "a learned action must have been performed"
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x14, payload: Array(payload.readableBytesView)))
        }
        // Unknown action flag bits.
        var flagged = ByteBuffer()
        flagged.writeInteger(UInt32(1))
        flagged.writeMultipleIntegers(UInt64(3), UInt64(2), UInt8(0b100), UInt8(0))
        expectWireError(
            .invalidField(type: .learned, field: "actions", offset: 20, reason: "unknown action flag bits 0x4")
        ) {
            _ = try decodeOne(rawFrame(type: 0x14, payload: Array(flagged.readableBytesView)))
        }
        // An unknown value kind.
        var kind = ByteBuffer()
        kind.writeMultipleIntegers(UInt64(1), UInt64(0), UInt8(1), UInt32(1), UInt8(9), UInt8(0))
        expectWireError(
            .invalidField(type: .writeRequest, field: "values", offset: 21, reason: "unknown action value kind 9")
        ) {
            _ = try decodeOne(rawFrame(type: 0x12, payload: Array(kind.readableBytesView)))
        }
    }

    @Test func emptyBatchesAndBackwardRangesAreRefused() {
        var write = ByteBuffer()
        write.writeMultipleIntegers(UInt64(1), UInt64(1), UInt8(0), UInt32(0))
        expectWireError(
            .invalidField(
                type: .writeRequest,
                field: "values",
                offset: 17,
                reason: "a write carries at least one value"
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x12, payload: Array(write.readableBytesView)))
        }
        var catchup = ByteBuffer()
        catchup.writeMultipleIntegers(UInt64(9), UInt64(3), UInt32(0))
        expectWireError(.invalidField(type: .catchupRequest, field: "from", offset: 0, reason: "from 9 is above to 3"))
        {
            _ = try decodeOne(rawFrame(type: 0x18, payload: Array(catchup.readableBytesView)))
        }
        var write2 = ByteBuffer()
        write2.writeMultipleIntegers(UInt64(1), UInt64.max, UInt8(0), UInt32(1), UInt8(1), UInt8(0))
        expectWireError(
            .invalidField(
                type: .writeRequest,
                field: "values",
                offset: 21,
                reason: "1 values from position \(UInt64.max) overflow the position space"
            )
        ) {
            _ = try decodeOne(rawFrame(type: 0x12, payload: Array(write2.readableBytesView)))
        }
    }

    @Test func everyWireErrorMapsToAnErrorReplyCode() {
        let cases: [(WireError, ErrorCode)] = [
            (.badMagic(found: 1), .malformedFrame),
            (.unsupportedVersion(found: 9, supported: 1...1), .unsupportedVersion),
            (.unknownFlags(2), .malformedFrame), (.frameTooLarge(length: 2, limit: 1), .frameTooLarge),
            (.truncatedFrame(available: 1, needed: 2), .malformedFrame),
            (.unknownMessageType(0x7f), .unknownMessageType),
            (.truncatedPayload(type: .ping, field: "nonce", offset: 0, needed: 8, available: 0), .malformedMessage),
            (.trailingBytes(type: .ping, offset: 8, count: 1), .malformedMessage),
            (.invalidField(type: .ping, field: "x", offset: 0, reason: "r"), .malformedMessage),
            (.entryTooLarge(type: .appendRequest, offset: 0, size: 2, limit: 1), .entryTooLarge),
        ]
        for (error, code) in cases { #expect(ErrorReply(error).code == code) }
    }
}
