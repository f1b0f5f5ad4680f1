import NIOCore
import NIOPosix
import Synchronization

/// A fault a proxy puts on the connections through it.
public enum NetworkFault: Sendable, Equatable {
    /// Bytes pass unchanged.
    case none
    /// Every connection is cut and new ones are closed as they come: nothing reaches the target. (What
    /// the target sends over connections it opened itself still goes out: the member is deaf, not mute.)
    case partition
    /// Every chunk of bytes is held back this long before it is passed on.
    case delay(Duration)
}

/// A TCP proxy in front of one port that can cut or slow what passes through it: members advertise
/// their proxy's address, so every message to a member crosses its proxy.
public final class FaultProxy: Sendable {
    /// The port clients of the proxy connect to.
    public let port: Int
    private let channel: any Channel
    private let state: ProxyState

    private init(port: Int, channel: any Channel, state: ProxyState) {
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// A proxy on a free loopback port, forwarding to `targetPort` on loopback.
    public static func start(targetPort: Int) async throws -> FaultProxy {
        let state = ProxyState()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                guard state.fault != .partition else { return inbound.close() }
                let toTarget = Partner()
                return inbound.pipeline.addHandler(Forwarder(state: state, partner: toTarget)).flatMap {
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelInitializer { outbound in
                            let toInbound = Partner()
                            toInbound.set(inbound)
                            return outbound.pipeline.addHandler(Forwarder(state: state, partner: toInbound))
                        }
                        .connect(host: "127.0.0.1", port: targetPort)
                }.flatMap { outbound in
                    toTarget.set(outbound)
                    state.track(inbound)
                    state.track(outbound)
                    return inbound.setOption(.autoRead, value: true)
                }.flatMapErrorThrowing { error in
                    inbound.close(promise: nil)
                    throw error
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FaultProxy(port: channel.localAddress?.port ?? 0, channel: channel, state: state)
    }

    /// The fault now in force; setting `.partition` cuts every open connection.
    public var fault: NetworkFault {
        get { state.fault }
        set {
            state.fault = newValue
            if newValue == .partition { state.cutAll() }
        }
    }

    /// Stops accepting and cuts every connection.
    public func stop() async {
        try? await channel.close()
        state.cutAll()
    }
}

/// The proxy's fault and open connections, shared by its handlers on every event loop.
final class ProxyState: Sendable {
    private let current = Mutex<NetworkFault>(.none)
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    var fault: NetworkFault {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        open.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: id) } }
    }

    func cutAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// The other side of a proxied connection, set once it is connected.
final class Partner: Sendable {
    private let channel = Mutex<(any Channel)?>(nil)
    func set(_ partner: any Channel) { channel.withLock { $0 = partner } }
    var value: (any Channel)? { channel.withLock { $0 } }
}

/// Passes what one side reads to the other side, under the proxy's fault; closing one side closes
/// the other.
final class Forwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let state: ProxyState
    private let partner: Partner
    /// When the last chunk read goes out: later chunks never go earlier, so a delay that starts or
    /// ends mid-stream keeps the bytes in order, as TCP does.
    private let releaseAt = Mutex<NIODeadline>(.uptimeNanoseconds(0))

    init(state: ProxyState, partner: Partner) {
        self.state = state
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let partner = partner.value else { return }
        let now = NIODeadline.now()
        let earliest: NIODeadline
        switch state.fault {
        case .none:
            earliest = now
        case .partition:
            context.close(promise: nil)
            return
        case .delay(let delay):
            earliest = now + .nanoseconds(delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        }
        let release = releaseAt.withLock { last in
            last = max(last, earliest)
            return last
        }
        if release <= now {
            partner.writeAndFlush(bytes, promise: nil)
        } else {
            context.eventLoop.scheduleTask(deadline: release) { partner.writeAndFlush(bytes, promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.value?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
