import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

@Suite("Torn tails and corruption")
struct CorruptionTests {
    /// Writes positions 1...count, one batch each, into a store of small segments; returns the
    /// newest segment's path and the byte range of its last record.
    func makeStore(_ directory: String, count: Int = 5) async throws -> (segment: String, last: Range<Int>) {
        let store = try ReplicaStore(directory: directory, options: smallSegments)
        for position in 1...count {
            try await store.persist(actions: [appendAction(Position(position), "value-\(position)")])
        }
        await store.close()
        let segment = try segmentFiles(directory).last!
        let data = try fileBytes(segment)
        let end = data.withUnsafeBytes { Recovery.lastNonZeroByte($0, from: SegmentFile.headerSize) } + 1
        let alignedEnd = (end + 7) & ~7
        let body = RecordFormat.bodySize(of: appendAction(5, "value-\(count)"))
        let start = alignedEnd - RecordFormat.alignedSize(bodySize: body)
        // The record's meaningful bytes (the zero padding after it carries nothing).
        return (segment, start..<(start + RecordFormat.headerSize + body + RecordFormat.trailerSize))
    }

    func copy(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    @Test func tornTailAtEveryByteOfTheLastRecordIsCut() async throws {
        let temp = TemporaryDirectory("torn")
        defer { temp.remove() }
        let (segment, last) = try await makeStore(temp.store)
        let pristine = try fileBytes(segment)
        let work = temp.path + "/work"
        let workSegment = work + "/" + (segment as NSString).lastPathComponent
        var generator = SystemRandomNumberGenerator()
        for cut in last {
            for variant in ["zeros", "garbage", "truncated"] {
                try copy(temp.store, to: work)
                var damaged = pristine
                switch variant {
                case "zeros":
                    for index in cut..<last.upperBound { damaged[index] = 0 }
                case "garbage":
                    for index in cut..<last.upperBound { damaged[index] = UInt8.random(in: 0...255, using: &generator) }
                default:
                    damaged = Array(pristine[..<cut])
                    #expect(damaged.count < pristine.count)
                }
                try writeFileBytes(workSegment, damaged)
                let store = try ReplicaStore(directory: work, options: smallSegments)
                let positions = try store.read(0...10).map(\.position)
                #expect(positions == [1, 2, 3, 4], "cut at \(cut) (\(variant))")
                #expect(store.corruption.isEmpty)
                // The store keeps working after the cut and the new record survives a reopen.
                try await store.persist(actions: [appendAction(5, "again")])
                await store.close()
                let reopened = try ReplicaStore(directory: work, options: smallSegments)
                #expect(try reopened.read(0...10).map(\.position) == [1, 2, 3, 4, 5], "reopen after cut at \(cut)")
                #expect(try reopened.action(at: 5)?.value == .append(bytes("again")))
                await reopened.close()
            }
        }
    }

    @Test func flippedBitMidSegmentIsReportedNeverServed() async throws {
        let temp = TemporaryDirectory("flip")
        defer { temp.remove() }
        let (segment, _) = try await makeStore(temp.store)
        var data = try fileBytes(segment)
        // Position 3's record: the third record after the header; flip a bit inside its value.
        let recordSize = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(3, "value-3")))
        let third = SegmentFile.headerSize + 2 * recordSize
        data[third + RecordFormat.headerSize + RecordFormat.actionFixedSize + 2] ^= 0x10
        try writeFileBytes(segment, data)

