import NIOCore
import ReplogModel
import ReplogWire

/// One golden vector: a file name under `Protocol/vectors/` and the envelope it encodes.
struct Sample {
    var name: String
    var envelope: Envelope
}

enum Samples {
    static let cluster = ClusterID(high: 0x0f1e_2d3c_4b5a_6978, low: 0x8796_a5b4_c3d2_e1f0)

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static let learnedAppend = Action.learned(.append(bytes("hello")), at: 7, proposal: 3)
    static let promisedOnly = Action(position: 9, promised: 4)
    static let performedNop = Action(position: 8, promised: 5, performed: 4, value: .nop(tombstone: false))

    /// Every message type at least once, with the variants of its optional parts.
    static let all: [Sample] = base + backupSamples + recovery

    static let base: [Sample] = [
        Sample(
            name: "hello",
            envelope: .request(
                .hello(
                    Hello(minVersion: 1, maxVersion: 1, clusterID: cluster, role: .coordinator, nodeID: "c1")
                ),
                id: 1
            )
        ),
        Sample(
            name: "hello_ack",
            envelope: .response(
                .helloAck(
                    HelloAck(version: 1, clusterID: cluster, role: .replica, nodeID: "r2", maxFrameSize: 1 << 20)
                ),
                to: 1
            )
        ),
        Sample(
            name: "error_not_leader",
            envelope: .response(
                .error(
                    ErrorReply(
                        code: .notLeader,
                        hint: "127.0.0.1:7101",
                        text: "this coordinator does not lead; the leader is c2"
                    )
                ),
                to: 42
            )
        ),
        Sample(
            name: "error_truncated",
            envelope: .response(
                .error(ErrorReply(code: .truncated, value: 1000, text: "positions below 1000 were truncated")),
                to: 43
            )
        ),
        Sample(name: "ping", envelope: .request(.ping(Ping(nonce: 0xdead_beef)), id: 5)),
        Sample(name: "pong", envelope: .response(.pong(Ping(nonce: 0xdead_beef)), to: 5)),
        Sample(
            name: "promise_request_implicit",
            envelope: .request(.promiseRequest(PromiseRequest(proposal: 3)), id: 10)
        ),
        Sample(
            name: "promise_request_explicit",
            envelope: .request(.promiseRequest(PromiseRequest(proposal: 4, position: 9)), id: 11)
        ),
        Sample(
            name: "promise_response_accept_implicit",
            envelope: .response(.promiseResponse(PromiseResponse(result: .accept, proposal: 3, position: 120)), to: 10)
        ),
        Sample(
            name: "promise_response_accept_action",
            envelope: .response(
                .promiseResponse(PromiseResponse(result: .accept, proposal: 4, position: 7, action: learnedAppend)),
                to: 11
            )
        ),
        Sample(
            name: "promise_response_accept_promised_only",
            envelope: .response(
                .promiseResponse(PromiseResponse(result: .accept, proposal: 4, position: 9, action: promisedOnly)),
                to: 12
            )
        ),
        Sample(
            name: "promise_response_reject",
            envelope: .response(.promiseResponse(PromiseResponse(result: .reject, proposal: 17, position: 0)), to: 13)
        ),
        Sample(
            name: "promise_response_ignored",
            envelope: .response(.promiseResponse(PromiseResponse(result: .ignored, proposal: 0, position: 0)), to: 14)
        ),
        Sample(
            name: "write_request_batch",
            envelope: .request(
                .writeRequest(
                    WriteRequest(
                        proposal: 3,
                        position: 121,
                        values: [.append(bytes("a")), .append(bytes("bc")), .nop(tombstone: false), .truncate(to: 100)]
                    )
                ),
                id: 20
            )
        ),
        Sample(
            name: "write_request_with_chosen",
            envelope: .request(
                .writeRequest(
                    WriteRequest(
                        proposal: 3,
                        position: 125,
                        values: [.append(bytes("d"))],
                        chosen: LearnedRange(proposal: 3, position: 121, count: 4)
                    )
                ),
                id: 22
            )
        ),
        Sample(
            name: "write_request_learned_tombstone",
            envelope: .request(
                .writeRequest(WriteRequest(proposal: 5, position: 2, learned: true, values: [.nop(tombstone: true)])),
                id: 21
            )
        ),
        Sample(
            name: "write_response_accept",
            envelope: .response(
                .writeResponse(WriteResponse(result: .accept, proposal: 3, position: 121, count: 4)),
                to: 20
            )
        ),
        Sample(
            name: "write_response_reject",
            envelope: .response(
                .writeResponse(WriteResponse(result: .reject, proposal: 9, position: 121, count: 4)),
                to: 22
            )
        ),
        Sample(
            name: "learned",
            envelope: .request(
                .learned(
                    Learned(actions: [
                        learnedAppend, Action.learned(.truncate(to: 5), at: 8, proposal: 3),
                        Action.learned(.nop(tombstone: true), at: 2, proposal: 6),
                    ])
                ),
                id: 0
            )
        ),
        Sample(
            name: "learned_range",
            envelope: .request(.learnedRange(LearnedRange(proposal: 3, position: 121, count: 4)), id: 0)
        ),
        Sample(name: "recover_request", envelope: .request(.recoverRequest(RecoverRequest()), id: 30)),
        Sample(
            name: "recover_response_voting",
            envelope: .response(.recoverResponse(RecoverResponse(status: .voting, range: 5...125)), to: 30)
        ),
        Sample(
            name: "recover_response_empty",
            envelope: .response(.recoverResponse(RecoverResponse(status: .empty)), to: 31)
        ),
        Sample(
            name: "catchup_request",
            envelope: .request(.catchupRequest(CatchupRequest(from: 1, to: 125, maxBytes: 4 << 20)), id: 40)
        ),
        Sample(
            name: "catchup_response",
            envelope: .response(
                .catchupResponse(
                    CatchupResponse(
                        begin: 5,
                        end: 125,
                        next: 9,
                        actions: [
                            Action.learned(.nop(tombstone: true), at: 1, proposal: 3), learnedAppend,
                            Action.learned(.truncate(to: 5), at: 8, proposal: 3),
                        ]
                    )
                ),
                to: 40
            )
        ),
        Sample(
            name: "append_request",
            envelope: .request(
                .appendRequest(
                    AppendRequest(
                        token: AppendToken(client: 0x1234_5678_9abc_def0, sequence: 77),
                        entries: [bytes("first entry"), ByteBuffer(bytes: [0x00, 0xff, 0x10]), ByteBuffer()]
                    )
                ),
                id: 50
            )
        ),
        Sample(
            name: "append_response",
            envelope: .response(.appendResponse(AppendResponse(position: 126, count: 3)), to: 50)
        ),
        Sample(
            name: "read_request",
            envelope: .request(
                .readRequest(ReadRequest(from: 1, to: UInt64.max, maxEntries: 1000, maxBytes: 8 << 20)),
                id: 51
            )
        ),
        Sample(
            name: "read_response",
            envelope: .response(
                .readResponse(
                    ReadResponse(
                        entries: [
                            Entry(position: 7, bytes: bytes("hello")),
                            Entry(position: 126, bytes: bytes("first entry")),
                        ],
                        next: 127,
                        end: 128
                    )
                ),
                to: 51
            )
        ),
        Sample(name: "truncate_request", envelope: .request(.truncateRequest(TruncateRequest(to: 100)), id: 52)),
        Sample(
            name: "truncate_response",
            envelope: .response(.truncateResponse(TruncateResponse(position: 129)), to: 52)
        ),
        Sample(name: "positions_request", envelope: .request(.positionsRequest, id: 53)),
        Sample(
            name: "positions_response",
            envelope: .response(.positionsResponse(PositionsResponse(begin: 100, end: 129)), to: 53)
        ),
        Sample(name: "leader_request", envelope: .request(.leaderRequest, id: 54)),
        Sample(
            name: "leader_response",
            envelope: .response(
                .leaderResponse(LeaderResponse(leaderID: "c1", leaderAddress: "127.0.0.1:7101", proposal: 3)),
                to: 54
            )
        ),
        Sample(
            name: "leader_response_unknown",
            envelope: .response(.leaderResponse(LeaderResponse(leaderID: "", leaderAddress: "", proposal: 0)), to: 55)
        ),
        Sample(name: "status_request", envelope: .request(.statusRequest, id: 56)),
        Sample(
            name: "status_response",
            envelope: .response(
                .statusResponse(
                    StatusResponse(
                        clusterID: cluster,
                        leader: LeaderResponse(leaderID: "c1", leaderAddress: "127.0.0.1:7101", proposal: 3),
                        replicas: [
                            ReplicaInfo(
                                id: "r1",
                                address: "127.0.0.1:7001",
                                reachable: true,
                                status: .voting,
                                begin: 100,
                                end: 129,
                                damaged: [117],
                                problem: "damaged position 117 is not served"
                            ),
                            ReplicaInfo(
                                id: "r2",
                                address: "127.0.0.1:7002",
                                reachable: false,
                                status: .recovering,
                                begin: 0,
                                end: 0
                            ),
                        ]
                    )
                ),
                to: 56
            )
        ),
        Sample(
            name: "leader_progress",
            envelope: .request(
                .leaderProgress(
                    LeaderProgress(
                        proposal: 0x0265,
                        learnedThrough: 1200,
                        assignments: [
                            TokenAssignment(
                                token: AppendToken(client: 0xC11E, sequence: 7),
                                position: 1201,
                                count: 1
                            ),
                            TokenAssignment(
                                token: AppendToken(client: 0xC22E, sequence: 3),
                                position: 1202,
                                count: 4
                            ),
                        ]
                    )
                ),
                id: 0
            )
        ),
        Sample(
            name: "leader_progress_heartbeat",
            envelope: .request(
                .leaderProgress(LeaderProgress(proposal: 0x0265, learnedThrough: 1206, assignments: [])),
                id: 0
            )
        ),
    ]
}
