import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

/// Runs `replog` with `arguments`; returns exit status, stdout and stderr.
///
/// The wait happens on a thread of its own: blocking a thread of the concurrency pool would
/// starve the other tests' servers, which run on it.
func runReplog(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runReplogBlocking(arguments) }) }.start()
    }
}

func runReplogBlocking(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try replogExecutable())
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}

@Suite("replog initialize and replog read")
struct CommandLineTests {
    @Test func initializeOnlyAnEmptyReplica() async throws {
        let temp = TemporaryDirectory("init")
        defer { temp.remove() }
        let first = try await runReplog(["initialize", "--path", temp.store])
        #expect(first.status == 0)
        #expect(first.out.contains("VOTING"))
        let store = try ReplicaStore(directory: temp.store)
        #expect(store.metadata.status == .voting)
        try await store.persist(actions: [appendAction(1, "a"), appendAction(2, "b")])
        // While the store is open, initialize is refused with the holder's pid.
        let locked = try await runReplog(["initialize", "--path", temp.store])
        #expect(locked.status != 0)
        #expect(locked.err.contains("in use by process \(getpid())"))
        await store.close()
        let again = try await runReplog(["initialize", "--path", temp.store])
        #expect(again.status != 0)
        #expect(again.err.contains("the log is not empty: status VOTING, begin 0, end 2"))
    }

    @Test func readPrintsTextAndJSONAndRefusesWhileHeld() async throws {
        let temp = TemporaryDirectory("read")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store)
        var binary = ByteBuffer()
        binary.writeBytes([0, 1, 0xFF])
        try await store.persist(actions: [
            appendAction(1, "hello world"),
            Action(position: 2, promised: 4, performed: 4, learned: true, value: .append(binary)),
            Action(position: 3, promised: 5),
            Action(position: 4, promised: 5, performed: 5, learned: false, value: .truncate(to: 2)),
            Action(position: 5, promised: 5, performed: 5, learned: true, value: .nop(tombstone: true)),
        ])
        let held = try await runReplog(["read", "--path", temp.store])
        #expect(held.status != 0)
        #expect(held.err.contains("held open by process \(getpid())"))
        await store.close()

        let text = try await runReplog(["read", "--path", temp.store])
        #expect(text.status == 0)
        let lines = text.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0].contains("status EMPTY"))
        #expect(lines[1] == "1 APPEND promised=1 performed=1 learned=true size=11 text=\"hello world\"")
        #expect(lines[2] == "2 APPEND promised=4 performed=4 learned=true size=3 hex=0001ff")
        #expect(lines[3] == "3 PROMISE promised=5 performed=- learned=false size=0")
        #expect(lines[4] == "4 TRUNCATE promised=5 performed=5 learned=false size=0 to=2")
        #expect(lines[5] == "5 NOP(tombstone) promised=5 performed=5 learned=true size=0")

        let json = try await runReplog(["read", "--path", temp.store, "--json", "--from", "2", "--to", "3"])
        #expect(json.status == 0)
        #expect(
            json.out == """
                {"position":2,"type":"APPEND","promised":4,"performed":4,"learned":true,"size":3,"hex":"0001ff"}
                {"position":3,"type":"PROMISE","promised":5,"performed":null,"learned":false,"size":0}

                """
        )
        for line in json.out.split(separator: "\n") {
            #expect(throws: Never.self) { try JSONSerialization.jsonObject(with: Data(line.utf8)) }
        }
        let missing = try await runReplog(["read", "--path", temp.path + "/nothing"])
        #expect(missing.status != 0)
        #expect(missing.err.contains("replog initialize"))
    }

    @Test func readShowsDamageInsteadOfServingIt() async throws {
        let temp = TemporaryDirectory("readdamage")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        for position in 1...3 {
            try await store.persist(actions: [appendAction(Position(position), "value-\(position)")])
        }
        await store.close()
        let segment = try segmentFiles(temp.store)[0]
        var data = try fileBytes(segment)
        let recordSize = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(2, "value-2")))
        data[SegmentFile.headerSize + recordSize + 44] ^= 0x01
        try writeFileBytes(segment, data)
        let result = try await runReplog(["read", "--path", temp.store])
        #expect(result.status == 2)
        #expect(result.err.contains("damaged"))
        #expect(result.err.contains("restore this replica"))
        #expect(result.out.contains("2 DAMAGED"))
        #expect(result.out.contains("3 APPEND"))
    }
}

@Suite("replog read arguments")
struct ReadArgumentTests {
    @Test func anInvertedRangeIsRefused() async throws {
        let temp = TemporaryDirectory("range")
        defer { temp.remove() }
        let result = try await runReplog(["read", "--path", temp.store, "--from", "9", "--to", "3"])
        #expect(result.status != 0)
        #expect(result.err.contains("--from 9 is above --to 3"))
        #expect(!FileManager.default.fileExists(atPath: temp.store))
    }
}
