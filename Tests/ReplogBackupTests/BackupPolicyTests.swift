import Foundation
import ReplogBackup
import ReplogModel
import Testing

@Suite struct BackupLabelTests {
    @Test(arguments: ["abc", "nightly-2026.11_23", String(repeating: "x", count: 25), ".hidden-ok", "A.B"])
    func validLabels(_ text: String) throws {
        #expect(try BackupLabel(text).value == text)
    }

    @Test func eachRuleHasItsOwnReason() {
        func reason(_ text: String) -> String? {
            do {
                _ = try BackupLabel(text)
                return nil
            } catch .invalidLabel(_, let reason) {
                return reason
            } catch {
                return "unexpected \(error)"
            }
        }
        #expect(reason("ab") == "it has 2 characters; a label has 3 to 25")
        #expect(reason(String(repeating: "y", count: 26)) == "it has 26 characters; a label has 3 to 25")
        #expect(reason("has space") == "' ' is not allowed; use only A-Z, a-z, 0-9, '_', '.' and '-'")
        #expect(reason("slash/label") == "'/' is not allowed; use only A-Z, a-z, 0-9, '_', '.' and '-'")
        #expect(reason("..abc") == "a label must not start with '..'")
        #expect(reason("") == "it has 0 characters; a label has 3 to 25")
    }

    @Test func idsAreLabelDashUUIDVersion4() throws {
        var rng = FixedRandom(values: [0xFFFF_FFFF_FFFF_FFFF, 0])
        let id = BackupID.make(label: try BackupLabel("nightly"), using: &rng)
        #expect(id == "nightly-ffffffff-ffff-4fff-8000-000000000000")
        try BackupID.validate(id)
    }

    @Test func scheduledNamesUseTheUTCMinute() {
        #expect(BackupID.scheduled(at: 0) == "replog-backup-1970-01-01-00-00")
        #expect(BackupID.scheduled(at: 1_700_000_000_000) == "replog-backup-2023-11-14-22-13")
        #expect(BackupID.scheduled(at: 1_709_164_800_000) == "replog-backup-2024-02-29-00-00")
        #expect(BackupID.scheduled(at: 1_798_761_599_000) == "replog-backup-2026-12-31-23-59")
        #expect(UTCTime(millisecondsSinceEpoch: 1_798_761_599_000).iso8601 == "2026-12-31T23:59:59Z")
        #expect(BackupID.isScheduled("replog-backup-2024-02-29-00-00"))
        #expect(!BackupID.isScheduled("nightly-ffffffff-ffff-4fff-8000-000000000000"))
    }
}

struct FixedRandom: RandomNumberGenerator {
    var values: [UInt64]
    var index = 0
    init(values: [UInt64]) { self.values = values }
    mutating func next() -> UInt64 {
        defer { index += 1 }
        return values[index % values.count]
    }
}

@Suite struct RestorePolicyTests {
    let now: UInt64 = 1_700_000_000_000 + 3_600_000  // one hour after the fixture was made

    @Test func freshBackupOfThisClusterPasses() throws {
        try RestorePolicy().check(Fixtures.header(), into: Fixtures.cluster, nowMilliseconds: now)
    }

    @Test func foreignClusterNeedsTheFlag() throws {
        let other = ClusterID(high: 9, low: 9)
        #expect(throws: BackupError.foreignCluster(backup: Fixtures.cluster, cluster: other)) {
            try RestorePolicy().check(Fixtures.header(), into: other, nowMilliseconds: now)
        }
        try RestorePolicy(allowForeignCluster: true).check(Fixtures.header(), into: other, nowMilliseconds: now)
    }

    @Test func staleBackupNeedsTheFlagAndSaysHowOld() throws {
        let sevenHoursLater = 1_700_000_000_000 + 7 * 3_600_000 + 60_000
        do {
            try RestorePolicy().check(
                Fixtures.header(),
                into: Fixtures.cluster,
                nowMilliseconds: UInt64(sevenHoursLater)
            )
            Issue.record("a 7-hour-old backup passed")
        } catch {
            let expected = BackupError.stale(ageSeconds: 25_260, limitSeconds: 21_600)
            #expect(error == expected)
            #expect(error.description.contains("7h 1m old"))
            #expect(error.description.contains("--accept-stale"))
        }
        try RestorePolicy(acceptStale: true).check(
            Fixtures.header(),
            into: Fixtures.cluster,
            nowMilliseconds: UInt64(sevenHoursLater)
        )
    }
}

@Suite struct RetentionTests {
    @Test func keepsTheNewestScheduledBackupsAndEveryLabelledOne() throws {
        let ids = [
            "replog-backup-2026-11-23-10-00", "nightly-ffffffff-ffff-4fff-8000-000000000000",
            "replog-backup-2026-11-23-08-00", "replog-backup-2026-11-23-11-00", "replog-backup-2026-11-23-09-00",
            "replog-backup-2026-11-22-23-00",
        ]
        #expect(
            RetentionPolicy(maxSaved: 3).expired(among: ids) == [
                "replog-backup-2026-11-22-23-00", "replog-backup-2026-11-23-08-00",
            ]
        )
        #expect(RetentionPolicy(maxSaved: 48).expired(among: ids).isEmpty)
    }

    @Test func directoryAppliesRetentionAndIgnoresUnfinishedFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let backups = BackupDirectory(path: directory.path)
        for hour in 10...14 {
            try Fixtures.write(in: directory.path, header: Fixtures.header(id: "replog-backup-2026-11-23-\(hour)-00"))
        }
        try Fixtures.write(in: directory.path, header: Fixtures.header(id: "keep-me-forever"))
        // A writer that crashed left its temporary file.
        let unfinished = try BackupFileWriter(directory: directory.path, header: Fixtures.header(id: "crashed"))
        _ = unfinished
        #expect(try backups.ids().count == 6)
        #expect(
            try backups.applyRetention(RetentionPolicy(maxSaved: 3)) == [
                "replog-backup-2026-11-23-10-00", "replog-backup-2026-11-23-11-00",
            ]
        )
        #expect(
            try backups.ids() == [
                "keep-me-forever", "replog-backup-2026-11-23-12-00", "replog-backup-2026-11-23-13-00",
                "replog-backup-2026-11-23-14-00",
            ]
        )
        #expect(try backups.removeLeftovers() == [".tmp-crashed.backup"])
        #expect(throws: BackupError.notFound(path: directory.path + "/missing.backup")) {
            try backups.delete("missing")
        }
    }
}
