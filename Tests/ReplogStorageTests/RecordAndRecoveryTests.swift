import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

@Suite("CRC-32C")
struct CRC32CTests {
    @Test func knownVectors() {
        let digits = Array("123456789".utf8)
        #expect(CRC32C.checksum(digits) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        digits.withUnsafeBytes { #expect(CRC32C.portableChecksum($0) == 0xE306_9283) }
    }

    @Test func hardwareAndPortableAgreeOnEveryLengthAndPiecewise() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for length in 0...raw.count {
                let slice = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                #expect(CRC32C.checksum(slice) == CRC32C.portableChecksum(slice))
            }
            let whole = CRC32C.checksum(raw)
            let split = CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: raw[377...]),
                continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<377]))
            )
            #expect(whole == split)
        }
    }
}

@Suite("Record format")
struct RecordFormatTests {
    static let everyKind: [Action] = [
        Action(position: 1, promised: 3),
        Action(position: 2, promised: 4, performed: 4, learned: false, value: .nop(tombstone: false)),
        Action(position: 3, promised: 5, performed: 5, learned: true, value: .nop(tombstone: true)),
        Action(position: 4, promised: 6, performed: 2, learned: false, value: .append(ByteBuffer(string: "hello"))),
        Action(position: 5, promised: 7, performed: 7, learned: true, value: .append(ByteBuffer())),
        Action(position: 6, promised: 8, performed: 8, learned: true, value: .truncate(to: 3)),
        Action(
            position: .max,
            promised: .max,
            performed: .max,
            learned: true,
            value: .append(ByteBuffer(repeating: 0xAB, count: 1000))
        ),
    ]

    @Test(arguments: everyKind)
    func roundTrip(action: Action) throws {
        let size = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: action))
        #expect(size % 8 == 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        let crc = RecordFormat.encode(action, into: buffer.baseAddress!)
        RecordFormat.seal(
            buffer.baseAddress!,
            bodySize: RecordFormat.bodySize(of: action),
            partialCRC: crc,
            batchStart: 96
        )
        guard
            case .valid(.action(let decoded), let decodedSize, let batchStart) = RecordFormat.probe(
                UnsafeRawBufferPointer(buffer),
                maxBodySize: 1 << 20
            )
        else {
            Issue.record("record did not decode")
            return
        }
        #expect(decoded == action)
        #expect(decodedSize == size)
        #expect(batchStart == 96)
        // Every single flipped bit is detected.
        for byte in 0..<(size - (size - 16 - RecordFormat.bodySize(of: action))) {
            for bit in 0..<8 {
                buffer[byte] ^= 1 << bit
                if case .valid = RecordFormat.probe(UnsafeRawBufferPointer(buffer), maxBodySize: 1 << 20) {
                    Issue.record("flipped bit \(bit) of byte \(byte) not detected")
                }
                buffer[byte] ^= 1 << bit
            }
        }
    }

    @Test func inconsistentActionsAreRefused() throws {
        let bad = Action(position: 1, promised: 1, performed: 2, learned: false, value: .nop(tombstone: false))
        #expect(throws: StorageError.self) { try EncodedBatch.actions([bad], maxRecordSize: 4096) }
        let tooBig = appendAction(1, String(repeating: "x", count: 5000))
        #expect(throws: StorageError.recordTooLarge(bytes: 5048, limit: 4064)) {
            try EncodedBatch.actions([tooBig], maxRecordSize: 4064)
        }
    }
}

