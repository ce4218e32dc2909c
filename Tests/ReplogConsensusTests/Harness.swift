import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogTestKit
import ReplogWire

/// A replica driven by hand on a real in-memory store: persists are carried out at once, and
/// durability is confirmed only when a test calls ``sync()``.
struct ReplicaHarness {
    var replica: Replica
    var store: MemoryStore
    var sent: [(envelope: Envelope, to: NodeID)] = []
    var timers: [ReplicaTimer: Duration] = [:]
    var statuses: [ReplicaStatus] = []
    var diagnoses: [String] = []

    static let ids = [NodeID(1), NodeID(2), NodeID(3)]

    init(
        status: ReplicaStatus = .voting,
        promised: Proposal = 0,
        actions: [Action] = [],
        autoInitialize: Bool = false,
        configure: (inout ReplicaConfiguration) -> Void = { _ in }
    ) {
        var configuration = ReplicaConfiguration(id: Self.ids[0], replicas: Self.ids, proposerID: 1)
        configuration.autoInitialize = autoInitialize
        configure(&configuration)
        store = MemoryStore(metadata: ReplicaMetadata(status: status, promised: promised))
        if !actions.isEmpty {
            store.persist([.actions(actions)], token: PersistToken(0))
            _ = store.sync()
        }
        replica = Replica(configuration: configuration, seed: 42)
        let directives = replica.start(store: store.visible)
        apply(directives)
    }

    mutating func apply(_ directives: [ReplicaDirective]) {
        for directive in directives {
            switch directive {
            case .persist(let records, let token): store.persist(records, token: token)
            case .send(let envelope, let to): sent.append((envelope, to))
            case .schedule(let timer, let delay): timers[timer] = delay
            case .statusChanged(let status): statuses.append(status)
            case .diagnose(let text): diagnoses.append(text)
            }
        }
    }

    /// Delivers `message` from `peer` (request id 7 unless told otherwise).
    mutating func receive(_ message: Message, from peer: NodeID = NodeID(9), id: UInt64 = 7, response: Bool = false) {
        let envelope = response ? Envelope.response(message, to: id) : Envelope.request(message, id: id)
        apply(replica.receive(Incoming(envelope, from: peer, session: 1), store: store.visible))
    }

    /// The store confirms durability of everything persisted so far.
    mutating func sync() {
        if let token = store.sync() { apply(replica.persisted(token)) }
    }

    /// The delay of the latest timer of this kind (older ones are stale).
    func delay(_ kind: ReplicaTimer.Kind) -> Duration? {
        timers.filter { $0.key.kind == kind }.max { $0.key.generation < $1.key.generation }?.value
    }

    mutating func fire(_ kind: ReplicaTimer.Kind) {
        guard let timer = timers.keys.filter({ $0.kind == kind }).max(by: { $0.generation < $1.generation }) else {
            return
        }
        timers[timer] = nil
        apply(replica.timerFired(timer, store: store.visible))
    }

    /// Takes the messages sent so far.
    mutating func takeSent() -> [(envelope: Envelope, to: NodeID)] {
        defer { sent = [] }
        return sent
    }

    struct NoReply: Error {}

    /// Like ``takeReply()``, but throws when there is not exactly one reply.
    mutating func requireReply() throws -> Message {
        guard let reply = takeReply() else { throw NoReply() }
        return reply
    }

    /// The single message sent since the last call, which must be a response.
    mutating func takeReply() -> Message? {
        let messages = takeSent()
        guard messages.count == 1, messages[0].envelope.isResponse else { return nil }
        return messages[0].envelope.message
    }
}

func append(_ text: String) -> ActionValue { .append(ByteBuffer(string: text)) }

func performed(_ position: Position, _ proposal: Proposal, _ value: ActionValue, learned: Bool = false) -> Action {
    Action(position: position, promised: proposal, performed: proposal, learned: learned, value: value)
}
