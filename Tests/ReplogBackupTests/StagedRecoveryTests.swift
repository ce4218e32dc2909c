import Foundation
import NIOCore
import ReplogBackup
import ReplogModel
import Testing

/// The staged copy (print, grep, delete), its files under `staging/`, uploads, and the diff.
@Suite struct StagedRecoveryTests {
    static let texts: [(Position, String)] = [
        (3, "job-1 created"), (4, "job-2 created"), (6, "job-1 done"), (9, "job-3 created"), (10, "job-2 done"),
    ]

    static func staged() throws -> StagedBackup {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(
            in: directory.path,
            header: Fixtures.header(first: 3, last: 12),
            entries: texts.map { BackupEntry(position: $0.0, bytes: ByteBuffer(string: $0.1)) }
        )
        return try StagedBackup.load(.file(path))
    }

    static func texts(_ entries: [BackupEntry]) -> [String] { entries.map { String(buffer: $0.bytes) } }

    @Test func pagesFollowPositionsAndLimitsAndGrepMatchesBytes() throws {
        let staged = try Self.staged()
        let all = staged.page(from: 0, to: .max, grep: [], maxEntries: 100, maxBytes: 1 << 20)
        #expect(all.entries.map(\.position) == [3, 4, 6, 9, 10])
        #expect(!all.more)

        let first = staged.page(from: 4, to: 9, grep: [], maxEntries: 2, maxBytes: 1 << 20)
        #expect(first.entries.map(\.position) == [4, 6])
        #expect(first.more && first.next == 7)
        let second = staged.page(from: first.next, to: 9, grep: [], maxEntries: 2, maxBytes: 1 << 20)
        #expect(second.entries.map(\.position) == [9])
        #expect(!second.more && second.next == 10)

        // About maxBytes, but always at least one entry.
        #expect(staged.page(from: 0, to: .max, grep: [], maxEntries: 100, maxBytes: 1).entries.count == 1)
        let done = staged.page(from: 0, to: .max, grep: Array("done".utf8), maxEntries: 100, maxBytes: 1 << 20)
        #expect(Self.texts(done.entries) == ["job-1 done", "job-2 done"])
        #expect(staged.page(from: 0, to: .max, grep: Array("Done".utf8), maxEntries: 9, maxBytes: 99).entries.isEmpty)
    }

    @Test func deletingPositionsIsAllOrNothingAndRepeatable() throws {
        var staged = try Self.staged()
        #expect(throws: StageEditError.self) { try staged.delete(positions: [4, 5]) }
        #expect(staged.entries.count == 5, "a refused delete must change nothing")
        do {
            _ = try staged.delete(positions: [5, 7])
        } catch {
            #expect("\(error)".contains("no entry at position 5, 7 (it holds entries in 3...10); nothing was deleted"))
        }
        #expect(Self.texts(try staged.delete(positions: [10, 4, 4])) == ["job-2 created", "job-2 done"])
        #expect(try staged.delete(positions: [4]).isEmpty, "deleting again is harmless")
        #expect(staged.deleted == [4, 10])
        #expect(staged.entryBytes == UInt64("job-1 created".utf8.count + "job-1 done".utf8.count + 13))

        #expect(Self.texts(staged.delete(matching: Array("job-1".utf8))) == ["job-1 created", "job-1 done"])
        #expect(Self.texts(staged.entries) == ["job-3 created"])
        #expect(staged.deleted == [3, 4, 6, 10])
    }