@Suite("Store basics and recovery")
struct StoreRecoveryTests {
    @Test func everyRecordTypeSurvivesReopen() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        let kinds = RecordFormatTests.everyKind.filter { $0.position != .max && $0.value != .truncate(to: 3) }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            #expect(store.metadata == StoreMetadata())
            try await store.persist(actions: kinds)
            #expect(try store.read(0...100) == kinds)
            await store.close()
        }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(try store.read(0...100) == kinds)
        #expect(store.begin == 0)
        #expect(store.end == 5)
        #expect(store.unlearnedPositions(in: 0...100) == [1, 2, 4])
        #expect(store.missingPositions(in: 0...100).isEmpty)
        await store.close()
    }

    @Test func laterRecordsSupersedeAndHolesAreFound() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            try await store.persist(actions: [Action(position: 4, promised: 2)])
            try await store.persist(actions: [
                Action(position: 4, promised: 3, performed: 3, value: .append(bytes("four")))
            ])
            try await store.persist(actions: [appendAction(1, "one"), appendAction(7, "seven")])
            await store.close()
        }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(
            try store.action(at: 4) == Action(position: 4, promised: 3, performed: 3, value: .append(bytes("four")))
        )
        #expect(store.missingPositions(in: 0...10) == [2, 3, 5, 6])
        #expect(store.unlearnedPositions(in: 0...10) == [4])
        #expect(store.end == 7)
        // Learning a range marks the stored values learned, and survives reopen.
        try await store.persist(learned: 4, count: 1, proposal: 3)
        #expect(try store.action(at: 4)?.learned == true)
        await #expect(throws: StorageError.self) { try await store.persist(learned: 4, count: 1, proposal: 9) }
        await #expect(throws: StorageError.self) { try await store.persist(learned: 1, count: 3, proposal: 1) }
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(reopened.unlearnedPositions(in: 0...10).isEmpty)
        #expect(try reopened.action(at: 4)?.learned == true)
        await reopened.close()
    }

    @Test func metadataIsDurableAndAtomic() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        let cluster = ClusterID(high: 0x0123_4567_89AB_CDEF, low: 42)
        do {
            let store = try ReplicaStore(directory: temp.store)
            try await store.persist(promise: 17)
            try await store.persist(status: .voting)
            try await store.updateMetadata {
                $0.clusterID = cluster
                $0.replicaID = 3
            }
            await store.close()
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: temp.store)
        #expect(!files.contains("METADATA.tmp"))
        let store = try ReplicaStore(directory: temp.store)
        #expect(store.metadata == StoreMetadata(status: .voting, promised: 17, clusterID: cluster, replicaID: 3))
        await store.close()
    }

    @Test func manySegmentsAndLargeValuesRecover() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        var expected: [Action] = []
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            for round in 0..<20 {
                let actions = (0..<10).map { index -> Action in
                    let position = Position(round * 10 + index + 1)
                    return appendAction(position, String(repeating: "v\(position)", count: Int(position % 50)))
                }
                try await store.persist(actions: actions)
                expected += actions
            }
            #expect(try segmentFiles(temp.store).count > 3)
            await store.close()
        }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(try store.read(1...200) == expected)
        #expect(try store.read(50...59, limit: 3) == Array(expected[49..<52]))
        await store.close()
    }

    @Test func learnedTruncationDeletesWholeSegmentsAndHidesTheRest() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        for position in 1...100 {
            try await store.persist(actions: [appendAction(Position(position), String(repeating: "x", count: 200))])
        }
        let before = try segmentFiles(temp.store)
        #expect(before.count >= 5)
        // An unlearned truncate changes nothing; learning it (by a learned range) moves begin.
        try await store.persist(actions: [
            Action(position: 101, promised: 2, performed: 2, learned: false, value: .truncate(to: 60))
        ])
        #expect(store.begin == 0)
        try await store.persist(learned: 101, count: 1, proposal: 2)
        #expect(store.begin == 60)
        #expect(try store.read(0...59).isEmpty)
        #expect(try store.read(60...60).map(\.position) == [60])
        let after = try segmentFiles(temp.store)
        #expect(after.count < before.count)
        #expect(store.statistics.segmentsDeleted == before.count - after.count)
        #expect(store.missingPositions(in: 0...200).isEmpty)
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(reopened.begin == 60)
        #expect(reopened.end == 101)
        #expect(try reopened.read(0...200).map(\.position) == Array(60...101))
        // Writes below begin stay hidden.
        try await reopened.persist(actions: [appendAction(5, "old")])
        #expect(try reopened.read(0...10).isEmpty)
        await reopened.close()
    }

    @Test func secondOpenerIsToldTheHoldersPID() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store)
        #expect(throws: StorageError.locked(directory: temp.store, pid: getpid())) {
            _ = try ReplicaStore(directory: temp.store)
        }
        #expect(throws: StorageError.self) {
            _ = try ReplicaStore(directory: temp.store, options: StoreOptions(readOnly: true))
        }
        await store.close()
        let again = try ReplicaStore(directory: temp.store, options: StoreOptions(readOnly: true))
        await again.close()
    }

    @Test func concurrentWritersShareFsyncs() async throws {
        let temp = TemporaryDirectory()
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 1 << 20))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<64 {
                group.addTask {
                    for index in 0..<20 {
                        let position = Position(writer * 20 + index + 1)
                        try await store.persist(actions: [appendAction(position, "w\(writer)i\(index)")])
                        // Answered only once durable and visible.
                        #expect(try store.action(at: position) != nil)
                    }
                }
            }
            try await group.waitForAll()
        }
        let statistics = store.statistics
        #expect(statistics.records == 1280)
        #expect(statistics.syncs < 1280)
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 1 << 20))
        #expect(reopened.count == 1280)
        await reopened.close()
    }
}

