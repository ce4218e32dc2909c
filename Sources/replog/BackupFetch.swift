import ArgumentParser
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// `replog backup fetch ID --to FILE [--force]`: copies a backup off the cluster, verified.
struct BackupFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Copy a ready backup from the leading coordinator into FILE, and verify it.",
        discussion: """
            The file arrives in chunks under a temporary name next to FILE; it gets its name only \
            once its structure and SHA-256 check out and match the coordinator's record. An \
            existing FILE is never overwritten without --force.
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The backup's id (from `replog backup list`).")
    var id: String

    @Option(name: .customLong("to"), help: "Where to write the backup.")
    var destination: String

    @Flag(help: "Replace FILE if it exists.")
    var force = false

    /// Bytes asked for per request, and requests in flight: large enough to stream, far below the
    /// 64 MiB frame limit.
    static let chunkSize = 4 << 20
    static let inFlight = 4

    func run() async throws {
        if !force && access(destination, F_OK) == 0 {
            throw StorageFailure("\(destination) already exists; refusing to overwrite it (pass --force to replace it)")
        }
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let info = try await replog.showBackup(id)
        guard info.status == .ready else {
            throw StorageFailure(
                "backup \(id) is \(info.status), not STATUS_READY"
                    + (info.reason.isEmpty ? "; fetch it once it is ready" : ": \(info.reason)")
            )
        }
        let file = try PartialFile(next: destination)
        do {
            try await download(info, into: file, from: replog)
            let summary = try file.verify()
            guard summary.sha256 == info.sha256, summary.header.backupID == id else {
                throw StorageFailure(
                    "the copy of backup \(id) is a valid backup but not the one the coordinator describes"
                        + " (SHA-256 \(summary.sha256.hexString), expected \(info.sha256.hexString)); fetch it again"
                )
            }
            try file.commit(replacing: force)
        } catch {
            file.discard()
            throw error
        }
        print(
            "fetched backup \(id) to \(destination): \(info.size) bytes, \(info.entryCount) entries,"
                + " SHA-256 \(info.sha256.hexString) verified"
        )
    }

    /// Fetches every byte of the backup, several chunks at a time, each written at its offset.
    func download(_ info: BackupInfo, into file: PartialFile, from replog: ReplogClient) async throws {
        let interactive = isatty(STDERR_FILENO) == 1
        let size = info.size
        let id = self.id
        var received: UInt64 = 0
        try await withThrowingTaskGroup(of: (UInt64, UInt64, BackupFetchResponse).self) { group in
            var next: UInt64 = 0
            func request(_ offset: UInt64, _ length: UInt64) {
                group.addTask {
                    (offset, length, try await replog.fetchBackupChunk(id, offset: offset, maxBytes: UInt32(length)))
                }
            }
            func requestNext() {
                guard next < size else { return }
                let length = min(UInt64(Self.chunkSize), size - next)
                request(next, length)
                next += length
            }
            for _ in 0..<Self.inFlight { requestNext() }
            while let (offset, length, response) = try await group.next() {
                guard response.size == size else {
                    throw StorageFailure(
                        "backup \(id) changed size while it was fetched (\(size) -> \(response.size) bytes);"
                            + " fetch it again"
                    )
                }
                let count = UInt64(response.data.readableBytes)
                guard count > 0 else {
                    throw StorageFailure("the coordinator sent no bytes of backup \(id) at offset \(offset)")
                }
                try file.write(response.data, at: offset)
                received += count
                // A short answer leaves the rest of the chunk to ask for again.
                if count < length { request(offset + count, length - count) } else { requestNext() }
                if interactive {
                    eprint("\rfetching \(id): \(received >> 20) of \(size >> 20) MiB", terminator: "")
                }
            }
        }
        if interactive { eprint("") }
    }
}

/// A file written under a temporary name next to its destination, which gets the destination's
/// name only once complete (fsynced, verified); discarded otherwise.
final class PartialFile: Sendable {
    let destination: String
    let temporary: String
    let directory: String
    let descriptor: CInt

    init(next destination: String) throws {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        directory = slash.map { String(destination[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var random = SystemRandomNumberGenerator()
        temporary = directory + "/." + name + ".part-" + String(random.next() as UInt32, radix: 16)
        descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageFailure("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    func write(_ bytes: ByteBuffer, at offset: UInt64) throws {
        var done = 0
        try bytes.withUnsafeReadableBytes { pointer in
            while done < pointer.count {
                let count = pwrite(
                    descriptor,
                    pointer.baseAddress! + done,
                    pointer.count - done,
                    off_t(offset) + off_t(done)
                )
                if count < 0 {
                    if errno == EINTR { continue }
                    throw StorageFailure("cannot write \(temporary): \(String(cString: strerror(errno)))")
                }
                done += count
            }
        }
    }

    /// Makes the bytes durable and checks the whole file as a backup.
    func verify() throws -> BackupSummary {
        guard fsync(descriptor) == 0 else {
            throw StorageFailure("cannot fsync \(temporary): \(String(cString: strerror(errno)))")
        }
        do {
            return try BackupFileReader.verify(path: temporary)
        } catch {
            throw StorageFailure("the fetched copy failed its check, so \(destination) was not written: \(error)")
        }
    }

    /// Gives the file its name: atomically replacing an existing file only when asked to.
    func commit(replacing: Bool) throws {
        if replacing {
            guard rename(temporary, destination) == 0 else {
                throw StorageFailure(
                    "cannot rename \(temporary) to \(destination): \(String(cString: strerror(errno)))"
                )
            }
        } else {
            // link() fails if the destination appeared meanwhile, where rename() would replace it.
            guard link(temporary, destination) == 0 else {
                let reason =
                    errno == EEXIST
                    ? "it already exists; refusing to overwrite it (pass --force to replace it)"
                    : String(cString: strerror(errno))
                throw StorageFailure("cannot write \(destination): \(reason)")
            }
            unlink(temporary)
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    func discard() {
        unlink(temporary)
    }

    deinit { close(descriptor) }
}
