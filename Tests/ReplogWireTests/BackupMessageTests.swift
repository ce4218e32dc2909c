import NIOCore
import ReplogModel
import ReplogWire
import Testing

/// The backup messages' own rules: digest length, status values, the fetch chunk limit.
@Suite struct BackupMessageTests {
    /// The payload of a `BackupShowResponse` for `Samples.readyBackup`, with its digest and status
    /// replaceable.
    func showPayload(status: UInt8 = 2, digest: [UInt8]? = nil) -> [UInt8] {
        var buffer = ByteBuffer()
        var info = Samples.readyBackup
        if let digest { info.sha256 = digest }
        Message.backupShowResponse(info).encodePayload(into: &buffer)
        var bytes = Array(buffer.readableBytesView)
        // id and label strings come first, then the status byte.
        let statusOffset = 2 + info.id.utf8.count + 2 + info.label.utf8.count
        bytes[statusOffset] = status
        return bytes
    }

    @Test func aDigestIsEmptyOrThirtyTwoBytes() throws {
        let empty = try decodeOne(rawFrame(type: 0x55, payload: showPayload(digest: [])))
        #expect(empty.map { if case .backupShowResponse(let info) = $0 { info.sha256.isEmpty } else { false } } == true)
        do {
            _ = try decodeOne(rawFrame(type: 0x55, payload: showPayload(digest: [1, 2, 3])))
            Issue.record("a 3-byte digest was accepted")
        } catch {
            guard case .invalidField(let type, let field, _, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(type == .backupShowResponse)
            #expect(field == "backup.sha256")
            #expect(reason.contains("a SHA-256 is 32 bytes (or empty), not 3"))
        }
    }

    @Test func unknownStatusesAreMalformed() throws {
        for status: UInt8 in [0, 5, 0xFF] {
            do {
                _ = try decodeOne(rawFrame(type: 0x55, payload: showPayload(status: status)))
                Issue.record("status \(status) was accepted")
            } catch {
                guard case .invalidField(_, "backup.status", _, _) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(error.code == .malformedMessage)
            }
        }
    }

    @Test func fetchChunksAboveSixteenMiBAreRefusedBeforeTheirBytesArrive() throws {
        var payload = ByteBuffer()
        payload.writeMultipleIntegers(UInt64(0), UInt64(1 << 30), WireLimits.maxBackupChunk + 1)
        expectWireError(
            .entryTooLarge(type: .backupFetchResponse, offset: 16, size: WireLimits.maxBackupChunk + 1, limit: 16 << 20)
        ) {
            _ = try decodeOne(rawFrame(type: 0x59, payload: Array(payload.readableBytesView)))
        }
    }

    @Test func listCountsAreCheckedAgainstTheBytesLeft() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1_000_000))
        do {
            _ = try decodeOne(rawFrame(type: 0x53, payload: Array(payload.readableBytesView)))
            Issue.record("a list of a million backups in 4 bytes was accepted")
        } catch {
            guard case .truncatedPayload(.backupListResponse, "backups", _, _, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }

    @Test func onlyTheFiveRequestsGoToTheBackupService() {
        let requests = Samples.backupSamples.map(\.envelope.message).filter(\.isBackupRequest).map(\.type)
        #expect(
            requests == [
                .backupCreateRequest, .backupListRequest, .backupShowRequest, .backupDeleteRequest,
                .backupFetchRequest,
            ]
        )
        #expect(!Message.statusRequest.isBackupRequest)
    }
}
