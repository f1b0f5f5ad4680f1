/// The peer network as the node loop and the applier use it: the real `PeerTransport`, or the
/// simulation's network.
package protocol PeerLinks: Sendable {
    /// Queues `payload` for `peer` on `channel`; false if it cannot be queued now (unknown peer, full
    /// queue): the payload is dropped, as a lossy network would drop it.
    func send(_ payload: [UInt8], to peer: UInt64, on channel: PeerChannel) -> Bool
    /// Adds (or moves) a peer.
    func addPeer(_ id: UInt64, host: String, port: Int)
    /// Forgets a peer.
    func removePeer(_ id: UInt64)
    /// Closes the inbound connection numbered `connection` (as the transport numbered it for its handler).
    func closeInbound(connection: UInt64)
}

extension PeerTransport: PeerLinks {}
