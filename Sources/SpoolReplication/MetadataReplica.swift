import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolStorage

/// This broker's replica of the cluster's metadata group (`RaftGroupID.metadata`, every broker a
/// voter): a `ReplicaDriver` whose entries are `MetadataCommand`s (kind `.configuration`) and
/// whose state machine is `ClusterMetadata`. Every broker applies the same committed commands in
/// the same order, so every broker holds the same brokers, topics and placement (docs/cluster.md).
///
/// A command is proposed with a request id (this node and a counter) in front of its encoding,
/// so the broker that proposed it hears the outcome its own apply computed (`propose`), and the
/// others apply it alike. The state is rebuilt at open from the committed entries in the file:
/// unlike a partition, whose records are its state and are written with their entries, the
/// metadata is applied in memory, so a restart reads its log again (small: a command per CREATE,
/// DROP and broker start).
public final class MetadataReplica: Sendable {
    public let driver: ReplicaDriver
    private let node: NodeID
    private let state: NIOLockedValueBox<State>

    private struct State {
        var metadata: ClusterMetadata
        var nextSequence: UInt64 = 0
        var waiting: [UInt64: @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void] = [:]
    }

    private init(driver: ReplicaDriver, node: NodeID, state: NIOLockedValueBox<State>) {
        self.driver = driver
        self.node = node
        self.state = state
    }

    /// Opens the metadata group's log in the broker database at `path` (created and migrated if
    /// needed; `raft_log` and `raft_state` of the broker schema) on a storage thread of `pool`,
    /// rebuilds the metadata from its committed entries, and starts the replica. Register
    /// `driver` with the broker's `ReplicaRouter`.
    public static func open(
        path: String, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker, sender: any RaftMessageSender,
        limits: SpoolLimits = SpoolLimits()
    ) async throws -> MetadataReplica {
        let state = NIOLockedValueBox(State(metadata: ClusterMetadata(voters: config.raft.voters)))
        let node = config.raft.id
        let onApply: ReplicaApply = { entries, _ in Self.applyCommitted(entries, state: state, node: node, limits: limits) }
        let driver = try await pool.runIfActive { () throws -> ReplicaDriver in
            let store = try RaftLogStore.openMetadata(path: path, voters: config.raft.voters)
            // The committed entries, applied before the node runs (it will not hand them again).
            let commit = store.hardState().commit
            if commit >= store.firstIndex() {
                let entries = try store.entries(from: store.firstIndex(), upTo: commit + 1, maxBytes: .max)
                state.withLockedValue { state in
                    for entry in entries { Self.apply(entry, to: &state.metadata, limits: limits) }
                }
            }
            do {
                return try ReplicaDriver.openNow(
                    store: store, group: .metadata, config: config, pool: pool, ticker: ticker, sender: sender, onApply: onApply)
            } catch {
                store.connection.close()
                throw error
            }
        }
        return MetadataReplica(driver: driver, node: node, state: state)
    }

    /// The metadata as this broker has applied it.
    public var metadata: ClusterMetadata { state.withLockedValue { $0.metadata } }

    /// Proposes `command` and returns its outcome once this broker has applied it (committed by
    /// a majority). Fails with `notLeader` on a broker that does not lead the group (the caller
    /// forwards to the leader), or the other `ReplicaError`s.
    public func propose(_ command: MetadataCommand) async throws(ReplicaError) -> ClusterMetadata.Outcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ClusterMetadata.Outcome, ReplicaError>, Never>) in
            let once = NIOLockedValueBox<CheckedContinuation<Result<ClusterMetadata.Outcome, ReplicaError>, Never>?>(continuation)
            let finish: @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void = { result in
                once.withLockedValue { $0.take() }?.resume(returning: result)
            }
            let sequence = state.withLockedValue { state -> UInt64 in
                state.nextSequence += 1
                state.waiting[state.nextSequence] = finish
                return state.nextSequence
            }
            var payload: [UInt8] = []
            withUnsafeBytes(of: node.rawValue.bigEndian) { payload.append(contentsOf: $0) }
            withUnsafeBytes(of: sequence.bigEndian) { payload.append(contentsOf: $0) }
            payload.append(contentsOf: command.payload)
            driver.propose(entry: .configuration, payload: payload) { [state] event in
                guard case .failed(let error) = event else { return }
                state.withLockedValue { $0.waiting.removeValue(forKey: sequence) }?(.failure(error))
            }
        }
        return try result.get()
    }

    // MARK: Apply

    /// The driver committed `entries` (storage thread): applied, and each proposer of this broker told.
    private static func applyCommitted(_ entries: [Entry], state: NIOLockedValueBox<State>, node: NodeID, limits: SpoolLimits) {
        var told: [(ClusterMetadata.Outcome, @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void)] = []
        state.withLockedValue { state in
            for entry in entries where entry.index > state.metadata.appliedIndex {
                guard let (_, outcome, requester) = Self.apply(entry, to: &state.metadata, limits: limits), requester.node == node,
                    let waiter = state.waiting.removeValue(forKey: requester.sequence)
                else { continue }
                told.append((outcome, waiter))
            }
        }
        for (outcome, waiter) in told { waiter(.success(outcome)) }
    }

    /// Applies one committed entry: a command (returned with its outcome and requester), or any
    /// other kind skipped. A command this build cannot read stops the process: brokers must
    /// never hold different metadata.
    @discardableResult
    private static func apply(
        _ entry: Entry, to metadata: inout ClusterMetadata, limits: SpoolLimits
    ) -> (MetadataCommand, ClusterMetadata.Outcome, (node: NodeID, sequence: UInt64))? {
        guard entry.kind == .configuration else {
            metadata.skip(entry.index)
            return nil
        }
        let payload = entry.payload
        guard payload.count > 16, let command = MetadataCommand(payload: Array(payload[16...]), limits: limits) else {
            preconditionFailure("metadata entry \(entry.index) is not a command this build can read")
        }
        let node = payload[0 ..< 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let sequence = payload[8 ..< 16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let outcome = metadata.apply(command, at: entry.index)
        return (command, outcome, (NodeID(node), sequence))
    }
}
