import ArgumentParser
import ReplogModel
import ReplogStorage

/// `replog initialize --path DIR [--path DIR...] [--if-new]`: makes the EMPTY replicas of a
/// brand-new log VOTING members.
///
/// Only a new cluster may be initialized: a replica whose disk was replaced must recover from
/// its peers instead, because an initialized empty store would answer as if it had never
/// promised or accepted anything and could help choose a second value for a position. So with
/// several stores the command changes either all of them or none.
struct Initialize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Mark the stores of a brand-new cluster VOTING (each created if absent, and only when all are EMPTY).",
        discussion: """
            Run it once on every replica's store of a new cluster, never on a replacement disk: an empty \
            replica of a running cluster recovers from its peers by itself. Given several --path, either \
            every store is initialized or none is. With --if-new the command may run on every start (as \
            the compose file does): when any given store already belongs to a cluster, or a running \
            replica holds it, it changes nothing and exits 0; give it every replica's store of the \
            cluster, so that a single wiped store is seen next to its peers and left to recover.
            """
    )

    @Option(help: "A replica's store directory (repeatable: every store of the new cluster on this host).")
    var path: [String]

    @Flag(help: "Succeed without changes when any given store already belongs to a cluster.")
    var ifNew = false

    func validate() throws {
        guard !path.isEmpty else { throw ValidationError("give the replica's store with --path DIR") }
        guard Set(path).count == path.count else { throw ValidationError("a --path is given twice") }
    }

    func run() async throws {
        var stores: [(path: String, store: ReplicaStore)] = []
        func closeAll() async { for entry in stores { await entry.store.close() } }
        for directory in path {
            do {
                stores.append((directory, try ReplicaStore(directory: directory)))
            } catch StorageError.locked(_, let pid) where ifNew {
                // A replica runs on it: the cluster exists (or is starting), so nothing may change.
                await closeAll()
                let holder = pid.map { "process \($0)" } ?? "another process"
                print("\(directory): in use by \(holder) (a running replica); no store was changed")
                return
            } catch {
                await closeAll()
                throw StorageFailure(error)
            }
        }
        let existing = stores.filter { !Self.isFresh($0.store) }
        if !existing.isEmpty {
            await closeAll()
            if ifNew {
                for entry in stores { print(Self.unchanged(entry)) }
                return
            }
            if path.count == 1 {
                throw StorageFailure(
                    "the log is not empty: status \(Self.describe(existing[0].store)); \(path[0]) was left unchanged"
                )
            }
            let reasons = existing.map { "\($0.path) has status \(Self.describe($0.store))" }
            throw StorageFailure(
                "the log is not empty: \(reasons.joined(separator: "; ")); none of the stores was changed"
            )
        }
        for entry in stores {
            do {
                try await entry.store.persist(status: .voting)
            } catch {
                await closeAll()
                throw StorageFailure(error)
            }
            print("initialized \(entry.path): status VOTING, begin 0, end 0")
        }
        await closeAll()
    }

    /// EMPTY and holding nothing: a store no cluster has used yet.
    static func isFresh(_ store: ReplicaStore) -> Bool {
        store.metadata.status == .empty && store.count == 0
    }

    static func describe(_ store: ReplicaStore) -> String {
        "\(store.metadata.status), begin \(store.begin), end \(store.end)"
    }

    static func unchanged(_ entry: (path: String, store: ReplicaStore)) -> String {
        if isFresh(entry.store) {
            return "\(entry.path): EMPTY, left unchanged: the other stores already belong to a cluster, so this "
                + "replica recovers from its peers when it starts"
        }
        return "\(entry.path): already belongs to a cluster (status \(describe(entry.store))), left unchanged"
    }
}