@Suite("Scale and direct truncation")
struct ScaleTests {
    @Test func indexStaysCompactWithManyPositions() async throws {
        let temp = TemporaryDirectory("scale")
        defer { temp.remove() }
        let total = 200_000
        let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 4 << 20))
        for start in stride(from: 1, through: total, by: 10_000) {
            let actions = (start..<(start + 10_000)).map {
                Action(position: Position($0), promised: 1, performed: 1, learned: true, value: .nop(tombstone: false))
            }
            try await store.persist(actions: actions)
        }
        #expect(store.count == total)
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 4 << 20))
        #expect(reopened.count == total)
        #expect(reopened.end == Position(total))
        // 8 bytes per position plus chunk overhead.
        let memory = reopened.engineIndexMemory
        #expect(memory <= total * 9 + PositionIndex.chunkSize * 8)
        #expect(try reopened.read(Position(total - 2)...Position(total + 5)).count == 3)
        await reopened.close()
    }

    @Test func aLearnedTruncateActionMovesBeginAtOnce() async throws {
        let temp = TemporaryDirectory("truncate")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        try await store.persist(actions: (1...9).map { appendAction(Position($0), "v\($0)") })
        try await store.persist(actions: [.learned(.truncate(to: 5), at: 10, proposal: 1)])
        #expect(store.begin == 5)
        #expect(try store.read(0...100).map(\.position) == Array(5...10))
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(reopened.begin == 5)
        #expect(reopened.missingPositions(in: 0...100).isEmpty)
        await reopened.close()
    }
}

@Suite("Lifecycle")
struct LifecycleTests {
    @Test func aDroppedStoreReleasesItsLockAndAClosedOneRefusesWrites() async throws {
        let temp = TemporaryDirectory("drop")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store)
            try await store.persist(actions: [appendAction(1, "kept")])
        }
        let store = try ReplicaStore(directory: temp.store)
        #expect(try store.action(at: 1)?.value == .append(bytes("kept")))
        await store.close()
        await #expect(throws: StorageError.closed) { try await store.persist(actions: [appendAction(2, "late")]) }
        await #expect(throws: StorageError.closed) { try await store.persist(promise: 3) }
        await store.close()
    }
}

