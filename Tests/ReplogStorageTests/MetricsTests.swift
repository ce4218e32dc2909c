import Foundation
import MetricsTestKit
import ReplogModel
import Testing

@testable import ReplogStorage

@Suite("Storage metrics")
struct StorageMetricsTests {
    @Test func writesTornTailsAndDamageAreCounted() async throws {
        let temp = TemporaryDirectory("metrics")
        defer { temp.remove() }
        let metrics = TestMetrics()
        var options = smallSegments
        options.metricsFactory = metrics
        let store = try ReplicaStore(directory: temp.store, options: options)
        try await store.persist(actions: [appendAction(1, "one"), appendAction(2, "two")])
        try await store.persist(actions: [appendAction(3, "three")])
        #expect(try metrics.expectCounter("replog_storage_records").totalValue == 3)
        #expect(try metrics.expectCounter("replog_storage_syncs").totalValue == 2)
        #expect(try metrics.expectTimer("replog_storage_sync_duration").values.count == 2)
        #expect(try metrics.expectCounter("replog_storage_segments_created").totalValue == 1)
        await store.close()

        // Garbage after the last record: a torn tail, cut and counted.
        let segment = try segmentFiles(temp.store)[0]
        var data = try fileBytes(segment)
        let end = data.withUnsafeBytes { Recovery.lastNonZeroByte($0, from: SegmentFile.headerSize) } + 1
        data[(end + 7) & ~7 + 4] = 0x33
        try writeFileBytes(segment, data)
        let torn = TestMetrics()
        options.metricsFactory = torn
        let reopened = try ReplicaStore(directory: temp.store, options: options)
        #expect(try torn.expectCounter("replog_storage_torn_tails").totalValue == 1)
        #expect(try torn.expectGauge("replog_storage_damaged_regions").lastValue == 0)
        #expect(reopened.count == 3)
        await reopened.close()

        // A damaged middle record: reported by the gauge.
        data = try fileBytes(segment)
        data[SegmentFile.headerSize + 20] ^= 0x04
        try writeFileBytes(segment, data)
        let damaged = TestMetrics()
        options.metricsFactory = damaged
        options.corruptionPolicy = .quarantine
        let quarantined = try ReplicaStore(directory: temp.store, options: options)
        #expect(try damaged.expectGauge("replog_storage_damaged_regions").lastValue == 1)
        await quarantined.close()
    }
}
