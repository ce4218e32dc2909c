import Foundation
import NIOCore
import ReplogBackup
import ReplogModel
import Testing

@Suite struct SHA256Tests {
    @Test func matchesKnownVectors() {
        #expect(
            SHA256Hasher.hash([]).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        #expect(
            SHA256Hasher.hash(Array("abc".utf8)).hexString
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        let hasher = SHA256Hasher()
        for chunk in ["a", "b", "c"] { hasher.update(Array(chunk.utf8)) }
        #expect(hasher.finish() == SHA256Hasher.hash(Array("abc".utf8)))
    }
}

@Suite struct BackupFileTests {
    @Test func writtenBackupReadsBackExactly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let big = ByteBuffer(repeating: 0xA5, count: 3 << 20)
        let entries = Fixtures.entries + [BackupEntry(position: 100, bytes: big)]
        let (path, written) = try Fixtures.write(in: directory.path, entries: entries)
        #expect(path == directory.path + "/nightly-check.backup")
        #expect(try directory.names() == ["nightly-check.backup"], "the temporary file must be gone")

        let (read, summary) = try Fixtures.readAll(path)
        #expect(read == entries)
        #expect(summary == written)
        #expect(summary.header == Fixtures.header())
        #expect(summary.entryCount == 5)
        let expectedBytes: UInt64 = 5 + 4 + 4 + 3 * 1_048_576
        #expect(summary.entryBytes == expectedBytes)
        #expect(summary.entryRange == 1...100)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.size] as? NSNumber)?.uint64Value == summary.fileSize)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try BackupFileReader.verify(path: path) == summary)
    }

    @Test func emptyBackupIsValid() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path, entries: [])
        let (entries, summary) = try Fixtures.readAll(path)
        #expect(entries.isEmpty)
        #expect(summary.entryCount == 0)
        #expect(summary.entryRange == nil)
    }

    @Test func everyTruncationIsDetected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let cutPath = directory.path + "/cut.backup"
        for length in 0..<bytes.count {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: cutPath))
            do {
                _ = try BackupFileReader.verify(path: cutPath)
                Issue.record("a backup cut to \(length) of \(bytes.count) bytes verified")
            } catch .truncated {
            } catch .notABackup {
                #expect(length < 8)
            } catch {
                Issue.record("cut to \(length) bytes gave \(error) instead of a truncation error")
            }
        }
    }

    @Test func everyFlippedBitIsDetected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let damagedPath = directory.path + "/damaged.backup"
        var kinds: Set<String> = []
        for index in 0..<original.count {
            var damaged = original
            damaged[index] ^= 0x10
            try damaged.write(to: URL(fileURLWithPath: damagedPath))
            do {
                _ = try BackupFileReader.verify(path: damagedPath)
                Issue.record("a backup with byte \(index) damaged verified")
            } catch {
                kinds.insert(String(describing: error).components(separatedBy: " ").prefix(3).joined(separator: " "))
                #expect(!error.description.isEmpty)
            }
        }
        #expect(kinds.count > 1)
    }

    @Test func checksumMismatchIsReportedWithBothDigests() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, summary) = try Fixtures.write(in: directory.path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Damage the entry bytes "first" only: structure stays valid, the digest does not.
        let offset = bytes.range(of: Data("first".utf8))!.lowerBound
        bytes[offset] = UInt8(ascii: "F")
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: BackupError.self) { try BackupFileReader.verify(path: path) }
        do {
            _ = try BackupFileReader.verify(path: path)
        } catch .checksumMismatch(_, let recorded, let computed) {
            #expect(recorded == summary.sha256.hexString)
            #expect(computed != recorded)
        } catch {
            Issue.record("expected a checksum mismatch, got \(error)")
        }
    }

    @Test func bytesAfterTheTrailerAreCorruption() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        do {
            _ = try BackupFileReader.verify(path: path)
            Issue.record("trailing bytes were accepted")
        } catch .corrupt(_, _, let reason) {
            #expect(reason == "there are bytes after the trailer")
        }
    }

    @Test func otherFilesAreNotBackups() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/notes.backup"
        try Data("just some text, not a backup".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: BackupError.notABackup(path: path)) { try BackupFileReader.verify(path: path) }
        #expect(throws: BackupError.notFound(path: directory.path + "/missing")) {
            try BackupFileReader.verify(path: directory.path + "/missing")
        }
    }

    @Test func newerFormatVersionIsRefusedByName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[9] = 2
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: BackupError.unsupportedFormat(path: path, version: 2)) {
            try BackupFileReader.verify(path: path)
        }
    }

    @Test func writerRefusesEntriesOutOfOrderOrRange() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try BackupFileWriter(directory: directory.path, header: Fixtures.header(first: 10, last: 20))
        try writer.append(position: 12, bytes: ByteBuffer(string: "x"))
        #expect(throws: BackupError.self) { try writer.append(position: 12, bytes: ByteBuffer(string: "again")) }
        #expect(throws: BackupError.self) { try writer.append(position: 11, bytes: ByteBuffer(string: "back")) }
        #expect(throws: BackupError.self) { try writer.append(position: 21, bytes: ByteBuffer(string: "after")) }
        #expect(throws: BackupError.self) { try writer.append(position: 9, bytes: ByteBuffer(string: "before")) }
        writer.abandon()
        #expect(try directory.names().isEmpty, "an abandoned backup leaves nothing behind")
    }

    @Test func writerNeverOverwritesABackup() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        #expect(throws: BackupError.alreadyExists(path: path)) {
            _ = try BackupFileWriter(directory: directory.path, header: Fixtures.header())
        }
        #expect(throws: BackupError.invalidID("../escape")) {
            _ = try BackupFileWriter(directory: directory.path, header: Fixtures.header(id: "../escape"))
        }
    }
}