@Suite("Reads during truncation")
struct ConcurrentReadTests {
    @Test func readersNeverSeeErrorsWhileSegmentsAreDeleted() async throws {
        let temp = TemporaryDirectory("readtruncate")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for position in stride(from: Position(1), through: 600, by: 1) {
                    if position % 50 == 0 {
                        try await store.persist(actions: [
                            .learned(.truncate(to: position - 20), at: position, proposal: 1)
                        ])
                    } else {
                        try await store.persist(actions: [appendAction(position, String(repeating: "r", count: 150))])
                    }
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    var reads = 0
                    while store.end < 600 {
                        let begin = store.begin
                        for action in try store.read(0...700) {
                            #expect(action.position >= begin)
                            if case .append(let value) = action.value { #expect(value.readableBytes == 150) }
                        }
                        reads += 1
                        await Task.yield()
                    }
                    #expect(reads > 0)
                }
            }
            try await group.waitForAll()
        }
        #expect(store.begin == 580)
        #expect(store.statistics.segmentsDeleted > 10)
        await store.close()
    }
}

@Suite("Sparse logs and limits")
struct SparseTests {
    @Test func farApartPositionsAndLimitsStayCheap() async throws {
        let temp = TemporaryDirectory("sparse")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        let far: Position = 1 << 40
        try await store.persist(actions: [appendAction(1, "first"), appendAction(far, "far"), appendAction(7, "seven")])
        #expect(store.end == far)
        #expect(store.count == 3)
        #expect(try store.read(0...Position.max, limit: 2).map(\.position) == [1, 7])
        #expect(store.storedPositions(in: 0...Position.max) == [1, 7, far])
        #expect(store.storedPositions(in: 2...Position.max, limit: 1) == [7])
        #expect(store.missingPositions(in: 0...Position.max, limit: 7) == [2, 3, 4, 5, 6, 8, 9])
        #expect(store.unlearnedPositions(in: 0...Position.max).isEmpty)
        #expect(store.engineIndexMemory < 3 * (PositionIndex.chunkSize * 8 + 64))
        await store.close()
    }
}

@Suite("Segment allocation and limits")
struct SegmentAllocationTests {
    @Test(arguments: [StoreOptions.Preallocation.fallocate, .zeroFill])
    func segmentsArePreallocatedAndTooLargeRecordsRefused(preallocation: StoreOptions.Preallocation) async throws {
        let temp = TemporaryDirectory("alloc")
        defer { temp.remove() }
        let options = StoreOptions(segmentSize: 8192, preallocation: preallocation)
        let store = try ReplicaStore(directory: temp.store, options: options)
        try await store.persist(actions: [appendAction(1, "small")])
        await #expect(throws: StorageError.recordTooLarge(bytes: 9048, limit: 8160)) {
            try await store.persist(actions: [appendAction(2, String(repeating: "z", count: 9000))])
        }
        try await store.persist(actions: [appendAction(3, String(repeating: "q", count: 8100))])
        let segments = try segmentFiles(temp.store)
        #expect(segments.count == 2)
        for segment in segments {
            let attributes = try FileManager.default.attributesOfItem(atPath: segment)
            #expect((attributes[.size] as? NSNumber)?.intValue == 8192)
        }
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: options)
        #expect(try reopened.read(0...10).map(\.position) == [1, 3])
        await reopened.close()
    }
}

@Suite("Changing the segment size")
struct SegmentSizeChangeTests {
    @Test func recordsFromLargerSegmentsStayReadableWithSmallerOnes() async throws {
        let temp = TemporaryDirectory("resize")
        defer { temp.remove() }
        let big = String(repeating: "b", count: 6000)
        do {
            let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 65536))
            try await store.persist(actions: [appendAction(1, big)])
            await store.close()
        }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(try store.action(at: 1)?.value == .append(bytes(big)))
        try await store.persist(actions: [appendAction(2, "after")])
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: StoreOptions(readOnly: true))
        #expect(try reopened.read(0...5).map(\.position) == [1, 2])
        await reopened.close()
    }
}