    @Test func theStagingDirectoryKeepsTheRecordAndTheBackupAcrossReopening() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, summary) = try Fixtures.write(in: directory.path)
        let staging = try StagingDirectory(backupDirectory: directory.path)
        #expect(try staging.readRecord() == nil)
        try staging.adopt(path)
        let record = StageRecord(backupID: "nightly-check", token: 9, readCap: 77, deleted: [2, 5])
        try staging.writeRecord(record)

        let reopened = try StagingDirectory(backupDirectory: directory.path)
        try reopened.removeLeftovers()
        #expect(try reopened.readRecord() == record)
        #expect(try BackupFileReader.verify(path: reopened.stagedBackupPath) == summary)
        // The original backup is untouched (the staged file is a link or a copy of it).
        #expect(try BackupFileReader.verify(path: path) == summary)

        try reopened.writeCommit(CommitRecord(backupID: "nightly-check", restartFrom: 80, last: 83))
        try reopened.removeStage()
        #expect(try reopened.readRecord() == nil)
        #expect(!FileManager.default.fileExists(atPath: reopened.stagedBackupPath))
        #expect(try reopened.readCommit() == CommitRecord(backupID: "nightly-check", restartFrom: 80, last: 83))

        // A staged file without its record (a crash between the two) is a leftover.
        try reopened.adopt(path)
        try StagingDirectory(backupDirectory: directory.path).removeLeftovers()
        #expect(!FileManager.default.fileExists(atPath: reopened.stagedBackupPath))
    }

    @Test func aDamagedRecordIsAnErrorNotAnEmptyStage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let staging = try StagingDirectory(backupDirectory: directory.path)
        try "replog-stage 1\nbackup x\ntoken 1\ndeleted seven\n".write(
            toFile: staging.path + "/stage",
            atomically: true,
            encoding: .utf8
        )
        #expect(throws: BackupError.self) { try staging.readRecord() }
    }

    @Test func uploadsTakeChunksInOrderAcceptRetriesAndLoadFromFileOrMemory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, summary) = try Fixtures.write(in: directory.path)
        let bytes = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: path)))
        let staging = try StagingDirectory(backupDirectory: directory.path)
        for target in [staging.uploadPath(5), nil] {
            let upload = try BackupUpload(id: 5, path: target)
            let half = bytes.readableBytes / 2
            try upload.add(bytes.getSlice(at: 0, length: half)!, at: 0, last: false)
            try upload.add(bytes.getSlice(at: 0, length: half)!, at: 0, last: false)  // a retry
            #expect(throws: UploadError.outOfOrder(expected: UInt64(half), got: UInt64(half + 1))) {
                try upload.add(ByteBuffer(string: "x"), at: UInt64(half + 1), last: true)
            }
            try upload.add(bytes.getSlice(at: half, length: bytes.readableBytes - half)!, at: UInt64(half), last: true)
            #expect(upload.complete && upload.received == UInt64(bytes.readableBytes))
            let staged = try StagedBackup.load(upload.source)
            #expect(staged.summary == summary)
            #expect(staged.entries == Fixtures.entries)
            upload.discard()
        }
        #expect(!FileManager.default.fileExists(atPath: staging.uploadPath(5)))

        // A damaged upload is refused when staged, naming the reason.
        var damaged = bytes
        damaged.setInteger(damaged.getInteger(at: 60, as: UInt8.self)! ^ 1, at: 60)
        let upload = try BackupUpload(id: 6, path: nil)
        try upload.add(damaged, at: 0, last: true)
        let error = #expect(throws: BackupError.self) { try StagedBackup.load(upload.source) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("the uploaded backup"))
    }

    @Test func theDiffComparesContentsAsMultisetsAndListsWhatEachSideLacks() {
        var diff = RecoveryDiff()
        // The live log: the staged entries moved to new positions by an earlier restore, minus
        // "b", plus a newer "d", and one more copy of "a".
        for (position, text) in [(20, "a"), (21, "c"), (22, "a"), (23, "d"), (24, "a")] as [(Position, String)] {
            diff.addLive(position: position, bytes: ByteBuffer(string: text))
        }
        for (position, text) in [(1, "a"), (2, "b"), (3, "a"), (4, "c")] as [(Position, String)] {
            diff.addStaged(position: position, bytes: ByteBuffer(string: text))
        }
        let result = diff.result()
        #expect(result.liveCount == 5 && result.stagedCount == 4)
        #expect(result.common == 3)
        #expect(result.onlyLive.map(\.position) == [23, 24], "the third 'a' and 'd'")
        #expect(result.onlyStaged.map(\.position) == [2])
        #expect(result.onlyStaged.first?.head == ByteBuffer(string: "b"))
        #expect(result.sharedPrefix == 1)

        var prefix = RecoveryDiff()
        for (index, text) in ["x", "y", "z"].enumerated() {
            prefix.addStaged(position: Position(index + 1), bytes: ByteBuffer(string: text))
            prefix.addLive(position: Position(index + 1), bytes: ByteBuffer(string: text))
        }
        prefix.addLive(position: 4, bytes: ByteBuffer(repeating: 7, count: 500))
        let newer = prefix.result()
        #expect(newer.sharedPrefix == 3 && newer.onlyStaged.isEmpty)
        #expect(newer.onlyLive.map(\.size) == [500])
        #expect(newer.onlyLive.first?.head.readableBytes == RecoveryDiff.headLimit)
    }
}
