import Foundation
import ReplogModel
import Testing

@testable import ReplogStorage

/// `replog initialize` with several stores and `--if-new`, as the compose file runs it on every
/// start: a new cluster is initialized whole, an existing one is left alone, and a wiped store
/// beside existing ones stays EMPTY so that it recovers from its peers.
@Suite("replog initialize --if-new")
struct InitializeCommandTests {
    func status(_ path: String) async throws -> (ReplicaStatus, Position) {
        let store = try ReplicaStore(directory: path, options: StoreOptions(readOnly: true))
        let result = (store.metadata.status, store.end)
        await store.close()
        return result
    }

    @Test func aNewClusterIsInitializedWholeAndARunAgainChangesNothing() async throws {
        let temp = TemporaryDirectory("init-new")
        defer { temp.remove() }
        let paths = (1...3).map { "\(temp.path)/replica-\($0)" }
        let arguments = ["initialize", "--if-new"] + paths.flatMap { ["--path", $0] }
        let first = try await runReplog(arguments)
        #expect(first.status == 0, "\(first.err)")
        for path in paths {
            #expect(first.out.contains("initialized \(path): status VOTING"))
            #expect(try await status(path).0 == .voting)
        }
        let again = try await runReplog(arguments)
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("\(paths[0]): already belongs to a cluster (status VOTING, begin 0, end 0)"))
        // Without --if-new a second run is refused, naming the stores.
        let strict = try await runReplog(Array(arguments.filter { $0 != "--if-new" }))
        #expect(strict.status != 0)
        #expect(strict.err.contains("the log is not empty: \(paths[0]) has status VOTING"))
        #expect(strict.err.contains("none of the stores was changed"))
    }

    @Test func aWipedStoreBesideAnExistingClusterIsLeftToRecover() async throws {
        let temp = TemporaryDirectory("init-wiped")
        defer { temp.remove() }
        let (used, wiped) = (temp.path + "/replica-1", temp.path + "/replica-2")
        let store = try ReplicaStore(directory: used)
        try await store.persist(status: .voting)
        try await store.persist(actions: [appendAction(1, "kept")])
        await store.close()

        let strict = try await runReplog(["initialize", "--path", wiped, "--path", used])
        #expect(strict.status != 0)
        #expect(strict.err.contains("\(used) has status VOTING, begin 0, end 1; none of the stores was changed"))
        #expect(try await status(wiped).0 == .empty)

        let ifNew = try await runReplog(["initialize", "--if-new", "--path", wiped, "--path", used])
        #expect(ifNew.status == 0, "\(ifNew.err)")
        #expect(ifNew.out.contains("\(wiped): EMPTY, left unchanged"))
        #expect(ifNew.out.contains("recovers from its peers"))
        #expect(try await status(wiped).0 == .empty)
        #expect(try await status(used) == (.voting, 1))
    }

    @Test func aStoreHeldByARunningReplicaChangesNothing() async throws {
        let temp = TemporaryDirectory("init-held")
        defer { temp.remove() }
        let (held, fresh) = (temp.path + "/replica-1", temp.path + "/replica-2")
        let store = try ReplicaStore(directory: held)
        let ifNew = try await runReplog(["initialize", "--if-new", "--path", fresh, "--path", held])
        let strict = try await runReplog(["initialize", "--path", fresh, "--path", held])
        await store.close()
        #expect(ifNew.status == 0, "\(ifNew.err)")
        #expect(ifNew.out.contains("\(held): in use by process \(getpid()) (a running replica); no store was changed"))
        #expect(strict.status != 0)
        #expect(strict.err.contains("in use by process \(getpid())"))
        #expect(try await status(fresh).0 == .empty)
        #expect(try await status(held).0 == .empty)
    }

    @Test func aRepeatedPathIsRefused() async throws {
        let result = try await runReplog(["initialize", "--path", "/tmp/x", "--path", "/tmp/x"])
        #expect(result.status != 0)
        #expect(result.err.contains("a --path is given twice"))
    }
}
