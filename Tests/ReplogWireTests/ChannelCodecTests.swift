import NIOCore
import NIOEmbedded
import ReplogModel
import ReplogWire
import Testing

/// The codec as a connection uses it: `FrameEncoder` on the way out, `FrameDecoder` on the way in.
@Suite struct ChannelCodecTests {
    @Test func envelopesCrossAChannelPipelineIntact() throws {
        let sender = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        let receiver = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        for sample in Samples.all {
            try sender.writeOutbound(sample.envelope)
        }
        // Deliver the bytes in awkward 7-byte pieces, as a network may.
        var wire = ByteBuffer()
        while var chunk = try sender.readOutbound(as: ByteBuffer.self) { wire.writeBuffer(&chunk) }
        while wire.readableBytes > 0 {
            try receiver.writeInbound(wire.readSlice(length: min(7, wire.readableBytes))!)
        }
        for sample in Samples.all {
            let frame = try #require(try receiver.readInbound(as: Frame.self))
            let envelope = Envelope(
                requestID: frame.header.requestID,
                flags: frame.header.flags,
                message: try Message(frame: frame)
            )
            #expect(envelope == sample.envelope)
        }
        #expect(try receiver.readInbound(as: Frame.self) == nil)
        #expect(try sender.finish().isClean)
        #expect(try receiver.finish().isClean)
    }

    @Test func aBadFrameRaisesItsTypedErrorInThePipeline() throws {
        let receiver = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameSize: 1024)))
        #expect(throws: WireError.frameTooLarge(length: 4096, limit: 1024)) {
            try receiver.writeInbound(rawFrame(type: 0x30, length: 4096, payload: []))
        }
        _ = try? receiver.finish()
    }
}
