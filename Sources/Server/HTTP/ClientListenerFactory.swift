import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix

/// Binds a client URL and prepares each accepted connection for both protocols etcd serves there:
/// the gRPC HTTP/2 pipeline, behind a `ProtocolSniffer` that hands HTTP/1.1 connections to
/// `HTTPEndpoints` instead.
struct ClientListenerFactory: HTTP2ServerTransport.ListenerFactory {
    let address: NIOCore.SocketAddress
    let endpoints: HTTPEndpoints
    let eventLoopGroup: any EventLoopGroup

    func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let endpoints = self.endpoints
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
            .bind(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sniffer = ProtocolSniffer { [HTTPEndpointHandler(endpoints: endpoints)] }
                    try channel.pipeline.syncOperations.addHandler(sniffer)
                }.flatMap {
                    connectionConfigurator.configure(channel: channel, tls: .none)
                }
            }
    }
}