        #expect {
            _ = try ReplicaStore(directory: temp.store, options: smallSegments)
        } throws: { error in
            guard case .corruption(let reports) = error as? StorageError else { return false }
            return reports.count == 1 && reports[0].offset == third && reports[0].suspectedPosition == 3
        }
        // The files were not changed by the refused open.
        #expect(try fileBytes(segment) == data)

        var options = smallSegments
        options.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: temp.store, options: options)
        #expect(store.corruption.map(\.suspectedPosition) == [3])
        #expect(throws: StorageError.corruptPosition(3)) { try store.read(1...5) }
        #expect(try store.read(4...5).map(\.position) == [4, 5])
        #expect(try store.read(1...2).map(\.position) == [1, 2])
        // A fresh value for the damaged position (e.g. from a peer) heals it.
        try await store.persist(actions: [appendAction(3, "recovered")])
        #expect(try store.action(at: 3)?.value == .append(bytes("recovered")))
        await store.close()
    }

    @Test func aLearnedMarkNeverCoversADamagedPositionButAFreshValueInTheSameCallDoes() async throws {
        let temp = TemporaryDirectory("learneddamage")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            for position in 1...4 {
                try await store.persist(actions: [appendAction(Position(position), "value-\(position)", learned: false)]
                )
            }
            await store.close()
        }
        let segment = try segmentFiles(temp.store).last!
        var data = try fileBytes(segment)
        let recordSize = RecordFormat.alignedSize(
            bodySize: RecordFormat.bodySize(of: appendAction(3, "value-3", learned: false))
        )
        let third = SegmentFile.headerSize + 2 * recordSize
        data[third + RecordFormat.headerSize + RecordFormat.actionFixedSize + 2] ^= 0x10
        try writeFileBytes(segment, data)
        var options = smallSegments
        options.corruptionPolicy = .quarantine
        do {
            let store = try ReplicaStore(directory: temp.store, options: options)
            #expect(store.damagedPositions == [3])
            // The value of 3 is lost: marking it learned would serve nothing, so the whole call is refused.
            await #expect(throws: StorageError.corruptPosition(3)) {
                try await store.persist([.learned(first: 2, count: 3, proposal: 1)])
            }
            #expect(store.unlearnedPositions(in: 1...4) == [1, 2, 3, 4])
            #expect(store.isDamaged(3))
            // The chosen value and the mark in one call heal it.
            try await store.persist([
                .actions([appendAction(3, "chosen-3", learned: false)]),
                .learned(first: 2, count: 3, proposal: 1),
            ])
            #expect(store.damagedPositions.isEmpty)
            #expect(store.unlearnedPositions(in: 1...4) == [1])
            await store.close()
        }
        let reopened = try ReplicaStore(directory: temp.store, options: options)
        #expect(reopened.corruption.map(\.suspectedPosition) == [3])
        #expect(reopened.damagedPositions.isEmpty)
        #expect(try reopened.action(at: 3)?.value == .append(bytes("chosen-3")))
        #expect(reopened.unlearnedPositions(in: 1...4) == [1])
        await reopened.close()
    }

    @Test func damagedLengthFieldIsResynchronised() async throws {
        let temp = TemporaryDirectory("length")
        defer { temp.remove() }
        let (segment, _) = try await makeStore(temp.store)
        var data = try fileBytes(segment)
        let recordSize = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(2, "value-2")))
        let second = SegmentFile.headerSize + recordSize
        data[second + 3] = 0x7F  // a length of about 2 GB
        try writeFileBytes(segment, data)
        var options = smallSegments
        options.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: temp.store, options: options)
        #expect(store.corruption.count == 1)
        #expect(store.corruption.first?.offset == second)
        #expect(store.corruption.first?.length == recordSize)
        #expect(try store.read(3...5).map(\.position) == [3, 4, 5])
        #expect(try store.read(1...1).map(\.position) == [1])
        await store.close()
    }

    @Test func damageInAnOlderSegmentIsCorruptionEvenAtItsEnd() async throws {
        let temp = TemporaryDirectory("older")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        for position in 1...60 {
            try await store.persist(actions: [appendAction(Position(position), String(repeating: "y", count: 100))])
        }
        await store.close()
        let segments = try segmentFiles(temp.store)
        #expect(segments.count >= 2)
        var data = try fileBytes(segments[0])
        let end = data.withUnsafeBytes { Recovery.lastNonZeroByte($0, from: SegmentFile.headerSize) }
        data[end - 20] ^= 0x01  // inside the last record of the oldest segment
        try writeFileBytes(segments[0], data)
        #expect(throws: StorageError.self) { _ = try ReplicaStore(directory: temp.store, options: smallSegments) }
    }

    @Test func garbageMetadataIsRefusedAndDataUntouched() async throws {
        let temp = TemporaryDirectory("meta")
        defer { temp.remove() }
        let (segment, _) = try await makeStore(temp.store)
        let before = try fileBytes(segment)
        let metadata = temp.store + "/METADATA"
        for garbage in [
            [UInt8](repeating: 0x5A, count: 64), [],
            Array("RPLGMETA".utf8) + [1, 0, 0, 0] + [UInt8](repeating: 9, count: 52),
        ] {
            try writeFileBytes(metadata, garbage)
            #expect {
                _ = try ReplicaStore(directory: temp.store, options: smallSegments)
            } throws: { error in
                guard case .corruptMetadata = error as? StorageError else { return false }
                return "\(error)".contains("restore")
            }
        }
        try FileManager.default.removeItem(atPath: metadata)
        #expect(throws: StorageError.missingMetadata(directory: temp.store)) {
            _ = try ReplicaStore(directory: temp.store, options: smallSegments)
        }
        #expect(try fileBytes(segment) == before)
    }

    @Test func otherFormatVersionIsRefused() async throws {
        let temp = TemporaryDirectory("version")
        defer { temp.remove() }
        let (segment, _) = try await makeStore(temp.store)
        let metadataPath = temp.store + "/METADATA"
        let good = try fileBytes(metadataPath)
        var metadata = good
        metadata[8] = 2
        try writeFileBytes(metadataPath, metadata)
        #expect(throws: StorageError.unsupportedFormatVersion(path: metadataPath, found: 2, supported: 1)) {
            _ = try ReplicaStore(directory: temp.store, options: smallSegments)
        }
        try writeFileBytes(metadataPath, good)
        var data = try fileBytes(segment)
        data[8] = 7
        try writeFileBytes(segment, data)
        #expect(throws: StorageError.unsupportedFormatVersion(path: segment, found: 7, supported: 1)) {
            _ = try ReplicaStore(directory: temp.store, options: smallSegments)
        }
    }

    @Test func readOnlyOpenOfNothingSaysHowToCreate() throws {
        let temp = TemporaryDirectory("none")
        defer { temp.remove() }
        #expect(throws: StorageError.noStore(path: temp.store)) {
            _ = try ReplicaStore(directory: temp.store, options: StoreOptions(readOnly: true))
        }
        #expect(!FileManager.default.fileExists(atPath: temp.store))
    }
}

