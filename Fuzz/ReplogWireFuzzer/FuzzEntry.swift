import NIOCore
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

// libFuzzer entry point: build with `-sanitize=fuzzer -DFUZZING` (see docs/fuzzing.md).
// Any input may arrive; the decoder must answer every one with a frame, `nil` or a WireError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    do {
        while let frame = try FrameDecoder.decodeFrame(from: &buffer, maxFrameSize: 1 << 20) {
            if let message = try? Message(frame: frame) {
                // A decoded message must re-encode to the very bytes it came from.
                var encoded = ByteBuffer()
                encoded.writeEnvelope(
                    Envelope(requestID: frame.header.requestID, flags: frame.header.flags, message: message),
                    version: frame.header.version
                )
                var original = ByteBuffer()
                original.writeMultipleIntegers(
                    WireLimits.magic,
                    frame.header.version,
                    frame.header.type,
                    frame.header.flags.rawValue,
                    frame.header.requestID,
                    frame.header.payloadLength
                )
                original.writeImmutableBuffer(frame.payload)
                precondition(encoded == original, "decoded message did not re-encode to its bytes")
            }
        }
    } catch {
        // Every WireError is an acceptable answer to bad input.
    }
    return 0
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    /// Hands control to libFuzzer, which calls ``fuzzOneInput(_:_:)`` with its inputs.
    @main
    enum FuzzMain {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        }
    }
#else
    /// Without libFuzzer this executable replays inputs: `ReplogWireFuzzer FILE...` runs each file
    /// through the same entry point, which is how a crash found by the fuzzer is reproduced.
    @main
    enum ReplayInputs {
        static func main() throws {
            for path in CommandLine.arguments.dropFirst() {
                guard let file = fopen(path, "rb") else {
                    print("cannot open \(path)")
                    continue
                }
                var bytes: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = fread(&chunk, 1, chunk.count, file)
                    if n <= 0 { break }
                    bytes += chunk[0..<n]
                }
                fclose(file)
                _ = bytes.withUnsafeBufferPointer {
                    fuzzOneInput($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count)
                }
                print("\(path): \(bytes.count) bytes, no crash")
            }
        }
    }
#endif
