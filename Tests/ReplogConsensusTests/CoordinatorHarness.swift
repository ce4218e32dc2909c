import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogWire

/// A coordinator driven by hand: the test plays the replicas.
struct CoordinatorHarness {
    var coordinator: Coordinator
    var sent: [(envelope: Envelope, to: NodeID)] = []
    var timers: [CoordinatorTimer: Duration] = [:]
    var completions: [(OperationID, Result<OperationResult, ErrorReply>)] = []
    var leadership: [Bool] = []
    var assignments: [(assignments: [Assignment], proposal: Proposal)] = []

    static let replicas = [NodeID(1), NodeID(2), NodeID(3)]

    init(configure: (inout CoordinatorConfiguration) -> Void = { _ in }) {
        var configuration = CoordinatorConfiguration(id: NodeID(100), replicas: Self.replicas, proposerID: 7)
        configure(&configuration)
        coordinator = Coordinator(configuration: configuration, seed: 3)
    }

    mutating func apply(_ directives: [CoordinatorDirective]) {
        for directive in directives {
            switch directive {
            case .send(let envelope, let to): sent.append((envelope, to))
            case .schedule(let timer, let delay): timers[timer] = delay
            case .complete(let id, let result): completions.append((id, result))
            case .leadership(let leading, _): leadership.append(leading)
            case .assigned(let list, let proposal): assignments.append((list, proposal))
            }
        }
    }

    mutating func append(_ texts: [String], id: UInt64) {
        apply(coordinator.append(texts.map { ByteBuffer(string: $0) }, id: OperationID(id)))
    }

    mutating func respond(_ message: Message, from replica: NodeID, to id: UInt64, session: UInt64 = 1) {
        apply(coordinator.receive(Incoming(.response(message, to: id), from: replica, session: session)))
    }

    mutating func takeSent() -> [(envelope: Envelope, to: NodeID)] {
        defer { sent = [] }
        return sent
    }

    func delay(_ kind: CoordinatorTimer.Kind) -> Duration? {
        timers.filter { $0.key.kind == kind }.max { $0.key.generation < $1.key.generation }?.value
    }

    mutating func fire(_ kind: CoordinatorTimer.Kind) {
        guard let timer = timers.keys.filter({ $0.kind == kind }).max(by: { $0.generation < $1.generation }) else {
            return
        }
        timers[timer] = nil
        apply(coordinator.timerFired(timer))
    }

    /// Promise requests just sent: (request, replica, request id).
    mutating func takePromises() -> [(request: PromiseRequest, to: NodeID, id: UInt64)] {
        takeSent().compactMap { sent in
            guard case .promiseRequest(let request) = sent.envelope.message else { return nil }
            return (request, sent.to, sent.envelope.requestID)
        }
    }

    /// Write requests just sent: (request, replica, request id).
    mutating func takeWrites() -> [(request: WriteRequest, to: NodeID, id: UInt64)] {
        takeSent().compactMap { sent in
            guard case .writeRequest(let request) = sent.envelope.message else { return nil }
            return (request, sent.to, sent.envelope.requestID)
        }
    }

    /// Answers the pending election with ACCEPTs from replicas 1 and 2 reporting `ends`.
    mutating func winElection(ends: [Position] = [0, 0]) -> Proposal? {
        let promises = takePromises()
        guard let first = promises.first, first.request.position == nil else { return nil }
        for (index, end) in ends.enumerated() {
            let response = PromiseResponse(result: .accept, proposal: first.request.proposal, position: end)
            respond(.promiseResponse(response), from: Self.replicas[index], to: first.id)
        }
        return first.request.proposal
    }

    /// Acknowledges a write request (by its id) from the given replicas.
    mutating func acknowledge(_ write: WriteRequest, id: UInt64, from replicas: [NodeID], session: UInt64 = 1) {
        for replica in replicas {
            let response = WriteResponse(
                result: .accept,
                proposal: write.proposal,
                position: write.position,
                count: UInt32(write.values.count)
            )
            respond(.writeResponse(response), from: replica, to: id, session: session)
        }
    }
}