@Suite("Torn batches")
struct TornBatchTests {
    @Test func aTornMultiRecordBatchIsCutEvenWhenItsLaterRecordsReachedTheDisk() async throws {
        let temp = TemporaryDirectory("batch")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            try await store.persist(actions: [appendAction(1, "one")])
            try await store.persist(actions: (2...6).map { appendAction(Position($0), "batch-\($0)") })
            await store.close()
        }
        let segment = try segmentFiles(temp.store)[0]
        // Zero the first page-like chunk of the second batch only (its first record).
        let first = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(1, "one")))
        let second = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(2, "batch-2")))
        try zeroBytes(segment, (SegmentFile.headerSize + first)..<(SegmentFile.headerSize + first + second))
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(store.corruption.isEmpty)
        #expect(try store.read(0...10).map(\.position) == [1])
        await store.close()
    }

    @Test func damageFollowedByALaterBatchIsCorruptionNotATornTail() async throws {
        let temp = TemporaryDirectory("later")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            try await store.persist(actions: (1...3).map { appendAction(Position($0), "batch-\($0)") })
            try await store.persist(actions: [appendAction(4, "four")])
            await store.close()
        }
        let segment = try segmentFiles(temp.store)[0]
        let size = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(1, "batch-1")))
        try zeroBytes(segment, (SegmentFile.headerSize + size)..<(SegmentFile.headerSize + 2 * size))
        #expect(throws: StorageError.self) { _ = try ReplicaStore(directory: temp.store, options: smallSegments) }
        var options = smallSegments
        options.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: temp.store, options: options)
        #expect(store.corruption.count == 1)
        #expect(try store.read(3...4).map(\.position) == [3, 4])
        await store.close()
    }
}

@Suite("Damaged position fields")
struct DamagedPositionTests {
    @Test func aGarbagePositionInADamagedRecordDoesNotMoveEnd() async throws {
        let temp = TemporaryDirectory("garbageposition")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            for position in 1...4 {
                try await store.persist(actions: [appendAction(Position(position), "value-\(position)")])
            }
            await store.close()
        }
        let segment = try segmentFiles(temp.store)[0]
        var data = try fileBytes(segment)
        let size = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(2, "value-2")))
        data[SegmentFile.headerSize + size + RecordFormat.headerSize + 7] = 0x40  // position 2 -> 2 + 2^62
        try writeFileBytes(segment, data)
        var options = smallSegments
        options.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: temp.store, options: options)
        #expect(store.end == 4)
        #expect(store.corruption.first?.suspectedPosition == 2 + (1 << 62))
        #expect(try store.read(0...10).map(\.position) == [1, 3, 4])
        #expect(store.missingPositions(in: 0...10) == [2])
        await store.close()
    }
}
