internal import COpenSSL
internal import CReplogOpenSSLShims
internal import NIOCore

/// The ciphertext queues between OpenSSL and NIO, reached by OpenSSL through a custom BIO.
///
/// A memory BIO would copy every byte once more in each direction (and zero its buffer as it
/// grows); here OpenSSL reads straight from the `ByteBuffer`s the channel delivered and writes
/// straight into the `ByteBuffer` the channel will send.
final class ByteBufferBIO {
    /// Received ciphertext not yet consumed by OpenSSL, oldest first.
    private var inbound: [ByteBuffer] = []
    private var inboundIndex = 0
    /// Ciphertext OpenSSL produced since the last ``takeOutbound()``.
    private(set) var outbound: ByteBuffer
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        outbound = allocator.buffer(capacity: 0)
    }

    /// A new BIO of ours pointing at this object; the BIO does not retain it, so the owner of the
    /// `SSL` keeps both alive together.
    func makeBIO() -> OpaquePointer? {
        guard let bio = BIO_new(ByteBufferBIOMethod.method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    /// Queues received ciphertext (no copy).
    func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        if inboundIndex > 0 && inboundIndex == inbound.count {
            inbound.removeAll(keepingCapacity: true)
            inboundIndex = 0
        }
        inbound.append(buffer)
    }

    /// Bytes of received ciphertext not yet read by OpenSSL.
    var inboundBytes: Int {
        var total = 0
        for index in inboundIndex..<inbound.count { total += inbound[index].readableBytes }
        return total
    }

    /// Makes room for `bytes` of ciphertext, so a large write does not grow the buffer repeatedly.
    func reserveOutbound(_ bytes: Int) {
        outbound.reserveCapacity(minimumWritableBytes: bytes)
    }

    /// The ciphertext produced so far, or nil.
    func takeOutbound() -> ByteBuffer? {
        guard outbound.readableBytes > 0 else { return nil }
        let taken = outbound
        outbound = allocator.buffer(capacity: 0)
        return taken
    }

    fileprivate func read(into pointer: UnsafeMutableRawPointer, count: Int) -> Int {
        var copied = 0
        while copied < count && inboundIndex < inbound.count {
            let available = inbound[inboundIndex].readableBytes
            let take = min(available, count - copied)
            inbound[inboundIndex].withUnsafeReadableBytes { bytes in
                (pointer + copied).copyMemory(from: bytes.baseAddress!, byteCount: take)
            }
            inbound[inboundIndex].moveReaderIndex(forwardBy: take)
            copied += take
            if take == available {
                inbound[inboundIndex] = ByteBuffer()  // release the storage early
                inboundIndex += 1
            }
        }
        if inboundIndex == inbound.count && inboundIndex > 0 {
            inbound.removeAll(keepingCapacity: true)
            inboundIndex = 0
        }
        return copied
    }

    fileprivate func write(from pointer: UnsafeRawPointer, count: Int) {
        outbound.writeBytes(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// The `BIO_METHOD` of ``ByteBufferBIO``, made once per process.
enum ByteBufferBIOMethod {
    nonisolated(unsafe) static let method: OpaquePointer = {
        let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "replog ByteBuffer")!
        BIO_meth_set_read_ex(method, byteBufferBIORead)
        BIO_meth_set_write_ex(method, byteBufferBIOWrite)
        BIO_meth_set_ctrl(method, byteBufferBIOControl)
        BIO_meth_set_create(method, byteBufferBIOCreate)
        BIO_meth_set_destroy(method, byteBufferBIODestroy)
        return method
    }()
}

private func owner(_ bio: OpaquePointer?) -> ByteBufferBIO? {
    guard let bio, let data = BIO_get_data(bio) else { return nil }
    return Unmanaged<ByteBufferBIO>.fromOpaque(data).takeUnretainedValue()
}

private func byteBufferBIORead(
    _ bio: OpaquePointer?,
    _ pointer: UnsafeMutablePointer<CChar>?,
    _ count: Int,
    _ readBytes: UnsafeMutablePointer<Int>?
) -> Int32 {
    replog_BIO_clear_retry_flags(bio)
    guard let owner = owner(bio), let pointer, count > 0 else { return 0 }
    let copied = owner.read(into: UnsafeMutableRawPointer(pointer), count: count)
    if copied == 0 {
        // Nothing buffered: "try again later", not end of file.
        replog_BIO_set_retry_read(bio)
        return 0
    }
    readBytes?.pointee = copied
    return 1
}

private func byteBufferBIOWrite(
    _ bio: OpaquePointer?,
    _ pointer: UnsafePointer<CChar>?,
    _ count: Int,
    _ written: UnsafeMutablePointer<Int>?
) -> Int32 {
    replog_BIO_clear_retry_flags(bio)
    guard let owner = owner(bio), let pointer else { return 0 }
    owner.write(from: UnsafeRawPointer(pointer), count: count)
    written?.pointee = count
    return 1
}

private func byteBufferBIOControl(
    _ bio: OpaquePointer?,
    _ command: Int32,
    _ argument: Int,
    _ pointer: UnsafeMutableRawPointer?
) -> Int {
    switch command {
    case BIO_CTRL_FLUSH:
        return 1
    case BIO_CTRL_GET_CLOSE:
        return Int(BIO_get_shutdown(bio))
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(bio, Int32(truncatingIfNeeded: argument))
        return 1
    case BIO_CTRL_PENDING:
        return owner(bio)?.inboundBytes ?? 0
    case BIO_CTRL_WPENDING:
        return owner(bio)?.outbound.readableBytes ?? 0
    default:
        return 0
    }
}

private func byteBufferBIOCreate(_ bio: OpaquePointer?) -> Int32 {
    BIO_set_init(bio, 0)
    BIO_set_data(bio, nil)
    return 1
}

private func byteBufferBIODestroy(_ bio: OpaquePointer?) -> Int32 {
    BIO_set_data(bio, nil)
    BIO_set_init(bio, 0)
    return 1
}
